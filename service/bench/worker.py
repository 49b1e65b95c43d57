"""`newsflow bench worker`: drain a pre-loaded backlog through one real worker and time it.

Reports articles/s for the whole pipeline, the worker's RSS as the backlog is processed,
and the mean in-agent time of each stage, whose inverse is that stage's capacity (the dedup
stage is the one serialised step). Progress is read from the end offsets of the outcome
topics, which costs the broker and this process next to nothing while the worker runs.
"""

import asyncio
import os
import re
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from service.admin import ensure_topics
from service.bench import profile
from service.cli.inputs import Item
from service.consumer import end_offsets, make_consumer
from service.errors import NewsflowError
from service.generate import Generated, Generator
from service.producer import PushResult, push
from service.settings import Settings
from service.topic_names import TopicNames
from service.worker import WorkerProcess

POLL_SECONDS = 0.25
# The drain's CPU per article is also reported for this many equal stretches of it: the cost
# of an article grows with the state the worker holds (see README, "Performance").
CPU_STRETCHES = 4


def stage_means(metrics_text: str) -> dict[str, float]:
    """Mean seconds per message of each stage, from the worker's /metrics text."""
    sums, counts = {}, {}
    for line in metrics_text.splitlines():
        m = re.match(r'newsflow_stage_processing_seconds_(sum|count)\{stage="(\w+)"\} (\S+)', line)
        if m:
            (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return {stage: sums[stage] / counts[stage] for stage in sums if counts.get(stage)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def push_messages(settings: Settings, messages: Iterable[Generated]) -> tuple[PushResult, Counter]:
    """Send the messages onto the raw topic; returns the push result and the count of each label."""
    labels: Counter = Counter()

    def items():
        for n, m in enumerate(messages):
            labels[m.label] += 1
            yield Item(f"#{n}", m.value, m.key)

    result = await push(settings, TopicNames.from_settings(settings).raw, items())
    return result, labels


async def outcome_ends(settings: Settings) -> dict[str, int]:
    """Messages on each outcome topic so far (sum of its partitions' end offsets)."""
    return await poll_ends(settings, TopicNames.from_settings(settings).outcomes(), lambda ends: False, 0)


async def poll_ends(settings: Settings, topics: list[str], on_poll: Callable[[dict[str, int]], bool],
                    interval: float) -> dict[str, int]:
    """Count the records on each of `topics` (the sum of its partitions' end offsets) every
    `interval` seconds until `on_poll`, given them, returns True; returns the last totals."""
    tps = list(await end_offsets(settings, topics))
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        # Assigned so that the client keeps their metadata, paused so that it fetches no records.
        consumer.assign(tps)
        consumer.pause(*tps)
        while True:
            ends = await consumer.end_offsets(tps)
            totals = {topic: sum(end for tp, end in ends.items() if tp.topic == topic) for topic in topics}
            if not on_poll(totals) and interval:
                await asyncio.sleep(interval)
                continue
            return totals
    finally:
        await consumer.stop()


async def records_written(settings: Settings) -> dict[str, int]:
    """Records on each topic a worker writes (outcomes, alerts, dedup requests and the tables'
    changelogs), since the topics were created."""
    names = TopicNames.from_settings(settings)
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        found = await consumer.topics()
    finally:
        await consumer.stop()
    read_only = {names.raw, names.alert_rules}
    # The contract's topics carry the prefix, the tables' changelogs the app id.
    prefixes = tuple(p for p in (settings.topic_prefix, f"{settings.app_id}-") if p)
    ours = sorted(t for t in found if t.startswith(prefixes) and t not in read_only)
    totals: dict[str, int] = {}
    for tp, end in (await end_offsets(settings, ours)).items():
        totals[tp.topic] = totals.get(tp.topic, 0) + end
    return totals


def drain(settings: Settings, worker: WorkerProcess, expected: int, rss_at: Sequence[int] = (),
          timeout: float = 3600.0, on_progress: Callable[[str], None] = lambda m: None,
          on_ready: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Wait until the worker has published `expected` more outcomes than when called.

    Articles/s run from the first poll that sees outcomes to the last, so the worker's start-up
    is left out. The worker's RSS is sampled on every poll and reported at each count in `rss_at`.
    `on_ready` is called once the worker is ready.
    """
    names = TopicNames.from_settings(settings)
    base = asyncio.run(outcome_ends(settings))
    called = time.monotonic()
    worker.wait_ready()
    on_ready()
    timeline: list[tuple[float, int, float]] = []  # seconds since the call, outcomes, RSS MB
    cpu: list[tuple[int, float]] = []  # (outcomes, worker CPU seconds) at each poll with outcomes
    rss_samples: dict[int, float] = {}
    pending = sorted(rss_at)
    last_report = [called]

    def on_poll(totals: dict[str, int]) -> bool:
        worker.check()
        done = sum(totals[t] - base[t] for t in names.outcomes())
        now = time.monotonic()
        rss = rss_mb(worker.proc.pid)
        timeline.append((now - called, done, rss))
        if done > 0:
            cpu.append((done, cpu_seconds(worker.proc.pid)))
        while pending and done >= pending[0]:
            rss_samples[pending.pop(0)] = rss
        if now - last_report[0] > 10:
            last_report[0] = now
            on_progress(f"worker: {done:,}/{expected:,} outcomes, RSS {rss:.0f} MB")
        if now - called > timeout:
            raise NewsflowError(f"the worker published {done} of {expected} outcomes in {timeout:.0f}s")
        return done >= expected

    totals = asyncio.run(poll_ends(settings, names.outcomes(), on_poll, POLL_SECONDS))
    first, first_done = next((t, done) for t, done, _ in timeline if done > 0)
    last, processed = timeline[-1][:2]
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        means = stage_means(response.read().decode())
    return {
        "articles": processed,
        "seconds": last - first,
        "startup_seconds": first,
        "articles_per_second": (processed - first_done) / (last - first) if last > first else 0.0,
        # CPU the worker spent per article: what the core loop's time per article compares with,
        # whatever share of a core the machine's other processes left it.
        "cpu_ms_per_article": 1000 * (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) if cpu[-1][0] > cpu[0][0] else None,
        "cpu_ms_by_stretch": cpu_by_stretch(cpu, expected, CPU_STRETCHES),
        "outcomes": {topic.rsplit(".", 1)[-1]: totals[topic] - base[topic] for topic in names.outcomes()},
        "stage_mean_ms": {k: v * 1000 for k, v in means.items()},
        "stage_capacity_per_second": {k: 1 / v for k, v in means.items() if v},
        "rss_mb": {str(k): v for k, v in rss_samples.items()},
        "timeline": timeline,
        # Every record the worker produced (sends, changelog writes), by topic.
        "records_written": asyncio.run(records_written(settings)),
    }


def cpu_by_stretch(samples: Sequence[tuple[int, float]], expected: int, parts: int) -> list[dict[str, float]]:
    """Worker CPU ms per article over `parts` equal stretches of `expected` outcomes, from
    (outcomes, CPU seconds) samples in order: each stretch runs from the first sample at or past
    its start to the first at or past its end (stretches that no two samples span are left out)."""
    found = []
    for n in range(parts):
        start, end = expected * n // parts, expected * (n + 1) // parts
        first = next((s for s in samples if s[0] >= start), None)
        last = next((s for s in samples if s[0] >= end), samples[-1] if samples else None)
        if first is None or last is None or last[0] <= first[0]:
            continue
        found.append({"from": first[0], "to": last[0], "ms_per_article": 1000 * (last[1] - first[1]) / (last[0] - first[0])})
    return found


def isolated(settings: Settings, name: str) -> Settings:
    """`settings` with topics, consumer group and state of their own."""
    tag = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={"topic_prefix": f"{name}{tag}.", "app_id": f"{name}-{tag}", "data_dir": settings.data_dir / f"{name}-{tag}"}
    )


def run(settings: Settings, count: int, dup_rate: float = 0.3, seed: int = 1) -> dict[str, Any]:
    """Pre-load `count` generated messages, then drain them through one worker."""
    settings = isolated(settings, "bench")
    asyncio.run(ensure_topics(settings))
    pushed, labels = asyncio.run(push_messages(settings, Generator(count, dup_rate, 0.05, seed).messages()))
    worker = WorkerProcess(settings, settings.data_dir / "worker.log")
    try:
        result = drain(settings, worker, len(pushed.sent))
        result["worker_rss_mb"] = rss_mb(worker.proc.pid)
    finally:
        worker.stop()
    result["generated"] = dict(labels)
    del result["timeline"]
    return result


def profiled_drain(settings: Settings, count: int, out: Path, dup_rate: float = 0.3, invalid_rate: float = 0.05,
                   seed: int = 1, on_progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Drain `count` generated messages through a new worker on topics of their own while py-spy
    samples it; returns the summary of `profile.summarise`, or {"error": why} without py-spy."""
    if profile.available() is None:
        return {"error": "py-spy is not installed"}
    settings = isolated(settings, "profile").model_copy(update={"data_dir": out / "profile-state"})
    asyncio.run(ensure_topics(settings))
    pushed, _ = asyncio.run(push_messages(settings, Generator(count, dup_rate, invalid_rate, seed).messages()))
    worker = WorkerProcess(settings, out / "profile-worker.log")
    stacks = out / "profile-stacks.txt"
    samplers = []
    said = ""
    try:
        # Sampled from readiness on: imports and recovery are no part of the per-article cost.
        drained = drain(settings, worker, len(pushed.sent), on_progress=on_progress,
                        on_ready=lambda: samplers.append(profile.record(worker.proc.pid, stacks)))
    finally:
        for sampler in samplers:
            said = profile.finish(sampler)
        worker.stop()
    if not stacks.exists():
        return {"error": f"py-spy wrote no samples: {said[-300:] or 'no reason given'}"}
    summary = profile.summarise(stacks.read_text())
    summary["articles_per_second"] = drained["articles_per_second"]
    summary["messages"] = len(pushed.sent)
    return summary
