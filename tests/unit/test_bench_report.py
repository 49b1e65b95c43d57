"""The suite's report on made-up results: verdicts, tables, markdown, JSON and the PNG."""

import json
from pathlib import Path

import pytest
from rich.console import Console

from service.bench import report


def make_result(**overrides):
    """A result shaped like `suite.run`'s; the numbers are invented, only the formatting is tested."""
    accuracy = {"dedup": {"precision": 1.0, "recall": 0.99, "f1": 0.995},
                "tagging": {"precision": 0.98, "recall": 0.95, "f1": 0.965}, "outcomes": {"enriched": 60}}
    result = {
        "started": "2025-09-01T12:00:00+00:00", "seconds": 150.0, "quick": True, "command": "newsflow bench --quick",
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 24.0, "kernel": "Linux 6.1"},
        "versions": {"python": "3.11.7", "kafka": "4.4.0"},
        "broker": "local, KRaft, one node",
        "config": {"backlog": 20000, "rss_at": [5000, 20000], "core_messages": 2000, "rounds": 3,
                   "latency_seconds": 15, "dup_rate": 0.3, "invalid_rate": 0.05, "seed": 1, "partitions": 4,
                   "load_share": 0.5},
        "core": {"messages": 2000, "rounds": 3, "datasketch_threshold": 0.3, "datasketch_tuning_f1": 0.99,
                 "core": {**accuracy, "articles_per_second": 1000.0, "round_seconds": [2.0]},
                 "reference": {**accuracy, "articles_per_second": 400.0, "round_seconds": [5.0],
                               "dedup": {"precision": 1.0, "recall": 0.97, "f1": 0.985}},
                 "speedup": 2.5},
        "generated": {"original": 13000, "reprint": 6000, "invalid": 1000},
        "passthrough": {"messages": 20000, "seconds": 4.0, "articles_per_second": 5000.0, "mb_per_second": 18.0,
                        "complete": True},
        "worker": {"articles": 20000, "seconds": 25.0, "startup_seconds": 3.0, "articles_per_second": 800.0,
                   "outcomes": {"enriched": 13000, "duplicates": 6000, "invalid": 1000},
                   "stage_mean_ms": {"ingest": 0.8, "dedup": 0.2}, "stage_capacity_per_second": {"ingest": 1250, "dedup": 5000},
                   "rss_mb": {"5000": 210.0, "20000": 260.0},
                   "timeline": [[0.5, 0, 200.0], [10.0, 5000, 210.0], [28.0, 20000, 260.0]]},
        "latency": {"rate": 400.0, "seconds": 15, "sent": 6000, "received": 6000,
                    "p50": 0.05, "p95": 0.2, "p99": 0.4, "max": 0.9},
        "phases": {"core loop and reference": 40.0, "broker start": 8.0, "worker start and drain": 30.0},
    }
    result.update(overrides)
    return result


def test_targets_are_judged_against_the_issue():
    rows = report.targets(make_result())
    assert [row["pass"] for row in rows] == [True, False, True, True, True, True]
    assert "80%" in rows[0]["measured"]
    assert "2.5x" in rows[1]["measured"]
    assert "scaled down" in rows[-1]["target"]
    assert "+50 MB" in rows[-1]["measured"]


@pytest.mark.parametrize("change, index, verdict", [
    ({"latency": {"rate": 400.0, "seconds": 15, "sent": 6000, "received": 6000, "p50": 0.5, "p95": 1.0, "p99": 1.2, "max": 3}}, 4, False),
    ({"latency": {"rate": 400.0, "seconds": 15, "sent": 6000, "received": 5000, "p50": 0.5, "p95": 0.6, "p99": 0.7, "max": 1}}, 4, False),
    ({"latency": {"rate": 400.0, "seconds": 15, "sent": 6000, "received": 0}}, 4, False),
])
def test_latency_fails_when_slow_or_incomplete(change, index, verdict):
    assert report.targets(make_result(**change))[index]["pass"] is verdict


def test_rss_growth_over_the_limit_fails_and_the_full_run_says_nothing_about_scaling():
    worker = {**make_result()["worker"], "rss_mb": {"50000": 300.0, "200000": 450.0}}
    row = report.targets(make_result(worker=worker, quick=False))[-1]
    assert row["pass"] is False
    assert "50,000 to 200,000" in row["target"] and "scaled" not in row["target"]


def test_without_gold_labels_tagging_is_not_judged():
    result = make_result()
    result["core"]["core"]["tagging"] = result["core"]["reference"]["tagging"] = None
    row = report.targets(result)[3]
    assert row["pass"] is None
    console = Console(record=True, width=200)
    for table in report.tables(result):
        console.print(table)
    assert "n/a" in console.export_text()
    assert "| core |" in report.markdown(result, "benchmarks.png")


def test_tables_show_every_measurement_and_verdict():
    console = Console(record=True, width=220)
    for table in report.tables(make_result()):
        console.print(table)
    text = console.export_text()
    for expected in ("core pipeline, tight loop", "1,000", "aiokafka passthrough", "5,000", "full worker, drain",
                     "0.400", "PASS", "FAIL", "0.9950"):
        assert expected in text


def test_markdown_names_machine_versions_commands_targets_and_chart():
    text = report.markdown(make_result(), "benchmarks.png")
    for expected in ("Test CPU, 2 cores", "kafka 4.4.0", "`newsflow bench --quick`", "**FAIL**", "**PASS**",
                     "![throughput, latency and worker memory](benchmarks.png)", "| full worker, drain | 800 |",
                     "ingest 0.80 ms (1,250/s)", "5,000 articles 210 MB",
                     "core loop and reference 40 s, broker start 8 s"):
        assert expected in text
    assert "--quick" in text.splitlines()[2]
    assert "Latency by when" not in text  # results from before the windows were recorded


def test_markdown_shows_latency_by_when_sent():
    latency = {**make_result()["latency"], "windows": [{"from": 0, "count": 10, "p50": 0.05, "max": 0.1, "worker_p50": 0.04},
                                                       {"from": 10, "count": 10, "p50": 3.2, "max": 4.25, "worker_p50": 3.1}]}
    text = report.markdown(make_result(latency=latency), "benchmarks.png")
    # A run from before the worker's max was recorded shows its p50 alone.
    assert "seconds): 0-10 s 0.05 / 0.10 (0.04), 10-20 s 3.20 / 4.25 (3.10)." in text
    latency["windows"][1]["worker_max"] = 0.21
    text = report.markdown(make_result(latency=latency), "benchmarks.png")
    assert "seconds): 0-10 s 0.05 / 0.10 (0.04), 10-20 s 3.20 / 4.25 (3.10 / 0.21)." in text
    assert "CPU during the paced load" not in text  # runs from before it was sampled
    latency["windows"][0]["cpu"] = {"worker": 0.5, "bench": 0.04, "busy": 0.9, "steal": 0.0}
    latency["windows"][1]["cpu"] = {"worker": 0.2, "broker": 1.1, "bench": 0.05, "busy": 1.6, "steal": 0.3}
    text = report.markdown(make_result(latency=latency), "benchmarks.png")
    assert ("CPU during the paced load by window, in cores (worker / broker / this process / machine busy / "
            "stolen by the hypervisor): 0-10 s 0.50 / n/a / 0.04 / 0.90 / 0.00, "
            "10-20 s 0.20 / 1.10 / 0.05 / 1.60 / 0.30.") in text


def test_json_chart_and_docs_are_written(tmp_path):
    result = make_result()
    report.write_json(result, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["worker"]["rss_mb"] == {"5000": 210.0, "20000": 260.0}
    chart = tmp_path / "benchmarks.png"
    report.write_chart(result, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = report.write_docs(result, chart, tmp_path / "docs")
    assert written.read_text().startswith("# Benchmarks")
    assert (tmp_path / "docs" / "benchmarks.png").read_bytes() == chart.read_bytes()


def test_machine_and_versions_describe_this_host():
    info = report.machine()
    assert info["cores"] >= 1 and info["kernel"]
    found = report.versions("4.4.0")
    assert found["kafka"] == "4.4.0" and found["python"].startswith("3.")
    assert found["numba"] != "not installed"


def with_stages_and_profile(stage_speedup=12.0):
    result = make_result()
    result["core"]["stages"] = {"articles": 1900, "speedup": stage_speedup,
                                "core": {"articles_per_second": 6000.0 * stage_speedup / 12, "round_seconds": [0.3]},
                                "reference": {"articles_per_second": 500.0, "round_seconds": [3.8]}}
    result["worker"]["cpu_ms_per_article"] = 1.6
    result["profile"] = {"samples": 4321, "messages": 4000, "articles_per_second": 700.0,
                         "categories": {"core (normalise, fingerprint, tag, rules, decide)": 0.4,
                                        "Kafka client (aiokafka)": 0.35, "other": 0.25},
                         "top_functions": [["tag (service/core/tagging/matcher.py)", 0.1]]}
    return result


@pytest.mark.parametrize("stage_speedup, verdict", [(12.0, True), (9.9, False)])
def test_the_reference_target_is_judged_on_the_stages_it_stands_in_for(stage_speedup, verdict):
    row = report.targets(with_stages_and_profile(stage_speedup))[1]
    assert row["pass"] is verdict
    assert f"{stage_speedup:.1f}x on dedup + tagging" in row["measured"]
    assert "whole pipeline 2.5x" in row["measured"]


def test_worker_cpu_per_article_and_the_profile_are_reported():
    result = with_stages_and_profile()
    assert "CPU per article 1.60 ms vs the core's 1.00 ms" in report.targets(result)[0]["measured"]
    text = report.markdown(result, "benchmarks.png")
    for expected in ("## Where the worker's CPU goes", "| 40.0% | core (normalise, fingerprint, tag, rules, decide) |",
                     "4,321 on-CPU samples", "`tag (service/core/tagging/matcher.py)`", "Worker CPU per article: 1.60 ms",
                     "| core dedup + tagging stages | 6,000 |"):
        assert expected in text
    console = Console(record=True, width=220)
    for table in report.tables(result):
        console.print(table)
    assert "Where the worker's CPU goes" in console.export_text()


def test_a_missing_profiler_is_said_not_hidden():
    result = make_result(profile={"error": "py-spy is not installed"})
    assert "Not profiled: py-spy is not installed." in report.markdown(result, "benchmarks.png")


def test_records_per_article_are_grouped_by_what_wrote_them():
    result = make_result()
    result["worker"]["records_written"] = {
        "b1.articles.enriched": 13000, "b1.articles.duplicates": 6000, "b1.articles.invalid": 1000,
        "b1.newsflow.dedup-requests": 19000, "b1.alerts": 4000,
        "bench-1-dedup-docs-changelog": 19000, "bench-1-alert-state-changelog": 21000,
        "bench-1-__assignor-__leader": 0,
    }
    result["passthrough"]["cpu_ms_per_message"] = 0.12
    groups = report.records_per_article(result["worker"])
    assert groups == {"outcomes": 1.0, "dedup requests": 0.95, "alert events": 0.2, "table changelogs": 2.0}
    text = report.markdown(result, "benchmarks.png")
    assert "Records the worker produced per article: 4.2 (outcomes 1.00, dedup requests 0.95" in text
    assert "0.120 ms of CPU per record" in text


@pytest.mark.parametrize("turn, says", [(250, "take turns every 250 articles, each with its own"),
                                         (None, "ran in whole rounds, one after the other")])
def test_the_stage_comparison_says_how_the_two_sides_were_paced(turn, says):
    """From the result, in the throughput table and the method: a run from before turns (a
    results.json re-rendered by `bench report`) has none."""
    result = with_stages_and_profile()
    if turn is not None:
        result["core"]["stages"]["turn"] = turn
    text = report.markdown(result, "benchmarks.png")
    assert says in text
    assert ("take turns every" in text) is (turn is not None)
    row = next(r for r in report.throughput_rows(result) if r[0] == "datasketch + flashtext, same stages")
    assert (f"every {turn:,} articles" if turn else "in whole rounds") in row[2]


def test_the_faust_hop_is_weighed_against_what_the_worker_target_leaves(tmp_path):
    """Core at 1,000/s is 1.00 ms an article; at 60 % the worker has 1.67 ms, so 0.67 ms beside
    the core's work, and two hops of 0.25 ms take 75 % of it."""
    result = make_result(faust_hop={"messages": 20000, "seconds": 6.0, "articles_per_second": 3333.0,
                                    "cpu_ms_per_message": 0.25, "complete": True})
    text = report.markdown(result, "benchmarks.png")
    assert "spent 0.250 ms of CPU per record" in text
    assert "two such hops (raw -> dedup request -> outcome): 0.50 ms, 75% of the 0.67 ms per article" in text
    row = next(r for r in report.throughput_rows(result) if r[0] == "Faust hop")
    assert row[1] == 3333.0 and "20,000 messages through one Faust agent" in row[2]
    report.write_chart(result, tmp_path / "chart.png")  # a fifth bar
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_a_result_from_before_the_faust_hop_still_renders():
    result = make_result()
    assert "Faust agent" not in report.markdown(result, "benchmarks.png")
    assert all(r[0] != "Faust hop" for r in report.throughput_rows(result))


def test_worker_cpu_per_article_is_reported_by_stretch_of_the_drain():
    from service.bench.worker import cpu_by_stretch

    # (outcomes, worker CPU seconds) at each poll: 2 ms an article for the first half, 3 after.
    samples = [(n, 0.002 * min(n, 10_000) + 0.003 * max(0, n - 10_000)) for n in range(500, 20_001, 500)]
    stretches = cpu_by_stretch(samples, 20_000, 4)
    assert [(s["from"], s["to"]) for s in stretches] == [(500, 5000), (5000, 10000), (10000, 15000), (15000, 20000)]
    assert [round(s["ms_per_article"], 3) for s in stretches] == [2.0, 2.0, 3.0, 3.0]
    assert cpu_by_stretch(samples[:1], 20_000, 4) == []  # one poll spans nothing
    result = make_result()
    result["worker"]["cpu_ms_by_stretch"] = stretches
    assert ("Worker CPU per article by stretch of the drain (outcomes so far): 500-5,000 2.00 ms, "
            "5,000-10,000 2.00 ms, 10,000-15,000 3.00 ms, 15,000-20,000 3.00 ms.") in report.markdown(result, "benchmarks.png")
    assert "by stretch" not in report.markdown(make_result(), "benchmarks.png")


def test_the_paced_load_profile_is_reported_as_cpu_per_article_by_category():
    from service.bench.profile import ms_per_article
    from service.bench.suite import _paced_profile

    # py-spy's raw format; at 20 Hz a sample is 50 ms: 40 loop samples and 20 core samples over 100 articles.
    raw = ("main;asyncio/base_events.py:_run_once;selectors.py:select 30\n"
           "thread;asyncio/base_events.py:_run_once;selectors.py:select 10\n"
           "main;dedup_articles (service/agents/dedup.py:120);decide (service/core/dedup_stage.py:40) 20\n")
    costs = ms_per_article(raw, 20, 100)
    assert costs == {"asyncio event loop and sockets": 20.0, "core (normalise, fingerprint, tag, rules, decide)": 10.0}
    assert ms_per_article(raw, 20, 0) == {}

    result = make_result()
    result["latency"]["profile"] = {"rate": 20, "samples": 60, "articles": 100, "ms_per_article": costs}
    assert ("Worker CPU per article during the paced load by category (py-spy at 20 Hz, 60 samples, 30.00 ms in all): "
            "asyncio event loop and sockets 20.00 ms, core (normalise, fingerprint, tag, rules, decide) 10.00 ms."
            ) in report.markdown(result, "benchmarks.png")
    assert "during the paced load by category" not in report.markdown(make_result(), "benchmarks.png")
    result["latency"]["profile"] = _paced_profile(Path("/nonexistent/paced-stacks.txt"), 100, "no permission")
    assert "not profiled during the paced load: py-spy wrote no samples: no permission" in report.markdown(result, "benchmarks.png")
