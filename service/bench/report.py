"""The suite's report: targets judged, a rich table, JSON, a PNG chart and docs/benchmarks.md.

Everything here reads the plain result dict `suite.run` returns, so it can be checked on a
made-up one.
"""

import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.table import Table

from service.bench.latency import WINDOW_SECONDS

# The targets.
WORKER_SHARE_OF_CORE = 0.60
CORE_SPEEDUP = 10.0
P99_SECONDS = 1.0
RSS_GROWTH_MB = 100.0
PACKAGES = ("faust-streaming", "aiokafka", "numba", "numpy", "orjson", "pydantic", "datasketch", "flashtext")


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and kernel of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb,
            "kernel": f"{platform.system()} {platform.release()}"}


def versions(kafka: str) -> dict[str, str]:
    """Python, Kafka and the libraries whose speed the numbers depend on."""
    found = {"python": platform.python_version(), "kafka": kafka}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue: what it asks, what was measured, PASS/FAIL (None: not measured)."""
    core, ref = result["core"]["core"], result["core"]["reference"]
    worker, latency = result["worker"], result["latency"]
    share = worker["articles_per_second"] / core["articles_per_second"]
    cpu = worker.get("cpu_ms_per_article")
    # Worker first, as in the rate before it.
    cpu_note = (f"; CPU per article {cpu:.2f} ms vs the core's {1000 / core['articles_per_second']:.2f} ms"
                if cpu else "")
    stages = result["core"].get("stages")
    if stages:
        # The stock libraries stand in for dedup and tagging only; validation, normalisation,
        # rules and alerts are the same code in both pipelines (see the Method section).
        speedup = stages["speedup"]
        speedup_text = (f"{speedup:.1f}x on dedup + tagging ({stages['core']['articles_per_second']:,.0f} vs "
                        f"{stages['reference']['articles_per_second']:,.0f}/s); whole pipeline "
                        f"{result['core']['speedup']:.1f}x ({core['articles_per_second']:,.0f} vs "
                        f"{ref['articles_per_second']:,.0f}/s)")
    else:
        speedup = result["core"]["speedup"]
        speedup_text = f"{speedup:.1f}x ({core['articles_per_second']:,.0f} vs {ref['articles_per_second']:,.0f}/s)"
    rows = [
        {"target": f"full worker >= {WORKER_SHARE_OF_CORE:.0%} of the core's articles/s",
         "measured": f"{share:.0%} ({worker['articles_per_second']:,.0f} vs {core['articles_per_second']:,.0f}/s{cpu_note})",
         "pass": share >= WORKER_SHARE_OF_CORE},
        {"target": f"core >= {CORE_SPEEDUP:.0f}x the stock-library reference",
         "measured": speedup_text,
         "pass": speedup >= CORE_SPEEDUP},
        {"target": "dedup F1 >= the reference's",
         "measured": f"{core['dedup']['f1']:.4f} vs {ref['dedup']['f1']:.4f}",
         "pass": core["dedup"]["f1"] >= ref["dedup"]["f1"]},
    ]
    if core["tagging"] is not None and ref["tagging"] is not None:
        rows.append({"target": "tagging F1 (gold labels) >= the reference's",
                     "measured": f"{core['tagging']['f1']:.4f} vs {ref['tagging']['f1']:.4f}",
                     "pass": core["tagging"]["f1"] >= ref["tagging"]["f1"]})
    else:
        rows.append({"target": "tagging F1 (gold labels) >= the reference's",
                     "measured": "gold-labelled articles not present", "pass": None})
    if "p99" in latency:
        rows.append({"target": f"p99 end-to-end latency <= {P99_SECONDS:g} s at 50% load",
                     "measured": f"{latency['p99']:.3f} s at {latency['rate']:,.0f}/s",
                     "pass": latency["p99"] <= P99_SECONDS and latency["received"] >= latency["sent"]})
    else:
        rows.append({"target": f"p99 end-to-end latency <= {P99_SECONDS:g} s at 50% load",
                     "measured": "no outcome received", "pass": False})
    low, high = sorted(worker["rss_mb"], key=int)
    growth = worker["rss_mb"][high] - worker["rss_mb"][low]
    rows.append({"target": f"worker RSS growth <= {RSS_GROWTH_MB:.0f} MB from {int(low):,} to {int(high):,} articles"
                           + (" (scaled down: --quick)" if result["quick"] else ""),
                 "measured": f"{growth:+.0f} MB ({worker['rss_mb'][low]:.0f} -> {worker['rss_mb'][high]:.0f} MB)",
                 "pass": growth <= RSS_GROWTH_MB})
    return rows


def throughput_rows(result: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(what, articles/s, how it was measured) for each throughput the suite took."""
    core = result["core"]
    rows = [
        ("core pipeline, tight loop", core["core"]["articles_per_second"],
         f"{core['messages']:,} messages, one thread, median of {core['rounds']} rounds"),
        ("stock libraries (datasketch + flashtext)", core["reference"]["articles_per_second"],
         f"same messages and rounds; MinHashLSH threshold {core['datasketch_threshold']}"),
        ("full worker, drain", result["worker"]["articles_per_second"],
         f"{result['worker']['articles']:,} pre-loaded messages, one worker, real broker"),
        ("aiokafka passthrough", result["passthrough"]["articles_per_second"],
         f"same {result['passthrough']['messages']:,} messages, consume -> produce, one hop"),
        *([("Faust hop", result["faust_hop"]["articles_per_second"],
            f"same {result['faust_hop']['messages']:,} messages through one Faust agent, no parsing or state")]
          if "faust_hop" in result else []),
        ("paced load for latency", result["latency"]["rate"],
         f"50% of the drain rate for {result['latency']['seconds']:.0f} s"),
    ]
    stages = core.get("stages")
    if stages:
        rows += [
            ("core dedup + tagging stages", stages["core"]["articles_per_second"],
             f"the same {stages['articles']:,} articles after validation and normalisation, median of {core['rounds']}"),
            ("datasketch + flashtext, same stages", stages["reference"]["articles_per_second"],
             "MinHash + MinHashLSH and KeywordProcessor on the same articles and rounds, "
             + (f"taking turns with ours every {stages['turn']:,} articles" if "turn" in stages
                else "in whole rounds")),
        ]
    return rows


def tables(result: dict[str, Any]) -> list[Table]:
    """Rich tables: throughput, accuracy and latency, then the targets."""
    throughput = Table(title="Throughput")
    for column in ("measurement", "articles/s", "how"):
        throughput.add_column(column, justify="right" if column == "articles/s" else "left")
    for what, rate, how in throughput_rows(result):
        throughput.add_row(what, f"{rate:,.0f}", how)
    quality = Table(title="Accuracy (generated stories; gold-labelled real articles)")
    for column in ("pipeline", "dedup P", "dedup R", "dedup F1", "tagging P", "tagging R", "tagging F1"):
        quality.add_column(column)
    for name in ("core", "reference"):
        row = result["core"][name]
        tagging = row["tagging"] or {}
        quality.add_row(name, *(f"{row['dedup'][k]:.4f}" for k in ("precision", "recall", "f1")),
                        *(f"{tagging[k]:.4f}" if k in tagging else "n/a" for k in ("precision", "recall", "f1")))
    latency = result["latency"]
    lat = Table(title=f"End-to-end latency at {latency['rate']:,.0f} articles/s")
    for column in ("sent", "received", "p50 s", "p95 s", "p99 s", "max s"):
        lat.add_column(column, justify="right")
    lat.add_row(f"{latency['sent']:,}", f"{latency['received']:,}",
                *(f"{latency[k]:.3f}" if k in latency else "n/a" for k in ("p50", "p95", "p99", "max")))
    profiled = result.get("profile") or {}
    extra = []
    if profiled.get("categories"):
        shares = Table(title=f"Where the worker's CPU goes (py-spy, {profiled['samples']:,} samples)")
        shares.add_column("share", justify="right")
        shares.add_column("category")
        for name, share in profiled["categories"].items():
            shares.add_row(f"{share:.1%}", name)
        extra.append(shares)
    verdicts = Table(title="Targets")
    for column in ("target", "measured", "result"):
        verdicts.add_column(column)
    for row in targets(result):
        verdicts.add_row(row["target"], row["measured"], _verdict(row["pass"]))
    return [throughput, quality, lat, *extra, verdicts]


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """A result written by `write_json`; ValueError if it is not one."""
    result = json.loads(path.read_text())
    missing = [key for key in ("core", "worker", "latency", "passthrough") if key not in result]
    if not isinstance(result, dict) or missing:
        raise ValueError(f"not a suite result (missing {', '.join(missing)})")
    return result


def write_chart(result: dict[str, Any], path: Path) -> None:
    """Throughput bars, latency percentiles against the target, RSS against articles processed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.8))
    hop = "faust_hop" in result
    rows = throughput_rows(result)[:5 if hop else 4]
    labels = ["core loop", "datasketch+\nflashtext", "full worker", "aiokafka\npassthrough", *(["Faust\nhop"] if hop else [])]
    colors = ["#2b6cb0", "#a0aec0", "#dd6b20", "#38a169", *(["#68d391"] if hop else [])]
    bars = left.bar(labels, [rate for _, rate, _ in rows], color=colors)
    left.bar_label(bars, fmt="{:,.0f}")
    left.set_title("Throughput (articles/s)")
    left.tick_params(axis="x", labelsize=8)

    latency = result["latency"]
    names = ["p50", "p95", "p99"]
    values = [latency.get(n, 0.0) for n in names]
    bars = middle.bar(names, values, color="#dd6b20")
    middle.bar_label(bars, fmt="{:.3f}")
    middle.axhline(P99_SECONDS, color="#c53030", linestyle="--", label=f"p99 target {P99_SECONDS:g} s")
    middle.set_title(f"End-to-end latency (s) at {latency['rate']:,.0f}/s")
    middle.legend(loc="upper left")

    timeline = result["worker"]["timeline"]
    right.plot([done for _, done, _ in timeline], [rss for _, _, rss in timeline], color="#2b6cb0")
    for at, rss in result["worker"]["rss_mb"].items():
        right.plot([int(at)], [rss], "o", color="#c53030")
        right.annotate(f"{rss:.0f} MB", (int(at), rss), textcoords="offset points", xytext=(-50, 8))
    right.set_title("Worker RSS (MB) while draining")
    right.set_xlabel("outcomes published")
    fig.suptitle(("Quick run: " if result["quick"] else "") + f"newsflow bench, {result['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def _turn_lines(stages: dict[str, Any]) -> list[str]:
    """How the stage comparison paced the two sides: a run from before turns has no "turn"."""
    if "turn" not in stages:
        return ["  The two sides ran in whole rounds, one after the other."]
    return [f"  Within a round the two sides take turns every {stages['turn']:,} articles, each with its own",
            "  index, so that both see the same drift in the machine's speed."]


def markdown(result: dict[str, Any], chart: str) -> str:
    """docs/benchmarks.md: machine, versions, commands, the tables, the targets and the chart."""
    m, v, config = result["machine"], result["versions"], result["config"]
    core = result["core"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{result['command']}` on {result['started']} in {result['seconds']:.0f} s"
        + (" (a `--quick` run: smaller, scaled-down numbers)." if result["quick"] else ".")
        + " Steps: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result["phases"].items()) + ".",
        "Do not edit by hand: run the command again.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']} GB; kernel {m['kernel']}",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Broker: {result['broker']}; {config['partitions']} partitions per topic",
        "",
        "## Commands",
        "",
        f"- `{result['command']}`: everything below, in one run and one process tree",
        "- `newsflow bench dedup`, `newsflow bench tagging`, `newsflow bench rules`: each stage against its",
        "  reference in more detail; `newsflow bench chaos`: losses under worker kills and broker restarts",
        "",
        "## Targets",
        "",
        *_md_table(["target", "measured", "result"],
                   [[r["target"], r["measured"], f"**{_verdict(r['pass'])}**"] for r in targets(result)]),
        "",
        "## Throughput",
        "",
        *_md_table(["measurement", "articles/s", "how"],
                   [[what, f"{rate:,.0f}", how] for what, rate, how in throughput_rows(result)]),
        "",
        f"![throughput, latency and worker memory]({chart})",
        "",
        "## Accuracy",
        "",
        f"Dedup: pair precision/recall against the generator's stories on the {core['messages']:,} messages "
        f"({config['dup_rate']:.0%} reprints, {config['invalid_rate']:.0%} invalid, seed {config['seed']}). "
        "Tagging: micro precision/recall on the gold-labelled real articles.",
        "",
        *_md_table(["pipeline", "dedup P", "dedup R", "dedup F1", "tagging P", "tagging R", "tagging F1"],
                   [[name, *(f"{core[name]['dedup'][k]:.4f}" for k in ("precision", "recall", "f1")),
                     *(f"{(core[name]['tagging'] or {}).get(k, float('nan')):.4f}" for k in ("precision", "recall", "f1"))]
                    for name in ("core", "reference")]),
        "",
        "## Worker",
        "",
        *_worker_lines(result),
        "",
        *_profile_lines(result.get("profile")),
        "## Method",
        "",
        "- Every message comes from `newsflow generate` (service/generate.py): originals of varied length",
        "  built from the seed articles with knowledge-base entities, reprints with syndication edits,",
        "  and invalid messages.",
        "- Core loop: `service.core.loop.Pipeline.process`, the core calls both agents make for one",
        "  message (validate, normalise, fingerprint, tag, match rules, dedup decision, alert decision,",
        "  outcome encoding), without the hop through the dedup request topic. The reference runs the",
        "  same validation, normalisation, rules and alert decisions with datasketch MinHash +",
        "  MinHashLSH (threshold tuned for F1 on a separate generated set) and flashtext in place of",
        "  our dedup and tagger. Rounds alternate between the two; each is warmed up first.",
        "- Core against the stock libraries: the libraries stand in for two stages, dedup and tagging,",
        "  so the target is judged on those stages alone: the same validated, normalised articles",
        "  through our fingerprint + `DedupIndex` + tagger, and through datasketch MinHash +",
        "  MinHashLSH + flashtext. The whole-pipeline ratio is shown beside it: there, validation,",
        "  normalisation, rule matching and alert decisions are the same code on both sides.",
        *_turn_lines(core.get("stages", {})),
        "- Worker CPU per article: the worker process's user + system CPU seconds (/proc) between",
        "  the first and the last poll that saw outcomes, over the outcomes in between. Unlike",
        "  articles/s it does not depend on how much of a core the broker and other processes left.",
        "  The same, by quarter of the drain, from the first poll at or past each quarter's start",
        "  to the first at or past its end: how an article's cost grows with the worker's state.",
        "- Profile: a second worker, on topics of its own, drains more generated messages while",
        "  py-spy samples it (100 Hz, non-blocking); each sample is filed under the innermost frame",
        "  that belongs to a category (service/bench/profile.py). The timed drain is never sampled.",
        "  The paced load is (full run only): py-spy at 20 Hz on the worker, each sample counted as",
        "  1/20 s of a thread on CPU, divided over the outcomes received.",
        "- Worker drain: the backlog is pushed first, then one worker starts; articles/s run from its",
        "  first outcome to its last, read from the outcome topics' end offsets. RSS is the worker",
        "  process's VmRSS when that many outcomes had been published.",
        "- Passthrough: a new aiokafka consumer group copies the same raw records to a new topic",
        "  with the project's producer settings (acks=all, idempotent), from the first record fetched",
        "  to the last acknowledged.",
        *(["- Faust hop: a child process runs one Faust agent (the worker's Faust options and fixes,",
           "  concurrency 1) that sends each of the same raw records to a new topic unchanged; its rate",
           "  and CPU per record are taken as the worker's drain takes them (service/bench/faust_hop.py)."]
          if "faust_hop" in result else []),
        "- Latency: after the drain, new generated messages are sent at half the drain rate; each",
        "  outcome's latency is the time a reader of the outcome topics received it minus its raw",
        "  record's timestamp.",
    ]
    return "\n".join(lines) + "\n"


def records_per_article(worker: dict[str, Any]) -> dict[str, float]:
    """Records the worker produced per article drained, grouped: outcomes, dedup requests,
    alert events, table changelogs."""
    written, articles = worker.get("records_written") or {}, worker["articles"]
    groups: dict[str, float] = {"outcomes": 0.0, "dedup requests": 0.0, "alert events": 0.0, "table changelogs": 0.0}
    for topic, count in written.items():
        if topic.endswith("-changelog"):
            group = "table changelogs"
        elif topic.endswith("dedup-requests"):
            group = "dedup requests"
        elif topic.endswith("alerts"):
            group = "alert events"
        elif topic.rsplit(".", 1)[-1] in ("enriched", "duplicates", "invalid"):
            group = "outcomes"
        else:
            continue
        groups[group] += count / articles if articles else 0.0
    return groups


def _records_lines(worker: dict[str, Any], passthrough: dict[str, Any]) -> list[str]:
    if not worker.get("records_written"):
        return []
    groups = records_per_article(worker)
    lines = [f"- Records the worker produced per article: {sum(groups.values()):.1f} ("
             + ", ".join(f"{name} {n:.2f}" for name, n in groups.items()) + ")."]
    if passthrough.get("cpu_ms_per_message"):
        lines.append(f"- The aiokafka passthrough spent {passthrough['cpu_ms_per_message']:.3f} ms of CPU per record "
                     "(one consume and one produce, no Faust).")
    return lines


def _hop_lines(result: dict[str, Any]) -> list[str]:
    """What two Faust hops cost against what the worker target leaves beside the core's work."""
    hop = (result.get("faust_hop") or {}).get("cpu_ms_per_message")
    if not hop:
        return []
    core_ms = 1000 / result["core"]["core"]["articles_per_second"]
    # At the target the worker has core_ms / share per article: that minus the core's own work.
    budget = core_ms / WORKER_SHARE_OF_CORE - core_ms
    return [f"- One Faust agent copying the same records (consume -> send, no parsing, no state) spent {hop:.3f} ms "
            f"of CPU per record. An article takes two such hops (raw -> dedup request -> outcome): {2 * hop:.2f} ms, "
            f"{2 * hop / budget:.0%} of the {budget:.2f} ms per article that the "
            f"{WORKER_SHARE_OF_CORE:.0%} target leaves beside the core's {core_ms:.2f} ms, before any state store, "
            "table changelog, alert or metric."]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _worker_lines(result: dict[str, Any]) -> list[str]:
    worker, passthrough = result["worker"], result["passthrough"]
    outcomes = ", ".join(f"{k} {n:,}" for k, n in worker["outcomes"].items())
    stages = ", ".join(f"{k} {ms:.2f} ms ({worker['stage_capacity_per_second'].get(k, 0):,.0f}/s)"
                       for k, ms in worker["stage_mean_ms"].items())
    return [
        f"- Drained {worker['articles']:,} messages in {worker['seconds']:.1f} s after a {worker['startup_seconds']:.1f} s "
        f"start; outcomes: {outcomes}.",
        f"- Worker CPU per article: {_ms(worker.get('cpu_ms_per_article'))}; the core loop's time per article: "
        f"{1000 / result['core']['core']['articles_per_second']:.2f} ms.",
        *_stretch_lines(worker),
        f"- Mean in-agent time per message (includes time other coroutines ran while the agent awaited a send): "
        f"{stages or 'n/a'}.",
        f"- Passthrough moved {passthrough['mb_per_second']:.1f} MB/s; the worker reached "
        f"{worker['articles_per_second'] / passthrough['articles_per_second']:.0%} of its rate.",
        *_records_lines(worker, passthrough),
        *_hop_lines(result),
        "- RSS: " + ", ".join(f"{int(k):,} articles {v:.0f} MB" for k, v in sorted(worker["rss_mb"].items(), key=lambda kv: int(kv[0]))),
        *_latency_window_lines(result.get("latency", {})),
        *_cpu_window_lines(result.get("latency", {})),
        *_paced_profile_lines(result.get("latency", {})),
    ]


def _stretch_lines(worker: dict[str, Any]) -> list[str]:
    stretches = worker.get("cpu_ms_by_stretch")
    if not stretches:
        return []  # runs from before it was measured
    return ["- Worker CPU per article by stretch of the drain (outcomes so far): " + ", ".join(
        f"{s['from']:,.0f}-{s['to']:,.0f} {s['ms_per_article']:.2f} ms" for s in stretches) + "."]


def _latency_window_lines(latency: dict[str, Any]) -> list[str]:
    spans = latency.get("windows")
    if not spans:
        return []
    return ["- Latency by when the article was sent (p50 / max, and in brackets the worker's part, "
            "raw record to outcome record, p50 / max; seconds): " + ", ".join(
                f"{w['from']:.0f}-{w['from'] + WINDOW_SECONDS:.0f} s {w['p50']:.2f} / {w['max']:.2f} "
                f"({w['worker_p50']:.2f}{_worker_max(w)})" for w in spans) + "."]


def _cpu_window_lines(latency: dict[str, Any]) -> list[str]:
    spans = [w for w in latency.get("windows", []) if w.get("cpu")]
    if not spans:
        return []  # runs from before the CPU was sampled
    labels = {"worker": "worker", "broker": "broker", "bench": "this process", "busy": "machine busy",
              "steal": "stolen by the hypervisor"}
    names = [n for n in labels if any(n in w["cpu"] for w in spans)]
    return ["- CPU during the paced load by window, in cores (" + " / ".join(labels[n] for n in names) + "): "
            + ", ".join(f"{w['from']:.0f}-{w['from'] + WINDOW_SECONDS:.0f} s "
                        + " / ".join(f"{w['cpu'][n]:.2f}" if n in w["cpu"] else "n/a" for n in names)
                        for w in spans) + "."]


def _paced_profile_lines(latency: dict[str, Any]) -> list[str]:
    profiled = latency.get("profile")
    if not profiled:
        return []  # --quick, or runs from before it was sampled
    if "error" in profiled:
        return [f"- The worker was not profiled during the paced load: {profiled['error']}."]
    costs = profiled["ms_per_article"]
    return [f"- Worker CPU per article during the paced load by category (py-spy at {profiled['rate']} Hz, "
            f"{profiled['samples']:,} samples, {sum(costs.values()):.2f} ms in all): "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in costs.items()) + "."]


def _worker_max(window: dict[str, Any]) -> str:
    # Runs before the worker's max was recorded have only its p50.
    return f" / {window['worker_max']:.2f}" if "worker_max" in window else ""


def _profile_lines(profiled: dict[str, Any] | None) -> list[str]:
    if not profiled:
        return []
    if "error" in profiled:
        return ["## Where the worker's CPU goes", "", f"Not profiled: {profiled['error']}.", ""]
    return [
        "## Where the worker's CPU goes",
        "",
        f"py-spy sampled a worker draining {profiled['messages']:,} more generated messages "
        f"({profiled['samples']:,} on-CPU samples; {profiled['articles_per_second']:,.0f} articles/s while sampled).",
        "",
        *_md_table(["share", "category"], [[f"{share:.1%}", name] for name, share in profiled["categories"].items()]),
        "",
        "Functions most often on top of the stack:",
        "",
        *_md_table(["share", "function"], [[f"{share:.1%}", f"`{name}`"] for name, share in profiled["top_functions"]]),
        "",
    ]


def write_docs(result: dict[str, Any], chart_png: Path, docs: Path) -> Path:
    """Copy the chart next to docs/benchmarks.md and write it; returns the markdown's path."""
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chart_png, docs / "benchmarks.png")
    target = docs / "benchmarks.md"
    target.write_text(markdown(result, "benchmarks.png"), encoding="utf-8")
    return target
