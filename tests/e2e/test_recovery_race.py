"""Regression: a worker that restores its table from the changelog must not drop the first
message of a topic its group never committed (faust-streaming #596; see service/faust_fixes.py).

Without the fix this lost raw offset 0 of a partition in most runs: same app id, a new topic
prefix, a wiped state dir, messages pushed before the worker starts.
"""

import asyncio

from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import random_text, raw_bytes
from service.admin import ensure_topics


def _items(tag: str, count: int) -> list[Item]:
    return [Item(f"{tag}{i}", raw_bytes(id=f"{tag}-{i}", body=random_text(hash((tag, i)) % 100000, 120))) for i in range(count)]


def test_no_message_is_dropped_when_recovery_reads_a_changelog(settings_factory, start_worker, tmp_path):
    first = settings_factory(topic_partitions=4)
    start_worker(first)
    done = asyncio.run(push(first, TopicNames.from_settings(first).raw, _items("warm", 40)))
    assert not asyncio.run(collect_outcomes(first, done.sent_positions, timeout=120)).missing
    start_worker.stop_all()

    for attempt in range(3):
        # Same group and changelog, new topics, empty local state: recovery must read the changelog.
        again = first.model_copy(update={"topic_prefix": f"{first.topic_prefix}r{attempt}.", "data_dir": tmp_path / f"wiped-{attempt}"})
        asyncio.run(ensure_topics(again))
        pushed = asyncio.run(push(again, TopicNames.from_settings(again).raw, _items(f"r{attempt}", 36)))
        worker = start_worker(again, wait=False)
        log = asyncio.run(collect_outcomes(again, pushed.sent_positions, timeout=120))
        # A worker that took nothing logs its consumer's state (service.stall_watch): shown here.
        stalls = [line for line in worker.log_path.read_text().splitlines() if "stall:" in line]
        assert not log.missing, f"attempt {attempt}: lost {sorted(log.missing)}; {stalls or 'no stall logged'}"
        start_worker.stop_all()
