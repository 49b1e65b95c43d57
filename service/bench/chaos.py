"""Chaos: push generated articles while workers are SIGKILLed and the broker restarts; then
check that every raw message reached exactly one outcome and that no alert went out twice.

One function, `run_chaos`, serves the e2e test (tests/e2e/test_chaos.py) and
`newsflow bench chaos` (longer runs, `--guarantee exactly_once`). It runs its own broker so
that restarting it disturbs nothing else.
"""

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


from service import codec
from service.admin import ensure_topics
from service.cli.inputs import Item
from service.consumer import end_offsets, read
from service.generate import Generator
from service.kafka_local import LocalKafka
from service.outcomes import OutcomeLog, collect_outcomes
from service.producer import push
from service.settings import Settings
from service.topic_names import TopicNames
from service.worker import WorkerProcess

PUSH_CHUNKS = 40
# No new outcome for this long while input is waiting: the pipeline is stuck, not slow.
STALL_SECONDS = 180


class Stalled(Exception):
    pass


@dataclass
class ChaosReport:
    articles: int
    guarantee: str
    workers: int
    kills: list[dict[str, Any]] = field(default_factory=list)  # at (outcomes), recovery_s
    broker_restarts: list[dict[str, Any]] = field(default_factory=list)
    worker_exits: int = 0  # workers that died on their own (restarted, as a supervisor would)
    raw_messages: int = 0
    lost: int = 0
    conflicting: int = 0
    # Each conflicting raw position: the outcomes its repeats reached, with duplicate_of.
    conflicting_examples: list[dict[str, Any]] = field(default_factory=list)
    repeats: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    both_original_and_duplicate: int = 0
    duplicate_of_unknown: int = 0
    alert_events: int = 0
    alerts_sent_twice: int = 0
    # Each repeated update or firing: its key and where each copy sits on the alerts topic.
    alerts_sent_twice_examples: list[dict[str, Any]] = field(default_factory=list)
    stalled: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.stalled or self.lost or self.conflicting or self.both_original_and_duplicate
                    or self.alerts_sent_twice)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        recoveries = ", ".join(f"{k['recovery_s']:.1f}s" for k in self.kills) or "none"
        return (
            f"{self.raw_messages} raw messages ({self.guarantee}, {self.workers} worker(s)): lost {self.lost}, "
            f"conflicting {self.conflicting}, repeated events {self.repeats}, outcomes {self.outcomes}; "
            f"{len(self.kills)} SIGKILLs (recovery {recoveries}), {len(self.broker_restarts)} broker restart(s), "
            f"{self.worker_exits} unprompted worker exits; original-and-duplicate {self.both_original_and_duplicate}, "
            f"duplicate_of unknown {self.duplicate_of_unknown}; alert events {self.alert_events}, "
            f"sent twice {self.alerts_sent_twice}; {self.seconds:.0f}s"
            + (f"; STALLED: {self.stalled}" if self.stalled else "")
        )


class _Fleet:
    """Worker processes on one consumer group; a dead one is replaced, as a supervisor would."""

    def __init__(self, settings: Settings, count: int, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.workers: list[WorkerProcess] = []
        self.exits = 0
        for n in range(count):
            self.workers.append(self._spawn(n))

    def _spawn(self, n: int) -> WorkerProcess:
        # Each worker needs its own web port and state directory; the group is shared.
        settings = self.settings.model_copy(update={
            "web_port": self.settings.web_port + n,
            "data_dir": self.settings.data_dir / f"worker-{n}",
        })
        return WorkerProcess(settings, self.log_dir / f"worker-{n}.log")

    def kill(self, n: int) -> None:
        self.workers[n].kill()
        self.workers[n] = self._spawn(n)

    def replace_dead(self) -> None:
        for n, worker in enumerate(self.workers):
            if worker.proc.poll() is not None:
                self.exits += 1
                worker.stop()
                self.workers[n] = self._spawn(n)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def _pusher(settings: Settings, topic: str, values: list[tuple[bytes, bytes]], errors: list[str], pace: float) -> None:
    """Push in chunks, re-sending what the broker refused (e.g. while it restarts)."""
    chunk = max(1, len(values) // PUSH_CHUNKS)
    for start in range(0, len(values), chunk):
        pending = [Item(str(start + i), v, k) for i, (k, v) in enumerate(values[start : start + chunk])]
        deadline = time.monotonic() + 180
        while pending:
            try:
                result = asyncio.run(push(settings, topic, pending))
                refused = {origin for origin, _ in result.rejected}
                pending = [item for item in pending if item.origin in refused]
            except Exception as e:  # broker down between chunks: wait for it
                if time.monotonic() > deadline:
                    errors.append(f"push gave up: {e!r}")
                    return
            if pending:
                time.sleep(1.0)
        time.sleep(pace)


def _outcome_total(settings: Settings, names: TopicNames) -> int:
    try:
        return sum(asyncio.run(end_offsets(settings, names.outcomes())).values())
    except Exception:
        return -1


def _wait_progress(settings: Settings, names: TopicNames, beyond: int, fleet: _Fleet, timeout: float) -> float:
    """Seconds until the outcome topics grow past `beyond` (a restarted worker is producing)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        fleet.replace_dead()
        if _outcome_total(settings, names) > beyond:
            return time.monotonic() - started
        time.sleep(0.25)
    raise Stalled(f"no new outcome within {timeout:.0f}s after a fault, at {beyond}; logs in {fleet.log_dir}")


def _wait_for_outcomes(settings: Settings, names: TopicNames, point: float, fleet: _Fleet) -> None:
    """Until the outcome topics hold `point` events (points lie below the message count, so
    they are always reached); Stalled when they stop growing."""
    last, last_change = -1, time.monotonic()
    while True:
        fleet.replace_dead()
        total = _outcome_total(settings, names)
        if total >= point:
            return
        if total > last:
            last, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            raise Stalled(f"outcomes stopped growing at {last} for {STALL_SECONDS}s; logs in {fleet.log_dir}")
        time.sleep(0.2)


def _raw_positions(settings: Settings, names: TopicNames) -> set[tuple[int, int]]:
    ends = asyncio.run(end_offsets(settings, [names.raw]))
    return {(tp.partition, offset) for tp, end in ends.items() for offset in range(end)}


def _check_dedup(log: OutcomeLog, names: TopicNames, report: ChaosReport) -> None:
    originals, duplicate_of = set(), {}
    for events in log.events.values():
        for topic, event_id, value in events:
            if topic == names.enriched:
                originals.add(event_id)
            elif topic == names.duplicates:
                duplicate_of[event_id] = codec.loads(value)["duplicate_of"]
    report.both_original_and_duplicate = len(originals & set(duplicate_of))
    report.duplicate_of_unknown = sum(1 for target in duplicate_of.values() if target not in originals)


def _conflict_examples(log: OutcomeLog, most: int = 10) -> list[dict[str, Any]]:
    examples = []
    for pos in sorted(log.conflicting())[:most]:
        seen = []
        for topic, event_id, value in log.events[pos]:
            entry = {"topic": topic, "id": event_id}
            if topic.endswith("duplicates"):
                entry["duplicate_of"] = codec.loads(value).get("duplicate_of")
            if entry not in seen:
                seen.append(entry)
        examples.append({"raw": list(pos), "outcomes": seen})
    return examples


def _check_alerts(settings: Settings, names: TopicNames, report: ChaosReport) -> None:
    """An update of an alert, (alert_id, seq) (the alert id stands for rule, group and firing),
    must not be on the topic twice, nor the same alert fire twice under two ids."""
    updates: dict[tuple, list[dict]] = {}
    firings: dict[tuple, list[dict]] = {}

    def on_message(record) -> None:
        event = codec.loads(record.value)
        where = {"partition": record.partition, "offset": record.offset, "timestamp_ms": record.timestamp,
                 "alert_id": event["alert_id"], "seq": event["seq"], "status": event["status"]}
        updates.setdefault((event["alert_id"], event["seq"]), []).append(where)
        if event["status"] == "firing":
            firings.setdefault((event["rule_id"], event["group"], event["first_seen"]), []).append(where)

    asyncio.run(read(settings, [names.alerts], on_message, timeout=60))
    report.alert_events = sum(len(copies) for copies in updates.values())
    repeated = [("update", key, copies) for key, copies in updates.items() if len(copies) > 1] + [
        ("firing", key, copies) for key, copies in firings.items() if len(copies) > 1]
    report.alerts_sent_twice = sum(len(copies) - 1 for _, _, copies in repeated)
    report.alerts_sent_twice_examples = [
        {"kind": kind, "key": list(key), "copies": copies} for kind, key, copies in repeated[:10]]


def run_chaos(
    settings: Settings,
    *,
    count: int = 20_000,
    kills: int = 3,
    broker_restarts: int = 1,
    workers: int = 1,
    guarantee: str = "at_least_once",
    seed: int = 7,
    work_dir: Path,
    on_progress=lambda message: None,
) -> ChaosReport:
    """Run the scenario on a broker of its own under `work_dir`; `settings` give ports and tuning."""
    rng = random.Random(seed)
    started = time.monotonic()
    kafka = LocalKafka(settings.model_copy(update={"kafka_data_dir": work_dir / "kafka"}))
    on_progress(f"starting a broker of its own on {kafka.bootstrap}")
    kafka.start()
    settings = settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap,
        "processing_guarantee": guarantee,
        "data_dir": work_dir / "state",
    })
    names = TopicNames.from_settings(settings)
    report = ChaosReport(articles=count, guarantee=guarantee, workers=workers)
    fleet = None
    try:
        asyncio.run(ensure_topics(settings))
        values = [(m.key or b"", m.value) for m in Generator(count, 0.3, 0.05, seed).messages()]
        fleet = _Fleet(settings, workers, work_dir / "logs")
        for worker in fleet.workers:
            worker.wait_ready(timeout=180)
        errors: list[str] = []
        # Paced so the push spans the kills: the chaos must hit a stream, not a backlog.
        pusher = threading.Thread(target=_pusher, args=(settings, names.raw, values, errors, 0.4), daemon=True)
        pusher.start()
        events = ["kill"] * kills + ["broker"] * broker_restarts
        rng.shuffle(events)
        # Random points spread over the run, in outcomes produced so far.
        points = sorted(rng.uniform(0.1, 0.85) * count for _ in events)
        try:
            _inflict(settings, names, events, points, fleet, kafka, rng, workers, report, on_progress)
        except Stalled as e:
            report.stalled = str(e)
            on_progress(f"stalled: {e}")
        pusher.join()
        if errors:
            raise RuntimeError("; ".join(errors))
        expected = _raw_positions(settings, names)
        report.raw_messages = len(expected)
        on_progress(f"all {len(expected)} raw messages pushed; waiting for their outcomes")
        log = _collect(settings, expected, fleet, patience=60 if report.stalled else 900)
        report.lost = len(log.missing)
        report.conflicting = len(log.conflicting())
        report.conflicting_examples = _conflict_examples(log)
        report.repeats = log.repeats
        report.outcomes = dict(Counter(topic.rsplit(".", 1)[-1] for topic, _, _ in log.first().values()))
        _check_dedup(log, names, report)
        _check_alerts(settings, names, report)
        report.worker_exits = fleet.exits
    finally:
        if fleet is not None:
            fleet.stop()
        kafka.stop()
    report.seconds = time.monotonic() - started
    return report


def _inflict(settings, names, events, points, fleet, kafka, rng, workers, report, on_progress) -> None:
    """The faults, each when the outcome topics reach its point."""
    for event, point in zip(events, points):
        _wait_for_outcomes(settings, names, point, fleet)
        at = _outcome_total(settings, names)
        if event == "kill":
            victim = rng.randrange(workers)
            on_progress(f"SIGKILL worker {victim} at {at} outcomes")
            fleet.kill(victim)
            # Outcomes the dead worker had already handed to the broker land now; progress
            # counts from what is on the log once it is dead.
            time.sleep(0.5)
            recovery = _wait_progress(settings, names, _outcome_total(settings, names), fleet, timeout=300)
            report.kills.append({"at_outcomes": at, "worker": victim, "recovery_s": round(recovery, 1)})
        else:
            on_progress(f"restarting the broker at {at} outcomes")
            down = time.monotonic()
            kafka.stop()
            time.sleep(rng.uniform(1, 4))
            kafka.start()
            _wait_progress(settings, names, _outcome_total(settings, names), fleet, timeout=300)
            report.broker_restarts.append({"at_outcomes": at, "recovery_s": round(time.monotonic() - down, 1)})


def _collect(settings: Settings, expected: set[tuple[int, int]], fleet: _Fleet, patience: float) -> OutcomeLog:
    # The fleet is checked between reads so a worker that dies late is replaced, not waited on.
    deadline = time.monotonic() + patience
    log = None
    while time.monotonic() < deadline:
        fleet.replace_dead()
        log = asyncio.run(collect_outcomes(settings, expected, timeout=30, linger=5))
        if not log.missing:
            return log
    return log
