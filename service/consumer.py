"""Reading topics without a consumer group: for `tail`, `demo` and tests."""

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from service import aiokafka_fixes
from service.errors import BrokerUnavailable, NewsflowError
from service.kafka_security import client_options, refusal
from service.settings import Settings

aiokafka_fixes.apply()


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_list,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.max_message_bytes,
        fetch_max_bytes=max(settings.max_message_bytes, 52428800),
        client_id="newsflow-reader",
        **client_options(settings),
    )


async def _start(consumer: AIOKafkaConsumer, settings: Settings) -> None:
    try:
        await consumer.start()
    except (KafkaConnectionError, OSError) as e:
        await consumer.stop()
        unreachable = BrokerUnavailable(f"no Kafka broker answered at {settings.kafka_bootstrap}")
        raise await refusal(settings) or unreachable from e
    except BaseException:
        await consumer.stop()  # a start that failed otherwise may still hold connections
        raise


# Right after a broker resumes or restarts, a metadata answer can leave out a topic that exists
# (seen once after a frozen broker was thawed): ask again for a few seconds before calling it missing.
METADATA_SETTLE_S = 3.0


async def _partitions(
    consumer: AIOKafkaConsumer, topics: list[str], settle: float = METADATA_SETTLE_S
) -> list[TopicPartition]:
    tps = []
    for topic in topics:
        parts = await _topic_partitions(consumer, topic, time.monotonic() + settle)
        if not parts:
            raise NewsflowError(f"topic {topic!r} does not exist")
        tps.extend(TopicPartition(topic, p) for p in sorted(parts))
    return tps


async def _topic_partitions(consumer: AIOKafkaConsumer, topic: str, deadline: float) -> set[int] | None:
    parts, pause = consumer.partitions_for_topic(topic), 0.1
    while not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(2 * pause, 1.0)
    return parts


async def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of `topics` (where a reader would start to see new data)."""
    consumer = make_consumer(settings)
    await _start(consumer, settings)
    try:
        tps = await _partitions(consumer, topics)
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def read(
    settings: Settings,
    topics: list[str],
    on_message: Callable[[ConsumerRecord], bool | None],
    *,
    start: dict[TopicPartition, int] | None = None,
    last: int | None = None,
    follow: bool = False,
    timeout: float | None = None,
    until: Callable[[], bool] | None = None,
) -> bool:
    """Call `on_message` for each record until it or `until()` (asked after each poll) returns
    True (→ True), the end is reached when not following, or `timeout` seconds pass (→ False).

    Starts at `start` offsets, else `last` records before the end of each partition, else the beginning.
    """
    consumer = make_consumer(settings)
    await _start(consumer, settings)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        tps = await _partitions(consumer, topics)
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if start is not None:
                consumer.seek(tp, start.get(tp, begins[tp]))
            elif last is not None:
                consumer.seek(tp, max(begins[tp], ends[tp] - last))
            else:
                consumer.seek(tp, begins[tp])
        while True:
            if not follow and await _reached(consumer, ends):
                return False
            wait = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
            batches = await consumer.getmany(timeout_ms=int(wait * 1000))
            for records in batches.values():
                for record in records:
                    if on_message(record):
                        return True
            if until is not None and until():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


def run(coro):
    """Run a coroutine from synchronous CLI code."""
    return asyncio.run(coro)


def fetch_state(client: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[str, dict | None]:
    """The client's own view of each partition, for a stall warning: its position (the next
    offset it will hand out; None while it waits for an offset reset) and whether it is paused.
    None for a partition it does not hold. Reads aiokafka's subscription state: no request."""
    assignment = client._subscription.subscription.assignment if client._subscription.subscription else None
    found: dict[str, dict | None] = {}
    for tp in tps:
        state = assignment.state_value(tp) if assignment is not None else None
        found[f"{tp.topic}:{tp.partition}"] = None if state is None else {
            "position": state.position if state.has_valid_position else None, "paused": state.paused}
    return found
