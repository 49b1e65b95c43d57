"""A consumer group's partitions that were never committed go back to their start when faust
seeks to the committed offsets (service/faust_fixes.py): aiokafka's `seek_to_committed` leaves
them where the client's position is, past records that faust dropped while its flow was stopped."""

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.faust_fixes import rewind_uncommitted
from service.kafka_security import client_options
from service.producer import push
from service.topic_names import TopicNames


async def _positions_after(settings, topic: str, rewind: bool, skip: set[str]) -> tuple[dict, dict, list, dict]:
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, group_id=f"{settings.app_id}-rewind",
                                enable_auto_commit=False, auto_offset_reset="earliest", **client_options(settings))
    await consumer.start()
    try:
        consumer.assign(tps)
        taken: dict[TopicPartition, list[int]] = {tp: [] for tp in tps}
        while sum(map(len, taken.values())) < 10:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                taken[tp] += [r.offset for r in records]
        # Partition 1 committed up to offset 3, partition 0 never: a restart or a seek now must
        # bring back partition 0 from its start.
        await consumer.commit({tps[1]: 3})
        committed = await consumer.seek_to_committed()
        rewound = await rewind_uncommitted(consumer, committed, skip) if rewind else []
        positions = {tp.partition: await consumer.position(tp) for tp in tps}
        return {tp.partition: o for tp, o in committed.items()}, positions, [tp.partition for tp in rewound], taken
    finally:
        await consumer.stop()


def _setup(settings_factory):
    settings = settings_factory(topic_partitions=2)
    topic = TopicNames.from_settings(settings).raw
    asyncio.run(ensure_topics(settings))
    items = [Item(f"m{i}", f"v{i}".encode(), f"k{i}".encode()) for i in range(40)]
    asyncio.run(push(settings, topic, items))
    return settings, topic


def test_seek_to_committed_alone_leaves_a_never_committed_partition_past_its_records(settings_factory):
    settings, topic = _setup(settings_factory)
    committed, positions, _, taken = asyncio.run(_positions_after(settings, topic, rewind=False, skip=set()))
    assert committed == {0: None, 1: 3}
    assert positions[1] == 3
    # What the fix is for: records of partition 0 already taken would never be fetched again.
    assert positions[0] == max(taken[TopicPartition(topic, 0)]) + 1 > 0


def test_rewind_sends_never_committed_partitions_to_their_start(settings_factory):
    settings, topic = _setup(settings_factory)
    committed, positions, rewound, _ = asyncio.run(_positions_after(settings, topic, rewind=True, skip=set()))
    assert rewound == [0]
    assert positions == {0: 0, 1: 3}


def test_rewind_leaves_skipped_topics_alone(settings_factory):
    settings, topic = _setup(settings_factory)
    committed, positions, rewound, taken = asyncio.run(_positions_after(settings, topic, rewind=True, skip={topic}))
    assert rewound == []
    assert positions[0] == max(taken[TopicPartition(topic, 0)]) + 1


def test_fetch_state_reports_the_client_s_position_and_pause(settings_factory):
    """What the stall warning shows of the Kafka client (service.agents.watch)."""
    from service.consumer import fetch_state

    settings, topic = _setup(settings_factory)
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", **client_options(settings))
        await consumer.start()
        try:
            consumer.assign(tps[:1])
            await consumer.seek_to_beginning(tps[0])
            taken = 0
            while taken < 5:
                taken += sum(len(r) for r in (await consumer.getmany(tps[0], timeout_ms=1000, max_records=5 - taken)).values())
            consumer.pause(tps[0])
            return fetch_state(consumer, tps)
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == {f"{topic}:0": {"position": 5, "paused": True}, f"{topic}:1": None}
