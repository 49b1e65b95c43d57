"""The Faust ceiling: one Faust agent copying a topic to another, nothing else.

The worker's articles go through two such hops (raw -> dedup request -> outcome) plus table
writes; this measures what one hop costs on its own, with the worker's Faust options and
fixes, so that the benchmark can say how much of the worker's CPU per article Faust takes
before newsflow's code does anything. Run as `python -m service.bench.faust_hop SOURCE SINK`
with the settings in the environment; `run` starts it, times it and stops it.
"""

import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from service.bench.passthrough import create_topic
from service.bench.worker import POLL_SECONDS, cpu_seconds, poll_ends
from service.errors import NewsflowError
from service.settings import Settings, get_settings
from service.worker import WorkerProcess


def build_app(settings: Settings, source: str, sink: str):
    """A Faust app whose one agent sends every record of `source` to `sink` unchanged."""
    import faust

    # Importing service.app applies newsflow's Faust fixes and builds (never starts) its app.
    from service import faust_fixes
    from service.app import app_options

    app = faust.App(f"{settings.app_id}-faust-hop", **app_options(settings), autodiscover=False, web_enabled=False,
                    store="memory://", datadir=str(settings.data_dir / "faust-hop"))
    faust_fixes.set_fetch_limits(app, settings.fetch_max_wait_ms, settings.fetch_min_bytes)
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    source_topic, sink_topic = app.topic(source, **raw), app.topic(sink, **raw)

    # concurrency=1, as the worker's agents (see service.agents.ingest).
    @app.agent(source_topic, concurrency=1)
    async def hop(stream):
        async for event in stream.events():
            await sink_topic.send(key=event.key, value=event.value)

    return app


def run(settings: Settings, source: str, count: int, partitions: int, log_path: Path,
        timeout: float = 900.0) -> dict[str, Any]:
    """Copy the first `count` records of `source` to a new topic through one Faust agent in a
    child process. The rate and the CPU per record run from the last poll that saw the sink
    empty to the one that saw it complete, so the child's start-up is left out. (The worker's
    drain starts at the first poll with outcomes; a hop this fast may copy a small count
    between two polls.)"""
    sink = f"{source}.faust-hop-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topic(settings, sink, partitions))
    child = WorkerProcess(settings, log_path, ("service.bench.faust_hop", source, sink))
    samples: list[tuple[float, int, float]] = []  # time, records on the sink, child CPU seconds
    started = time.monotonic()

    def on_poll(totals: dict[str, int]) -> bool:
        child.check()
        copied = totals[sink]
        sample = (time.monotonic(), copied, cpu_seconds(child.proc.pid))
        if copied:
            samples.append(sample)
        else:
            samples[:] = [sample]
        if time.monotonic() - started > timeout:
            raise NewsflowError(f"the Faust hop copied {copied} of {count} records in {timeout:.0f}s; see {log_path}")
        return copied >= count

    try:
        asyncio.run(poll_ends(settings, [sink], on_poll, POLL_SECONDS))
    finally:
        child.stop()
    (t0, n0, cpu0), (t1, n1, cpu1) = samples[0], samples[-1]
    return {
        "messages": n1,
        "seconds": t1 - t0,
        "articles_per_second": (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0,
        "cpu_ms_per_message": 1000 * (cpu1 - cpu0) / (n1 - n0) if n1 > n0 else None,
        "complete": n1 >= count,
    }


def main(argv: list[str]) -> None:
    from faust.worker import Worker

    source, sink = argv
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Worker(build_app(settings, source, sink), loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
