"""Sending messages onto a topic with aiokafka: batching, bounded in-flight, per-message results."""

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from service.cli.inputs import Item
from service.errors import BrokerUnavailable, KafkaAuthorizationError, NewsflowError
from service.kafka_security import client_options, principal, refusal
from service.settings import Settings

MAX_IN_FLIGHT = 2000


@dataclass
class PushResult:
    sent: list[tuple[str, int, int]] = field(default_factory=list)  # origin, partition, offset
    rejected: list[tuple[str, str]] = field(default_factory=list)  # origin, reason

    @property
    def sent_positions(self) -> set[tuple[int, int]]:
        return {(p, o) for _, p, o in self.sent}


def make_producer(settings: Settings, **overrides) -> AIOKafkaProducer:
    options = dict(
        bootstrap_servers=settings.bootstrap_list,
        acks="all",
        linger_ms=5,
        max_request_size=settings.max_message_bytes,
        enable_idempotence=True,
        client_id="newsflow-push",
        **client_options(settings),
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def push(
    settings: Settings, topic: str, items: Iterable[Item], on_item: Callable[[Item, str | None], None] | None = None
) -> PushResult:
    """Send every item that is not a local reject; never stops at one failure."""
    result = PushResult()
    producer = make_producer(settings)
    try:
        await producer.start()
    except (KafkaConnectionError, OSError) as e:
        await producer.stop()
        raise await refusal(settings) or BrokerUnavailable(
            f"no Kafka broker answered at {settings.kafka_bootstrap}: start one with "
            "`newsflow kafka start` or set NEWSFLOW_KAFKA_BOOTSTRAP"
        ) from e
    except ClusterAuthorizationFailedError as e:
        # The idempotent producer asks for a producer id first, which needs WRITE on some topic.
        await producer.stop()
        raise KafkaAuthorizationError(
            f"{principal(settings)} may not produce: the cluster's ACLs allow it WRITE on no topic"
        ) from e
    try:
        await asyncio.wait_for(producer.partitions_for(topic), 15)
    except TopicAuthorizationFailedError as e:
        await producer.stop()
        raise KafkaAuthorizationError(
            f"{principal(settings)} may not write topic {topic!r}: "
            "the cluster's ACLs must allow it WRITE on that topic"
        ) from e
    except (asyncio.TimeoutError, KafkaError) as e:
        await producer.stop()
        raise NewsflowError(
            f"topic {topic!r} does not exist on {settings.kafka_bootstrap}: create it with "
            "`newsflow topics create` (the worker also creates it when it starts)"
        ) from e
    pending: set[asyncio.Future] = set()

    async def settle(item: Item, fut: asyncio.Future) -> None:
        try:
            meta = await fut
        except KafkaError as e:
            result.rejected.append((item.origin, f"broker refused: {e}"))
            if on_item:
                on_item(item, str(e))
            return
        result.sent.append((item.origin, meta.partition, meta.offset))
        if on_item:
            on_item(item, None)

    try:
        for item in items:
            if item.error is not None:
                result.rejected.append((item.origin, item.error))
                if on_item:
                    on_item(item, item.error)
                continue
            try:
                fut = await producer.send(topic, value=item.value, key=item.key, timestamp_ms=item.timestamp_ms)
            except KafkaError as e:
                result.rejected.append((item.origin, f"could not send: {e}"))
                if on_item:
                    on_item(item, str(e))
                continue
            task = asyncio.ensure_future(settle(item, fut))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if len(pending) >= MAX_IN_FLIGHT:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await producer.flush()
        if pending:
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return result
