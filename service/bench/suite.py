"""`newsflow bench`: every throughput, latency and memory measurement of the issue in one run.

Order matters on a small machine: the CPU-bound core loop runs before the broker starts; the
passthrough runs before the worker, so neither competes with the other; latency is measured
on the worker that drained the backlog, once it is idle. The suite starts its own broker on
free ports under the results folder unless NEWSFLOW_KAFKA_BOOTSTRAP names one, and removes
the broker's and the worker's data when it is done (the logs stay).
"""

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from service.admin import ensure_topics
from service.bench import core_loop, faust_hop, latency, passthrough, profile, report
from service.bench.worker import drain, isolated, profiled_drain, push_messages
from service.errors import NewsflowError
from service.generate import Generator
from service.kafka_local import LocalKafka, free_port, kafka_version
from service.settings import Settings
from service.topic_names import TopicNames
from service.worker import WorkerProcess

DUP_RATE = 0.3
INVALID_RATE = 0.05
SEED = 1
# The latency load is this share of the measured drain rate.
LOAD_SHARE = 0.5
# py-spy samples the worker through the paced load at this rate: low, so that the sampler's own
# CPU hardly touches the latency it is there to explain.
PACED_PROFILE_RATE = 20


@dataclass(frozen=True)
class Scale:
    backlog: int  # messages pre-loaded for the drain and the passthrough
    rss_at: tuple[int, int]  # outcomes at which the worker's RSS is compared
    core_messages: int  # messages of the core loop and its reference
    rounds: int
    latency_seconds: float
    profile_messages: int  # drained again by a worker under py-spy, apart from the timed drain


FULL = Scale(backlog=200_000, rss_at=(50_000, 200_000), core_messages=20_000, rounds=3, latency_seconds=60,
             profile_messages=20_000)
# Sized to stay under 3 minutes on a 2-core machine at its slow hours: 10k with a profile took
# 238 s (core loop 78 s, drain 77 s, profile 40 s). The profile is the full run's evidence of
# where the worker's time goes; routine runs skip it (profile_messages=0).
QUICK = Scale(backlog=8_000, rss_at=(2_000, 8_000), core_messages=1_600, rounds=3, latency_seconds=15,
              profile_messages=0)


def scale_for(quick: bool, count: int | None) -> Scale:
    """The preset, with `count` (if given) as the backlog and RSS compared at a quarter of it and at all of it."""
    base = QUICK if quick else FULL
    if count is None:
        return base
    return replace(base, backlog=count, rss_at=(count // 4, count))


class Phases:
    """Wall seconds of each step, for the report's account of where a run's time went."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at = time.monotonic()

    def done(self, name: str) -> None:
        """The step called `name` ended now; it began when the previous one ended."""
        now = time.monotonic()
        self.seconds[name] = now - self._at
        self._at = now


@contextmanager
def broker(settings: Settings, data_dir: Path,
           on_progress: Callable[[str], None]) -> Iterator[tuple[Settings, str, str, int | None]]:
    """Settings that reach a broker, what it is, its Kafka version and its process id (None when
    not ours): the configured one when NEWSFLOW_KAFKA_BOOTSTRAP was set, else a local broker of
    our own, stopped and removed after."""
    if "kafka_bootstrap" in settings.model_fields_set:
        yield settings, f"existing cluster at {settings.kafka_bootstrap}", "not known (existing cluster)", None
        return
    local = LocalKafka(settings.model_copy(update={
        "kafka_port": free_port(), "kafka_controller_port": free_port(), "kafka_data_dir": data_dir,
    }))
    on_progress(f"starting Kafka {local.version} on {local.bootstrap}")
    local.start()
    try:
        yield (local.client_settings(), f"local, KRaft, one node, heap {settings.kafka_heap}", kafka_version(),
               local.running_pid())
    finally:
        local.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def run(settings: Settings, quick: bool, out: Path, command: str, count: int | None = None,
        on_progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Run every measurement; returns the result dict the report reads (also written to out/results.json)."""
    scale = scale_for(quick, count)
    out.mkdir(parents=True, exist_ok=True)
    started, clock = datetime.now(timezone.utc), time.monotonic()
    phases = Phases()
    on_progress(f"core loop and stock-library reference on {scale.core_messages:,} messages")
    core = core_loop.run(scale.core_messages, scale.rounds, SEED, DUP_RATE, INVALID_RATE, on_progress)
    phases.done("core loop and reference")
    try:
        with broker(settings, out / "kafka", on_progress) as (connected, broker_label, kafka, broker_pid):
            phases.done("broker start")
            connected = isolated(connected, "bench").model_copy(
                update={"web_port": free_port(), "data_dir": out / "state"})
            measured = _on_broker(connected, scale, out, phases, on_progress, broker_pid)
        phases.done("broker stop")
    except KafkaError as e:
        done = ", ".join(phases.seconds) or "nothing"
        raise NewsflowError(f"Kafka failed the benchmark after: {done}: {e!r} (worker log in {out})") from e
    finally:
        shutil.rmtree(out / "state", ignore_errors=True)
        shutil.rmtree(out / "profile-state", ignore_errors=True)
    result = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": time.monotonic() - clock,
        "quick": quick,
        "command": command,
        "machine": report.machine(),
        "versions": report.versions(kafka),
        "broker": broker_label,
        "config": {**asdict(scale), "dup_rate": DUP_RATE, "invalid_rate": INVALID_RATE, "seed": SEED,
                   "partitions": settings.topic_partitions, "load_share": LOAD_SHARE},
        "core": core,
        **measured,
        "phases": phases.seconds,
    }
    report.write_json(result, out / "results.json")
    return result


def _on_broker(settings: Settings, scale: Scale, out: Path, phases: Phases,
               on_progress: Callable[[str], None], broker_pid: int | None) -> dict[str, Any]:
    names = TopicNames.from_settings(settings)
    asyncio.run(ensure_topics(settings))
    on_progress(f"pushing {scale.backlog:,} generated messages onto {names.raw}")
    generated = Generator(scale.backlog, DUP_RATE, INVALID_RATE, SEED).messages()
    pushed, labels = asyncio.run(push_messages(settings, generated))
    count = len(pushed.sent)
    phases.done("generate and push")
    on_progress(f"aiokafka passthrough of {count:,} messages")
    copied = asyncio.run(passthrough.run(settings, names.raw, count, settings.topic_partitions))
    phases.done("passthrough")
    on_progress(f"one Faust agent copying the same {count:,} messages")
    hop = faust_hop.run(settings, names.raw, count, settings.topic_partitions, out / "faust-hop.log")
    phases.done("Faust hop")
    # Made before the worker starts: loading the generator's material takes a second.
    fresh = Generator(10_000_000, DUP_RATE, INVALID_RATE, SEED + 1).messages()
    worker = WorkerProcess(settings, out / "worker.log")
    try:
        on_progress(f"draining {count:,} messages through one worker")
        drained = drain(settings, worker, count, [n for n in scale.rss_at if n <= count], on_progress=on_progress)
        phases.done("worker start and drain")
        rate = LOAD_SHARE * drained["articles_per_second"]
        on_progress(f"paced load at {rate:,.0f}/s for {scale.latency_seconds:.0f} s")
        stacks = out / "paced-stacks.txt"
        sampler = (profile.record(worker.proc.pid, stacks, PACED_PROFILE_RATE)
                   if scale.profile_messages and profile.available() else None)
        try:
            lat = asyncio.run(latency.measure(settings, fresh, rate, scale.latency_seconds,
                                              watch={"worker": worker.proc.pid, **({"broker": broker_pid} if broker_pid else {})}))
        finally:
            said = profile.finish(sampler) if sampler else ""
        if sampler:
            lat["profile"] = _paced_profile(stacks, lat["received"], said)
        phases.done("latency")
    finally:
        worker.stop()
    phases.done("worker stop")
    if scale.profile_messages:
        on_progress(f"profiling a worker (py-spy) over {scale.profile_messages:,} more messages")
        profiled = profiled_drain(settings, scale.profile_messages, out, DUP_RATE, INVALID_RATE, SEED, on_progress)
        phases.done("profile")
    else:
        profiled = {"error": "skipped by --quick (the full run profiles a worker)"}
    return {"generated": dict(labels), "passthrough": copied, "faust_hop": hop, "worker": drained, "latency": lat,
            "profile": profiled}


def _paced_profile(stacks: Path, articles: int, said: str) -> dict[str, Any]:
    """The worker's sampled CPU per article by category through the paced load: why the latency is
    what it is when the worker runs short of CPU."""
    if not stacks.exists():
        return {"error": f"py-spy wrote no samples: {said[-300:] or 'no reason given'}"}
    raw = stacks.read_text()
    return {"rate": PACED_PROFILE_RATE, "samples": sum(profile.stacks(raw).values()), "articles": articles,
            "ms_per_article": profile.ms_per_article(raw, PACED_PROFILE_RATE, articles)}
