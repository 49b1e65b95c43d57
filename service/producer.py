"""Sending messages onto a topic with aiokafka: batching, bounded in-flight, per-message results."""

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)

from service import aiokafka_fixes
from service.cli.inputs import Item
from service.errors import BrokerUnavailable, KafkaAuthorizationError, NewsflowError
from service.kafka_security import client_options, principal, refusal
from service.settings import Settings

aiokafka_fixes.apply()

MAX_IN_FLIGHT = 2000
# A broker that stops answering (stopped or frozen mid-push, or cut off) would hold a push for
# ever: the idempotent producer retries a batch without limit, and its flush and stop wait for
# every batch. A chaos run's pusher hung this way across a broker restart (17,000 of 20,000
# articles pushed, then nothing for 17 minutes). So a push gives up after this long without an
# answer and says which items were not acknowledged.
ACK_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


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
    settings: Settings,
    topic: str,
    items: Iterable[Item],
    on_item: Callable[[Item, str | None], None] | None = None,
    ack_timeout: float = ACK_TIMEOUT_SECONDS,
) -> PushResult:
    """Send every item that is not a local reject; never stops at one failure.

    Every item ends up in `sent` (the broker acknowledged it) or in `rejected` with the reason.
    When the broker acknowledges nothing for `ack_timeout` seconds, the push stops there: what
    is unacknowledged is rejected as such (the broker may have written some of it), and what
    was not sent yet is rejected as not sent.
    """
    result = PushResult()
    producer = make_producer(settings)
    try:
        await asyncio.wait_for(producer.start(), ack_timeout)
    except (KafkaConnectionError, OSError, asyncio.TimeoutError) as e:
        await _stop(producer)
        raise await refusal(settings) or BrokerUnavailable(
            f"no Kafka broker answered at {settings.kafka_bootstrap}: start one with "
            "`newsflow kafka start` or set NEWSFLOW_KAFKA_BOOTSTRAP"
        ) from e
    except ClusterAuthorizationFailedError as e:
        # The idempotent producer asks for a producer id first, which needs WRITE on some topic.
        await _stop(producer)
        raise KafkaAuthorizationError(
            f"{principal(settings)} may not produce: the cluster's ACLs allow it WRITE on no topic"
        ) from e
    except BaseException:
        await _stop(producer)  # a start that failed otherwise may still hold connections
        raise
    try:
        await asyncio.wait_for(producer.partitions_for(topic), 15)
    except TopicAuthorizationFailedError as e:
        await _stop(producer)
        raise KafkaAuthorizationError(
            f"{principal(settings)} may not write topic {topic!r}: "
            "the cluster's ACLs must allow it WRITE on that topic"
        ) from e
    except (asyncio.TimeoutError, KafkaError) as e:
        await _stop(producer)
        raise NewsflowError(
            f"topic {topic!r} does not exist on {settings.kafka_bootstrap}: create it with "
            "`newsflow topics create` (the worker also creates it when it starts)"
        ) from e
    unanswered: dict[asyncio.Future, Item] = {}

    def reject(item: Item, reason: str) -> None:
        result.rejected.append((item.origin, reason))
        if on_item:
            on_item(item, reason)

    async def settle(item: Item, fut: asyncio.Future) -> None:
        try:
            meta = await fut
        except KafkaError as e:
            reject(item, f"broker refused: {e}")
            return
        result.sent.append((item.origin, meta.partition, meta.offset))
        if on_item:
            on_item(item, None)

    stalled = False
    queue = iter(items)
    try:
        for item in queue:
            if item.error is not None:
                reject(item, item.error)
                continue
            try:
                fut = await producer.send(topic, value=item.value, key=item.key, timestamp_ms=item.timestamp_ms)
            except KafkaTimeoutError as e:
                # The client's buffer stayed full or the topic's metadata did not come: no broker answers.
                reject(item, f"could not send: {e}")
                stalled = True
                break
            except KafkaError as e:
                reject(item, f"could not send: {e}")
                continue
            task = asyncio.ensure_future(settle(item, fut))
            unanswered[task] = item
            task.add_done_callback(unanswered.pop)
            if len(unanswered) >= MAX_IN_FLIGHT and not await _answered_any(unanswered, ack_timeout):
                stalled = True
                break
        while unanswered and not stalled:
            stalled = not await _answered_any(unanswered, ack_timeout)
        for task, item in list(unanswered.items()):
            task.cancel()
            reject(item, f"no acknowledgement from the broker within {ack_timeout:g}s (it may have written it)")
        if stalled:
            for item in queue:
                reject(item, f"not sent: the broker acknowledged nothing for {ack_timeout:g}s")
    finally:
        await _stop(producer)
    return result


async def _answered_any(unanswered: dict[asyncio.Future, Item], timeout: float) -> bool:
    """Whether an answer came (an acknowledgement or a refusal) within `timeout` seconds."""
    done, _ = await asyncio.wait(unanswered, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    return bool(done)


async def _stop(producer: AIOKafkaProducer) -> None:
    """Stop the client; it waits for its unacknowledged batches, so not for ever."""
    try:
        await asyncio.wait_for(producer.stop(), STOP_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        await _abandon(producer)  # the batches are reported as unacknowledged


async def _abandon(producer: AIOKafkaProducer) -> None:
    """Close what a stop cut short leaves open: its sender and its connections.

    The cut-short stop never reached the client's close, and a connection left open outlives
    the event loop (aiokafka warns of it when it is collected, in whatever code runs then).
    The sender's cancelled task still awaits its produce requests: closing the connections
    fails them at once, and a second close takes any connection they opened meanwhile.
    """
    sender = producer._sender  # aiokafka has no public way to cancel a stop's flush
    task = sender.sender_task if sender is not None else None
    if task is not None:
        task.cancel()
    await producer.client.close()
    if task is not None:
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
    await producer.client.close()
