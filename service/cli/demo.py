"""`newsflow demo`: the whole path on this machine, from seeds to outcomes, then a clean stop."""

import asyncio
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from service.admin import ensure_topics, probe
from service.cli.inputs import read_items
from service.cli.render import describe
from service.consumer import end_offsets, read
from service.kafka_local import LocalKafka
from service.outcomes import OutcomeLog, collect_outcomes
from service.producer import push
from service.settings import Settings
from service.topic_names import TopicNames
from service.worker import WorkerProcess

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def run_demo(settings: Settings, *, keep: bool, timeout: float, console: Console) -> bool:
    """Returns True when every pushed message reached exactly one outcome topic."""
    names = TopicNames.from_settings(settings)
    local = None
    if not asyncio.run(probe(settings, timeout=3.0)):
        local = LocalKafka(settings.model_copy(update={"kafka_port": _port(settings.kafka_bootstrap)}))
        console.print(f"No broker at {settings.kafka_bootstrap}: starting the local Kafka {local.version}…")
        local.start(on_progress=lambda m: console.print(f"  [dim]{m}…[/]"))
    worker = None
    try:
        asyncio.run(ensure_topics(settings))
        starts = asyncio.run(end_offsets(settings, names.outcomes()))
        alert_starts = asyncio.run(end_offsets(settings, [names.alerts]))
        console.print("Starting a worker (log: " f"{settings.data_dir / 'demo-worker.log'})…")
        worker = WorkerProcess(settings, settings.data_dir / "demo-worker.log")
        items = list(read_items([str(SEEDS / "articles")]))
        items += list(read_items([str(SEEDS / "invalid.jsonl")], validate=False))
        result = asyncio.run(push(settings, names.raw, items))
        console.print(f"Pushed {len(result.sent)} messages onto {names.raw} "
                      f"({len(result.rejected)} rejected locally).")
        log = asyncio.run(
            collect_outcomes(settings, result.sent_positions, start=starts, timeout=timeout, check=worker.check)
        )
        _summary(console, names, log)
        _alerts(console, settings, names, alert_starts)
        missing = log.missing
        if missing:
            console.print(f"[red]{len(missing)} messages have no outcome after {timeout:.0f}s; "
                          f"see {worker.log_path}[/]")
        return not missing and not result.rejected
    finally:
        if keep:
            console.print("--keep: leaving the broker and worker running "
                          "(stop them with `newsflow kafka stop` and by killing the worker).")
        else:
            if worker:
                worker.stop()
            if local:
                local.stop()
                console.print("Stopped the local broker and the worker.")


def _summary(console: Console, names: TopicNames, log: OutcomeLog) -> None:
    outcomes = {pos: (topic, value) for pos, (topic, _, value) in log.first().items()}
    counts = Counter(topic for topic, _ in outcomes.values())
    table = Table(title="Outcomes of this run")
    table.add_column("topic")
    table.add_column("messages", justify="right")
    for topic in names.outcomes():
        table.add_row(topic, str(counts.get(topic, 0)))
    console.print(table)
    for topic, label, limit in ((names.enriched, "Enriched", 5), (names.duplicates, "Duplicates", 5),
                                (names.invalid, "Dead letters", 5), (names.alerts, "Alerts", 5)):
        values = [v for t, v in outcomes.values() if t == topic][:limit]
        if values:
            console.print(f"[bold]{label}[/] (first {len(values)}):")
            for value in values:
                console.print("  " + escape(describe(value)), highlight=False)


def _alerts(console: Console, settings: Settings, names: TopicNames, starts) -> None:
    """The alerts this run raised. The dedup step sends an article's alerts just after its
    outcome, so keep reading a moment after the last outcome arrived."""
    alerts: list[bytes] = []
    asyncio.run(read(settings, [names.alerts], lambda r: alerts.append(r.value), start=starts, follow=True, timeout=2.0))
    if alerts:
        console.print(f"[bold]Alerts[/] ({len(alerts)}):")
    elif any(starts.values()):
        # Same articles, same story ids: their alerts are still open and nothing is new.
        console.print("Alerts: none raised by this run. An earlier run already alerted on these articles, and "
                      "a re-sent article adds nothing until the rules' cooldowns end (`make clean` starts afresh).")
    else:
        console.print("Alerts: none raised by this run.")
    for value in alerts[:8]:
        console.print("  " + escape(describe(value)), highlight=False)


def _port(bootstrap: str) -> int:
    first = bootstrap.split(",")[0].strip()
    return int(first.rsplit(":", 1)[1]) if ":" in first else 9092
