"""Workarounds for faust-streaming, applied once, by `service.app`: races that lose messages,
a commit that can pass unsent table writes, a producer that writes a batch twice when a response
is lost, and a producer-buffer limit that floods the log. Also: holding partitions' fetches
safely, and a shorter wait for an empty fetch. `apply` also applies `service.aiokafka_fixes`,
for the clients Faust makes.

At the end of table recovery (and of every rebalance) faust's `Recovery.on_recovery_completed`
resumes the stream partitions, awaits `consumer.perform_seek()`, then calls
`app.flow_control.resume()`, which empties every stream queue, and only then
`consumer.resume_flow()`. When recovery had to read a changelog, the fetcher is already running
with the flow on, so during the `perform_seek()` await it delivers stream messages into the
queues, and `flow_control.resume()` throws away those the agents have not taken yet.
`perform_seek()` is what should bring them back, but aiokafka's `seek_to_committed` only seeks
partitions with a committed offset > 0: on a topic the consumer group never committed, the fetch
position stays after the dropped messages, they are never fetched again, and faust commits the
later offsets over them (faust-streaming issue #596). `newsflow demo` lost raw offset 0 this way.

Fix: stop the consumer's flow before that sequence. The fetcher then delivers nothing until
`resume_flow()` at its end, after the queues were cleared, from the position perform_seek set.

That left a narrower race (twice in CI a restarted worker lost all 36 raw messages, and its
stall watch showed the raw partitions active and fetched, nothing buffered, nothing taken): the
fetcher hands the client the consumer's live set of active partitions, and the client's
`fetched_records` waits on that set in the consumer thread. `resume_partitions` adds the stream
partitions to it after the flow was stopped, the waiting fetch returns their records (the
client's position moves past them), faust's `getmany` finds the flow stopped, drops them and
calls `perform_seek()`, which again leaves never-committed partitions where they are. Any
records dropped with the flow stopped (a rebalance, the "flow not active" path) go the same way.
Fix: `seek_to_committed` also sends the stream partitions without a committed offset (None, or
0, which aiokafka skips too) back to their start, as `auto_offset_reset="earliest"` would on a
fresh consumer. Messages taken since are processed again (at least once); none is skipped.
Changelog partitions are left alone: recovery seeks them itself from the tables' offsets.

Table writes go to their changelogs through faust's producer buffer, and before committing
offsets faust flushes it. But `ProducerBuffer.flush` gives up as soon as no write went out for
0.1 s (while the broker restarts, say), and it does not count the write being handed to the
client. The offsets were then committed past table writes still in memory; a SIGKILL lost
them, and the worker that took the partition over had a table without them. With two workers,
a broker restart and four SIGKILLs, 18 articles were filed both as original and as duplicate.
(A single worker hid it: its own RocksDB had kept the writes.) Fix: `flush` waits until the
writes buffered when it began are in the client, or raises after FLUSH_TIMEOUT_SECONDS, so
the commit fails instead (faust crashes the worker; its messages are processed again).

Outside transactions faust's producer is not idempotent: when the broker has written a batch
but its answer is lost (a broker restart, a dropped connection), aiokafka sends the batch again
and the broker writes it a second time. A one-worker chaos run (three SIGKILLs, one broker
restart) published one batch of three alert events twice this way: the same records, the same
timestamps, at offsets 488-490 and 491-493. Fix: the producer is always idempotent (acks=all,
which the app asks for anyway, and enable_idempotence), so the broker drops the resent batch.

The buffer also has a size limit. Whenever it holds more
than `ProducerBuffer.max_messages` (100) the streams stop, faust logs a WARNING and an INFO line,
and waits until 100 were sent. The dedup step writes about three changelog records per
article, so under load the buffer sits at that limit: 4,878 such lines over a 200k-article
drain. Raising it to PRODUCER_BUFFER_MESSAGES (a second or so of changelog writes, a few MB)
silenced them and left the drain rate as it was (374-379 vs 378-382 articles/s, 10k drains).

Holding partitions: `hold_fetching` stops fetching some partitions until `release_fetching`
(service.backlog_gate decides when). Faust's `pause_partitions` would drop the records of a
partition that were already polled when it was paused (its poll loop skips records of inactive
partitions); a held partition is marked as faust marks one whose stream buffer is full, so those
records are delivered, and faust's own "buffer drained" does not resume a held partition.

How long a fetch may wait: faust creates its consumer with `fetch_max_wait_ms=1500`, and aiokafka
sends at most one fetch per broker at a time, leaving out partitions whose last records are not
yet consumed. While the dedup agent worked through the requests it had, the fetch in flight
asked only for the raw partitions; once those were drained (or held, see above) the broker kept
it for 1.5 s, and the dedup partition's next records waited behind it. py-spy dumps of a worker
draining 20k messages found both of its threads in `select` 17 times in 25, and it used 55-60 %
of a core. `set_fetch_limits` gives the consumer a shorter wait (`fetch_max_wait_ms`); with
20 ms the same drain went from 248 to 407-439 articles/s at 100 % of a core. It also sets
`fetch_min_bytes`, so that at moderate rates a fetch carries more than an article or two.
"""

import asyncio
from collections.abc import Collection, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Producer
from faust.transport.producer import ProducerBuffer

from service import aiokafka_fixes

PRODUCER_BUFFER_MESSAGES = 2_000
FLUSH_TIMEOUT_SECONDS = 120.0
_ORIGINAL_PUT = ProducerBuffer.put
_ORIGINAL_SEND_PENDING = ProducerBuffer._send_pending
_ORIGINAL_FLUSH = ProducerBuffer.flush
_ORIGINAL_SETTINGS_EXTRA = Producer._settings_extra
_ORIGINAL_ON_BUFFER_DROP = Consumer.on_buffer_drop
_ORIGINAL_SEEK_TO_COMMITTED = AIOKafkaConsumerThread.seek_to_committed
_ORIGINAL_CREATE_WORKER_CONSUMER = AIOKafkaConsumerThread._create_worker_consumer
IDEMPOTENT = {"acks": "all", "enable_idempotence": True}

_ORIGINALS = {
    "on_recovery_completed": Recovery.on_recovery_completed,
    "_resume_streams": Recovery._resume_streams,
}


def _stopping_flow_first(original):
    async def wrapper(self: Recovery, generation_id: int = 0) -> None:
        # Every path in `original` that resumes stream partitions ends with resume_flow();
        # the early return ("Recovery rebalancing again") leaves it to the next rebalance.
        self.app.consumer.stop_flow()
        await original(self, generation_id)

    wrapper.__name__ = original.__name__
    wrapper.__wrapped__ = original
    return wrapper


async def rewind_uncommitted(consumer: AIOKafkaConsumer, committed: Mapping[TopicPartition, int | None],
                             skip_topics: Collection[str] = ()) -> list[TopicPartition]:
    """Send the partitions of `committed` (what `seek_to_committed` returned) that have no
    committed offset back to their first offset; returns them. `skip_topics` are left alone."""
    uncommitted = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip_topics]
    if uncommitted:
        await consumer.seek_to_beginning(*uncommitted)
    return uncommitted


async def _seek_to_committed_or_start(self: AIOKafkaConsumerThread) -> Mapping[TopicPartition, int | None]:
    committed = await _ORIGINAL_SEEK_TO_COMMITTED(self)
    app = self.consumer.app
    if app.conf.consumer_auto_offset_reset == "earliest":
        await self.call_thread(rewind_uncommitted, self._ensure_consumer(), committed, app.tables.changelog_topics)
    return committed


def _put_counted(self: ProducerBuffer, fut) -> None:
    self.newsflow_put = getattr(self, "newsflow_put", 0) + 1
    _ORIGINAL_PUT(self, fut)


async def _send_pending_counted(self: ProducerBuffer, fut) -> None:
    await _ORIGINAL_SEND_PENDING(self, fut)
    self.newsflow_sent = getattr(self, "newsflow_sent", 0) + 1


async def _flush_all(self: ProducerBuffer) -> None:
    """Until every write buffered when the flush began is in the Kafka client (whose own flush
    then waits for delivery). Not until the buffer is empty: under load the agents keep adding
    to it, and a commit only needs the writes of the messages it covers."""
    if self.app is not None and self.app.conf.producer_threaded:
        return await _ORIGINAL_FLUSH(self)
    target = getattr(self, "newsflow_put", 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FLUSH_TIMEOUT_SECONDS
    while getattr(self, "newsflow_sent", 0) < target:
        if self.state != "running":
            if self.size:
                raise RuntimeError("Cannot flush: Producer not Running")
            return  # stopping: the write being handed over is the client's to finish, as before
        if loop.time() > deadline:
            unsent = target - getattr(self, "newsflow_sent", 0)
            raise RuntimeError(f"{unsent} table writes not sent within {FLUSH_TIMEOUT_SECONDS:.0f}s; "
                               "not committing past them")
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
        except asyncio.TimeoutError:
            pass  # a slow or restarting broker: keep waiting


def _idempotent_settings(self: Producer):
    # faust asks for these only inside a transaction (exactly_once); they are needed always.
    return {**_ORIGINAL_SETTINGS_EXTRA(self), **IDEMPOTENT}


def hold_fetching(consumer: Consumer, tps) -> None:
    """Stop fetching `tps` until `release_fetching`; their records already polled are delivered."""
    held = consumer.__dict__.setdefault("newsflow_held", set())
    active = consumer._get_active_partitions()
    for tp in tps:
        held.add(tp)
        active.discard(tp)
        consumer._buffered_partitions.add(tp)


def held_partitions(consumer: Consumer) -> set:
    """The partitions `hold_fetching` holds now."""
    return set(consumer.__dict__.get("newsflow_held", ()))


def release_fetching(consumer: Consumer) -> None:
    """Fetch the held partitions again, those still assigned here and not paused otherwise."""
    held = consumer.__dict__.get("newsflow_held")
    if not held:
        return
    assigned = consumer.assignment()
    active = consumer._get_active_partitions()
    for tp in held:
        consumer._buffered_partitions.discard(tp)
        if tp in assigned and tp not in consumer._paused_partitions:
            active.add(tp)
    held.clear()


def set_fetch_limits(app, max_wait_ms: int, min_bytes: int = 1) -> None:
    """Make `app`'s stream consumer ask the broker to hold a fetch until `min_bytes` of records
    are there, at most `max_wait_ms` (faust fixes the wait at 1,500 ms); call before the app
    starts."""
    app.__dict__["newsflow_fetch_limits"] = (max_wait_ms, min_bytes)


def _create_worker_consumer_with_fetch_limits(self: AIOKafkaConsumerThread, transport):
    consumer = _ORIGINAL_CREATE_WORKER_CONSUMER(self, transport)
    limits = self.app.__dict__.get("newsflow_fetch_limits")
    if limits is not None:
        # Both read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms, consumer._fetch_min_bytes = limits
    return consumer


def _buffer_drained_unless_held(self: Consumer, tp) -> None:
    if tp not in self.__dict__.get("newsflow_held", ()):
        _ORIGINAL_ON_BUFFER_DROP(self, tp)


def apply() -> None:
    aiokafka_fixes.apply()
    for name, original in _ORIGINALS.items():
        if getattr(Recovery, name) is original:
            setattr(Recovery, name, _stopping_flow_first(original))
    ProducerBuffer.max_messages = max(ProducerBuffer.max_messages, PRODUCER_BUFFER_MESSAGES)
    if ProducerBuffer.flush is _ORIGINAL_FLUSH:
        ProducerBuffer.flush = _flush_all
        ProducerBuffer.put = _put_counted
        ProducerBuffer._send_pending = _send_pending_counted
    if AIOKafkaConsumerThread.seek_to_committed is _ORIGINAL_SEEK_TO_COMMITTED:
        AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed_or_start
    if AIOKafkaConsumerThread._create_worker_consumer is _ORIGINAL_CREATE_WORKER_CONSUMER:
        AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer_with_fetch_limits
    if Consumer.on_buffer_drop is _ORIGINAL_ON_BUFFER_DROP:
        Consumer.on_buffer_drop = _buffer_drained_unless_held
    if Producer._settings_extra is _ORIGINAL_SETTINGS_EXTRA:
        Producer._settings_extra = _idempotent_settings
