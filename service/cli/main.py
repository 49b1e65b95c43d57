"""`newsflow`: run the worker and the local broker, push, tail, inspect."""

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from service.errors import NewsflowError
from service.settings import get_settings
from service.topic_names import TopicNames

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help=__doc__)
kafka_app = typer.Typer(no_args_is_help=True, help="The project's local single-node Kafka broker.")
topics_app = typer.Typer(no_args_is_help=True, help="The topics of newsflow's contract.")
app.add_typer(kafka_app, name="kafka")
bench_app = typer.Typer(help="Benchmarks: commands, never timed tests. Without a subcommand: the whole suite.")
rules_app = typer.Typer(no_args_is_help=True, help="Alert rules.")
app.add_typer(rules_app, name="rules")
app.add_typer(topics_app, name="topics")
app.add_typer(bench_app, name="bench")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the local broker (fetching its jars with Maven on first use); no-op if running."""
    from service.kafka_local import LocalKafka

    local = LocalKafka(get_settings())
    try:
        state = local.start(on_progress=lambda m: err.print(f"[dim]{m}…[/]"))
    except NewsflowError as e:
        fail(str(e))
    out.print(f"Kafka {local.version} {state} on {local.bootstrap} (data: {local.data_dir})")


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Resolve the broker's jars with Maven into the cache (start does this on first use)."""
    from service.kafka_local import LocalKafka

    local = LocalKafka(get_settings())
    try:
        libs = local.ensure_jars(quiet=False)
    except NewsflowError as e:
        fail(str(e))
    out.print(f"Kafka {local.version} jars in {libs}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker cleanly."""
    from service.kafka_local import LocalKafka

    out.print(f"Kafka {LocalKafka(get_settings()).stop()}")


@kafka_app.command("status")
def kafka_status() -> None:
    """Whether the local broker runs and answers; exit 1 when it does not."""
    from service.kafka_local import LocalKafka

    status = LocalKafka(get_settings()).status()
    for k, v in status.items():
        out.print(f"{k:>9}: {v}")
    raise typer.Exit(0 if status["answers"] else 1)


@topics_app.command("create")
def topics_create() -> None:
    """Create the contract's topics that do not exist yet."""
    from service.admin import ensure_topics
    from service.consumer import run

    settings = get_settings()
    try:
        created = run(ensure_topics(settings))
    except NewsflowError as e:
        fail(str(e))
    out.print(f"created: {', '.join(created) if created else 'none (all exist)'}")


@topics_app.command("list")
def topics_list() -> None:
    """Topics on the cluster with their partition counts."""
    from service.admin import list_topics
    from service.consumer import run

    try:
        topics = run(list_topics(get_settings()))
    except NewsflowError as e:
        fail(str(e))
    for name, parts in sorted(topics.items()):
        out.print(f"{name}  ({parts} partitions)")


@app.command()
def worker() -> None:
    """Run the Faust worker (creates missing topics first). Web: /metrics, /healthz, /readyz."""
    from service.worker import run_worker

    try:
        run_worker(get_settings())
    except NewsflowError as e:
        fail(str(e))


@app.command()
def push(
    paths: Annotated[list[str], typer.Argument(help="JSONL, JSON array, .txt files, directories, or - for stdin.")],
    source: Annotated[str | None, typer.Option(help="Set `source` on every article.")] = None,
    topic: Annotated[str, typer.Option(help="Topic to push onto.")] = "raw",
    raw: Annotated[bool, typer.Option("--raw", help="Send lines as they are, without local checks.")] = False,
) -> None:
    """Push articles onto articles.raw; local rejects are listed and do not stop the rest."""
    from service.cli.inputs import read_items
    from service.consumer import run
    from service.producer import push as do_push

    settings = get_settings()
    target = TopicNames.from_settings(settings).resolve(topic)
    try:
        items = list(read_items(paths, source=source, validate=not raw))
    except NewsflowError as e:
        fail(str(e))
    with Progress(
        TextColumn("pushing"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("push", total=len(items))
        try:
            result = run(do_push(settings, target, items, on_item=lambda i, e: progress.advance(task)))
        except NewsflowError as e:
            fail(str(e))
    for origin, reason in result.rejected:
        err.print(f"[yellow]rejected[/] {origin}: {reason}", highlight=False)
    out.print(f"sent {len(result.sent)} to {target}, rejected {len(result.rejected)}")
    raise typer.Exit(0 if result.sent or not result.rejected else 1)


@app.command()
def generate(
    count: Annotated[int, typer.Option(min=1, help="Messages to generate.")] = 1000,
    dup_rate: Annotated[float, typer.Option(help="Share that reprints an earlier article.")] = 0.3,
    invalid_rate: Annotated[float, typer.Option(help="Share that is invalid (dead letters).")] = 0.05,
    seed: Annotated[int, typer.Option(help="Same seed, same messages.")] = 1,
    output: Annotated[str, typer.Option("--out", "-o", help="JSONL file, or - for stdout.")] = "-",
    to_raw: Annotated[bool, typer.Option("--push", help="Send onto articles.raw instead of writing JSONL.")] = False,
) -> None:
    """Realistic synthetic articles (reprints with syndication edits, KB entities, invalid ones)."""
    from service.cli.inputs import Item
    from service.consumer import run
    from service.generate import Generator, write_jsonl
    from service.producer import push as do_push

    try:
        messages = Generator(count, dup_rate, invalid_rate, seed).messages()
    except ValueError as e:
        fail(str(e))
    if not to_raw:
        if output == "-":
            written = write_jsonl(messages, sys.stdout.buffer)
        else:
            with open(output, "wb") as f:
                written = write_jsonl(messages, f)
        err.print(f"wrote {written} messages to {'stdout' if output == '-' else output}")
        return
    settings = get_settings()
    target = TopicNames.from_settings(settings).raw
    items = (Item(f"#{n}", m.value, m.key) for n, m in enumerate(messages))
    with Progress(TextColumn("pushing"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as progress:
        task = progress.add_task("push", total=count)
        try:
            result = run(do_push(settings, target, items, on_item=lambda i, e: progress.advance(task)))
        except NewsflowError as e:
            fail(str(e))
    out.print(f"sent {len(result.sent)} to {target}, failed {len(result.rejected)}")
    raise typer.Exit(0 if not result.rejected else 1)


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="enriched, invalid, duplicates, alerts, raw, or a full name.")],
    n: Annotated[int | None, typer.Option("-n", help="Only the last N per partition.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each value as one JSON line.")] = False,
) -> None:
    """Print a topic's events, readable by default."""
    from service.cli.render import describe
    from service.consumer import read, run

    settings = get_settings()
    name = TopicNames.from_settings(settings).resolve(topic)

    def show(record) -> None:
        if as_json:
            sys.stdout.write((record.value or b"null").decode("utf-8", "replace") + "\n")
        else:
            out.print(f"[dim]{record.partition}:{record.offset}[/] {escape(describe(record.value))}", highlight=False)

    try:
        run(read(settings, [name], show, last=n, follow=follow))
    except NewsflowError as e:
        fail(str(e))
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Leave the broker and worker running.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every outcome.")] = 180.0,
) -> None:
    """Start what is needed, push seeds/, wait for every outcome, print a summary."""
    from service.cli.demo import run_demo

    try:
        ok = run_demo(get_settings(), keep=keep, timeout=timeout, console=out)
    except NewsflowError as e:
        fail(str(e))
    raise typer.Exit(0 if ok else 1)


@app.command()
def schemas(
    topic: Annotated[str | None, typer.Argument(help="Only this topic's schema.")] = None,
) -> None:
    """Print the JSON Schema of every topic's payload."""
    from service.schemas import TOPIC_MODELS

    chosen = {t: m for t, m in TOPIC_MODELS.items() if topic is None or t.endswith(topic)}
    if not chosen:
        fail(f"no schema for {topic!r}; topics: {', '.join(TOPIC_MODELS)}")
    doc = {t: m.model_json_schema() for t, m in chosen.items()}
    sys.stdout.write(json.dumps(doc if topic is None else next(iter(doc.values())), indent=2) + "\n")


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked) and the environment variable of each."""
    settings = get_settings()
    for name, value in settings.model_dump().items():
        out.print(f"NEWSFLOW_{name.upper():<32} {value}", highlight=False)


@bench_app.callback(invoke_without_command=True)
def bench_suite(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller and scaled down: under 3 minutes.")] = False,
    out_dir: Annotated[str | None, typer.Option("--out", help="Results folder; default var/bench/<time>/.")] = None,
    docs: Annotated[bool | None, typer.Option("--docs/--no-docs", help="Write docs/benchmarks.md and .png (default: on unless --quick).")] = None,
    count: Annotated[int | None, typer.Option(min=100, help="Messages pre-loaded for the worker and the passthroughs.")] = None,
) -> None:
    """Without a subcommand: the whole suite (core loop, stock libraries, worker drain and memory,
    aiokafka and Faust passthroughs, latency) in one run; prints a table and writes JSON and a chart."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import datetime
    from pathlib import Path

    from service.bench import report, suite

    folder = Path(out_dir) if out_dir else Path("var") / "bench" / datetime.now().strftime("%Y%m%d-%H%M%S")
    command = "newsflow " + " ".join(sys.argv[1:])
    try:
        result = suite.run(get_settings(), quick, folder, command, count, on_progress=lambda m: err.print(f"[dim]{m}…[/]"))
    except NewsflowError as e:
        fail(str(e))
    report.write_chart(result, folder / "benchmarks.png")
    for table in report.tables(result):
        out.print(table)
    out.print(f"results: {folder / 'results.json'}, chart: {folder / 'benchmarks.png'} ({result['seconds']:.0f} s)")
    if docs if docs is not None else not quick:
        out.print(f"wrote {report.write_docs(result, folder / 'benchmarks.png', Path('docs'))}")


@bench_app.command("report")
def bench_report(
    folder: Annotated[str, typer.Argument(help="A results folder of the suite (holds results.json).")],
    docs: Annotated[bool, typer.Option("--docs/--no-docs", help="Write docs/benchmarks.md and .png from it.")] = False,
) -> None:
    """Print a finished suite run's tables again, and write the docs from it, without re-running
    the measurements (the full run takes 18 minutes)."""
    from pathlib import Path

    from service.bench import report

    path = Path(folder)
    try:
        result = report.read_json(path / "results.json")
    except (OSError, ValueError) as e:
        fail(f"cannot read {path / 'results.json'}: {e}")
    report.write_chart(result, path / "benchmarks.png")
    for table in report.tables(result):
        out.print(table)
    if docs:
        out.print(f"wrote {report.write_docs(result, path / 'benchmarks.png', Path('docs'))}")


@bench_app.command("dedup")
def bench_dedup(
    quick: Annotated[bool, typer.Option("--quick", help="Smaller evaluation and benchmark.")] = False,
    write: Annotated[str | None, typer.Option(help="Also write the report to this file.")] = None,
) -> None:
    """Dedup core vs datasketch MinHash+MinHashLSH on the labelled set from ../shared/seeds."""
    from pathlib import Path

    from service.bench.dedup import format_table, run

    report = format_table(run(quick))
    out.print(report, highlight=False, markup=False)
    if write:
        Path(write).write_text(report)


@bench_app.command("worker")
def bench_worker(
    count: Annotated[int, typer.Option(help="Articles to pre-load and drain.")] = 10000,
    dup_rate: Annotated[float, typer.Option(help="Share of reprints.")] = 0.3,
) -> None:
    """Drain a pre-loaded backlog through one real worker; per-stage capacity from its metrics."""
    from service.bench.worker import run

    try:
        result = run(get_settings(), count, dup_rate)
    except NewsflowError as e:
        fail(str(e))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


@bench_app.command("chaos")
def bench_chaos(
    count: Annotated[int, typer.Option(help="Generated messages (30% reprints, 5% invalid).")] = 20000,
    kills: Annotated[int, typer.Option(help="Worker SIGKILLs at random points.")] = 3,
    broker_restarts: Annotated[int, typer.Option(help="Broker restarts at random points.")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Workers in the consumer group.")] = 1,
    guarantee: Annotated[str, typer.Option(help="at_least_once or exactly_once.")] = "at_least_once",
    seed: Annotated[int, typer.Option()] = 7,
    write: Annotated[str | None, typer.Option(help="Also write the report as JSON to this file.")] = None,
) -> None:
    """Push generated articles while workers are killed and the broker restarts; count what was lost.

    Runs a broker of its own on free ports (it restarts it), under a temporary directory."""
    import tempfile
    import uuid
    from pathlib import Path

    from service.bench.chaos import run_chaos
    from service.kafka_local import free_port

    if guarantee not in ("at_least_once", "exactly_once"):
        fail("--guarantee must be at_least_once or exactly_once")
    tag = uuid.uuid4().hex[:8]
    settings = get_settings().model_copy(update={
        "kafka_port": free_port(), "kafka_controller_port": free_port(), "web_port": free_port(),
        "topic_prefix": f"chaos{tag}.", "app_id": f"chaos-{tag}", "session_timeout": 8.0,
    })
    with tempfile.TemporaryDirectory(prefix="newsflow-chaos-") as work:
        report = run_chaos(settings, count=count, kills=kills, broker_restarts=broker_restarts, workers=workers,
                           guarantee=guarantee, seed=seed, work_dir=Path(work),
                           on_progress=lambda m: err.print(f"[dim]{m}[/]"))
    out.print(report.summary(), highlight=False)
    if write:
        Path(write).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    raise typer.Exit(0 if report.ok else 1)


@bench_app.command("rebuild")
def bench_rebuild(count: Annotated[int, typer.Option(help="Stored articles to rebuild from.")] = 20000) -> None:
    """Rate of rebuilding the dedup lookups from stored records (done after each rebalance)."""
    from service.bench.rebuild import run

    sys.stdout.write(json.dumps(run(count), indent=2) + "\n")


@bench_app.command("tagging")
def bench_tagging(quick: Annotated[bool, typer.Option("--quick")] = False) -> None:
    """Tagger vs flashtext with the curated KB and a 100k-alias KB; gold-label precision/recall."""
    from service.bench.tagging import format_table, run

    out.print(format_table(run(quick)), highlight=False, markup=False)


@bench_app.command("rules")
def bench_rules(quick: Annotated[bool, typer.Option("--quick")] = False) -> None:
    """Compiled rule set vs each rule alone, with 10, 1,000 and 10,000 generated rules."""
    from service.bench.rules import format_table, run

    out.print(format_table(run(quick)), highlight=False, markup=False)


def _load_rules(path: str | None):
    from pathlib import Path

    from service.core.rules import RuleError, kb_resolver, load_rules
    from service.knowledge import KnowledgeBase
    from service.rulebook import DEFAULT_RULES

    settings = get_settings()
    target = Path(path) if path else (settings.rules_path or DEFAULT_RULES)
    try:
        tagger = KnowledgeBase.from_settings(settings).tagger
        return target, load_rules(target, kb_resolver(tagger.entities), [t.id for t in tagger.themes])
    except (RuleError, NewsflowError) as e:
        fail(str(e))


@rules_app.command("validate")
def rules_validate(path: Annotated[str, typer.Argument(help="A rules YAML file.")]) -> None:
    """Check a rules file against the knowledge base; errors name the rule and the line."""
    target, rules = _load_rules(path)
    out.print(f"{target}: {len(rules)} rules are valid", highlight=False)


def _running_rules():
    """(where they come from, rules) of what workers run: the rules topic wins over the file."""
    from datetime import datetime, timezone

    from service.consumer import run
    from service.knowledge import KnowledgeBase
    from service.rulebook import published_rules

    settings = get_settings()
    topic = TopicNames.from_settings(settings).alert_rules
    try:
        published = run(published_rules(settings, KnowledgeBase.from_settings(settings).tagger))
    except NewsflowError as e:
        fail(f"cannot read {topic} to tell which rules workers run: {e} (`newsflow rules list FILE` lists a file)")
    if published is None:
        target, rules = _load_rules(None)
        return f"file {target} (nothing valid published on {topic})", rules
    when = "at an unknown time"
    if published.timestamp_ms is not None:
        when = datetime.fromtimestamp(published.timestamp_ms / 1000, timezone.utc).isoformat(timespec="seconds")
    origin = f"topic {topic}, offset {published.offset}, published {when}"
    if published.rejected_after:
        origin += f"; {published.rejected_after} later publication(s) were rejected and are not running"
    return origin, published.rules


@rules_app.command("list")
def rules_list(
    path: Annotated[str | None, typer.Argument(help="List this file instead of what workers run.")] = None,
) -> None:
    """The rules workers run (id, severity, threshold, grouping, cooldown) and where they come from:
    the last valid file published on the rules topic, else the rules file."""
    if path is None:
        origin, rules = _running_rules()
    else:
        target, rules = _load_rules(path)
        origin = f"file {target}"
    out.print(f"{len(rules)} rules from {origin}", highlight=False, markup=False)
    for rule in rules:
        threshold = (
            f"{rule.threshold.count}{' distinct ' + rule.threshold.distinct if rule.threshold.distinct else ''}"
            f" in {rule.threshold.window}s" if rule.threshold else "every match"
        )
        out.print(f"{rule.id:<40} {rule.severity:<9} {threshold:<28} group {rule.group_by}, cooldown {rule.cooldown}s",
                  highlight=False, markup=False)


@rules_app.command("publish")
def rules_publish(path: Annotated[str, typer.Argument(help="A rules YAML file.")]) -> None:
    """Validate a rules file, then publish it on the rules topic: every worker switches to it."""
    from pathlib import Path

    from service.admin import ensure_topics
    from service.cli.inputs import Item
    from service.consumer import run
    from service.producer import push as do_push

    target, rules = _load_rules(path)
    settings = get_settings()
    names = TopicNames.from_settings(settings)
    try:
        run(ensure_topics(settings))
        result = run(do_push(settings, names.alert_rules, [Item(str(target), Path(target).read_bytes(), b"rules")]))
    except NewsflowError as e:
        fail(str(e))
    if not result.sent:
        fail(f"could not publish: {result.rejected}")
    out.print(f"published {len(rules)} rules from {target} to {names.alert_rules}", highlight=False)


@rules_app.command("backtest")
def rules_backtest(
    path: Annotated[str, typer.Argument(help="A rules YAML file.")],
    since: Annotated[str | None, typer.Option(help="ISO 8601 time; only articles pushed from then on.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One alert event per line, as JSON.")] = False,
) -> None:
    """Replay the enriched and duplicate topics through FILE and print the alerts it would raise."""
    from datetime import datetime, timezone

    from service.backtest import backtest
    from service.cli.render import describe
    from service.consumer import run
    from service.core.rules import RuleSet

    _, rules = _load_rules(path)
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since {since!r} is not an ISO 8601 time")
        start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    try:
        alerts = run(backtest(get_settings(), RuleSet.compile(rules), start))
    except NewsflowError as e:
        fail(str(e))
    for alert in alerts:
        if as_json:
            sys.stdout.write(json.dumps(alert) + "\n")
        else:
            out.print(escape(describe(json.dumps(alert).encode())), highlight=False)
    if not as_json:
        out.print(f"{len(alerts)} alert events (nothing was published)")
