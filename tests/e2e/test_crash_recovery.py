"""SIGKILL the worker mid-stream, restart it: every message still reaches an outcome."""

import asyncio
import time

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.consumer import read
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import random_text, raw_bytes

COUNT = 6000


def _wait_for_outcomes(settings, names, at_least: int, timeout: float) -> int:
    seen = [0]

    def count(_record) -> bool:
        seen[0] += 1
        return seen[0] >= at_least

    asyncio.run(read(settings, names.outcomes(), count, follow=True, timeout=timeout))
    return seen[0]


def test_sigkill_mid_stream_loses_nothing(settings_factory, start_worker, capsys):
    settings = settings_factory(session_timeout=8.0)
    names = TopicNames.from_settings(settings)
    items = [
        Item(str(i), raw_bytes(id=f"crash-{i}", url=f"https://n.example/{i}", body=random_text(i, 300)) if i % 10 else b"bad json")
        for i in range(COUNT)
    ]
    asyncio.run(ensure_topics(settings))
    result = asyncio.run(push(settings, names.raw, items))
    assert len(result.sent) == COUNT

    first = start_worker(settings)
    done_at_kill = _wait_for_outcomes(settings, names, at_least=300, timeout=120)
    first.kill()
    assert done_at_kill < COUNT, "the worker finished before it could be killed mid-stream"

    restarted_at = time.monotonic()
    start_worker(settings)
    log = asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=240, linger=3))

    assert not log.missing, f"{len(log.missing)} of {COUNT} messages lost"
    assert not log.conflicting(), "a repeated message got a different id or outcome topic"
    with capsys.disabled():
        print(f"\n[crash recovery] {COUNT} messages, killed after >= {done_at_kill} outcomes; "
              f"lost 0; repeated events: {log.repeats}; all outcomes {time.monotonic() - restarted_at:.1f}s after restart")
