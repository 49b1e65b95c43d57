"""Producing with `newsflow push`'s code and reading back with `tail`'s, on the real broker."""

import asyncio

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.consumer import end_offsets, read
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import raw_bytes


def test_pushed_messages_arrive_intact_with_keys(settings_factory):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    asyncio.run(ensure_topics(settings))
    items = [Item(f"m{i}", raw_bytes(id=f"id-{i}"), f"id-{i}".encode()) for i in range(50)]
    items.append(Item("bad", None, error="local reject"))
    result = asyncio.run(push(settings, names.raw, items))
    assert len(result.sent) == 50 and result.rejected == [("bad", "local reject")]
    received = {}
    asyncio.run(read(settings, [names.raw], lambda r: received.__setitem__(r.key, r.value)))
    assert received == {i.key: i.value for i in items[:50]}
    ends = asyncio.run(end_offsets(settings, [names.raw]))
    assert sum(ends.values()) == 50


def test_read_last_n_per_partition(settings_factory):
    settings = settings_factory(topic_partitions=1)
    names = TopicNames.from_settings(settings)
    asyncio.run(ensure_topics(settings))
    asyncio.run(push(settings, names.raw, [Item(str(i), str(i).encode()) for i in range(10)]))
    seen = []
    asyncio.run(read(settings, [names.raw], lambda r: seen.append(r.value), last=3))
    assert seen == [b"7", b"8", b"9"]
