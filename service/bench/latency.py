"""End-to-end latency under a steady load below capacity.

A paced producer sends new generated articles onto the raw topic at a fixed rate while a
reader follows the outcome topics. Each article's latency runs from its raw record's
timestamp (set by the producer as it sends) to the moment the reader receives its outcome:
all that a consumer of the outcome topics waits, batching and fetching included.
"""

import asyncio
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from service import codec
from service.bench.worker import cpu_seconds
from service.consumer import end_offsets, read
from service.generate import Generated
from service.producer import make_producer
from service.settings import Settings
from service.topic_names import TopicNames

# The producer catches up with its schedule this often.
TICK_SECONDS = 0.005
READER_START_SECONDS = 2.0
# Latency by when the article was sent, in windows this long: a failed p99 then shows whether
# a standing queue, one stall or a growing backlog made it.
WINDOW_SECONDS = 10


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies in seconds."""
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "max": max(latencies)}


def windows(samples: Sequence[tuple[float, float, float]], seconds: float = WINDOW_SECONDS) -> list[dict[str, float]]:
    """Per window of `seconds` from the first send, of (sent at, latency, worker's part) samples
    in seconds: how many, p50 and max of the latency, and p50 and max of the worker's part (raw
    record to outcome record, both timestamped by their producers; the rest is delivery to the
    reader). A tail with the worker's max well under the latency's was held in delivery."""
    if not samples:
        return []
    first = min(sample[0] for sample in samples)
    grouped: dict[int, list[tuple[float, float, float]]] = {}
    for sample in samples:
        grouped.setdefault(int((sample[0] - first) // seconds), []).append(sample)
    return [{"from": k * seconds, "count": len(group), "p50": percentile([s[1] for s in group], 50),
             "max": max(s[1] for s in group), "worker_p50": percentile([s[2] for s in group], 50),
             "worker_max": max(s[2] for s in group)}
            for k, group in sorted(grouped.items())]


# The processes' and the machine's CPU are read this often during the paced load.
CPU_SAMPLE_SECONDS = 1.0


def machine_cpu() -> dict[str, float]:
    """CPU seconds this machine has spent so far, all cores: "busy" (neither idle nor waiting on
    I/O) and "steal" (taken by the hypervisor for other tenants), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick}


def cpu_now(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process, and the machine's busy and stolen seconds."""
    return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, **machine_cpu()}


def cpu_windows(samples: Sequence[tuple[float, dict[str, float]]], first: float,
                seconds: float = WINDOW_SECONDS) -> dict[int, dict[str, float]]:
    """Cores each counter used in each window of `seconds` from `first` (a window's start, in
    seconds, to {name: CPU seconds per second}), from (wall time, cumulative CPU seconds) samples
    in time order; each interval between two samples counts in the window of its midpoint."""
    used: dict[int, dict[str, float]] = {}
    wall: dict[int, float] = {}
    for (t0, before), (t1, after) in zip(samples, samples[1:]):
        if t1 <= t0:
            continue
        window = int(((t0 + t1) / 2 - first) // seconds) * int(seconds)
        wall[window] = wall.get(window, 0.0) + t1 - t0
        totals = used.setdefault(window, {})
        for name, value in after.items():
            totals[name] = totals.get(name, 0.0) + max(0.0, value - before.get(name, value))
    return {window: {name: round(total / wall[window], 3) for name, total in totals.items()}
            for window, totals in sorted(used.items()) if window >= 0}


async def sample_cpu(pids: Mapping[str, int], into: list[tuple[float, dict[str, float]]],
                     interval: float = CPU_SAMPLE_SECONDS) -> None:
    """Append (wall time, `cpu_now(pids)`) to `into` every `interval` seconds until cancelled."""
    while True:
        into.append((time.time(), cpu_now(pids)))
        await asyncio.sleep(interval)


async def paced_send(settings: Settings, topic: str, messages: Iterator[Generated], rate: float,
                     seconds: float) -> int:
    """Send `rate` messages a second for `seconds`; returns how many were sent."""
    producer = make_producer(settings, client_id="newsflow-bench-paced")
    sent = 0
    try:
        await producer.start()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                message = next(messages)
                await producer.send(topic, value=message.value, key=message.key)
                sent += 1
            await asyncio.sleep(TICK_SECONDS)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def measure(settings: Settings, messages: Iterator[Generated], rate: float, seconds: float,
                  drain_timeout: float = 60.0, watch: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Latency of every outcome of `rate`×`seconds` new messages, and how many never arrived
    within `drain_timeout` of the last send. `watch`: processes (name to pid) whose CPU, with
    the machine's, is reported for each window, so a window's tail can be set against what
    else ran (this process is always watched, as "bench")."""
    names = TopicNames.from_settings(settings)
    start = await end_offsets(settings, names.outcomes())
    samples: list[tuple[float, float, float]] = []  # (sent at, latency, worker's part), see `windows`
    sent: list[int] = []

    def on_message(record) -> None:
        received_ms = time.time() * 1000
        raw_ms = codec.loads(record.value)["raw"].get("timestamp_ms")
        if raw_ms is not None:
            samples.append((raw_ms / 1000, (received_ms - raw_ms) / 1000, (record.timestamp - raw_ms) / 1000))

    async def send() -> None:
        # The reader must be following before the first send, or its start-up counts as latency.
        await asyncio.sleep(READER_START_SECONDS)
        sent.append(await paced_send(settings, names.raw, messages, rate, seconds))

    reader = read(settings, names.outcomes(), on_message, start=start, follow=True,
                  timeout=READER_START_SECONDS + seconds + drain_timeout, until=lambda: bool(sent) and len(samples) >= sent[0])
    cpu: list[tuple[float, dict[str, float]]] = []
    pids = {**(watch or {}), "bench": os.getpid()}
    sampler = asyncio.create_task(sample_cpu(pids, cpu))
    try:
        await asyncio.gather(reader, send())
    finally:
        sampler.cancel()
    cpu.append((time.time(), cpu_now(pids)))  # closes the last interval
    result: dict[str, Any] = {"rate": rate, "seconds": seconds, "sent": sent[0], "received": len(samples)}
    if samples:
        result.update(summary([latency for _, latency, _ in samples]))
        result["windows"] = windows(samples)
        cores = cpu_windows(cpu, min(sample[0] for sample in samples))
        for window in result["windows"]:
            window["cpu"] = cores.get(int(window["from"]), {})
    return result
