"""The faust workaround: the flow is stopped before recovery resumes the stream partitions."""

import asyncio

import pytest
from types import SimpleNamespace

from faust.tables.recovery import Recovery

from service import faust_fixes


def test_the_app_module_applies_the_fix():
    import service.app  # noqa: F401

    for name, original in faust_fixes._ORIGINALS.items():
        patched = getattr(Recovery, name)
        assert patched is not original
        assert patched.__wrapped__ is original
    faust_fixes.apply()  # idempotent
    assert Recovery.on_recovery_completed.__wrapped__.__name__ == "on_recovery_completed"


def test_the_app_module_applies_the_kafka_client_fix_to_faust_s_clients():
    # Faust's aiokafka driver makes its clients from this class (see service.aiokafka_fixes).
    from aiokafka.client import AIOKafkaClient

    from service import aiokafka_fixes
    import service.app  # noqa: F401

    assert AIOKafkaClient._metadata_update is aiokafka_fixes._metadata_update_bootstrapping_again


def test_the_worker_producer_is_idempotent_outside_transactions():
    """faust adds acks=all and idempotence only inside a transaction (see the integration test
    test_lost_produce_response for what a lost produce answer does without them)."""
    import faust
    import service.app  # noqa: F401

    app = faust.App("idempotence-check", broker="kafka://127.0.0.1:1")
    assert not app.in_transaction
    assert app.producer._settings_extra() == faust_fixes.IDEMPOTENT
    assert faust_fixes._ORIGINAL_SETTINGS_EXTRA(app.producer) == {}  # what faust itself asks for


def test_the_worker_s_stream_consumer_waits_for_an_empty_fetch_as_configured(monkeypatch):
    """faust builds its consumer with fetch_max_wait_ms=1500 (see the fix's note in
    service.faust_fixes); the app module sets the worker's from the settings."""
    import inspect

    from aiokafka import AIOKafkaConsumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from service.app import app, settings
    from service.settings import Settings

    assert AIOKafkaConsumerThread._create_worker_consumer is faust_fixes._create_worker_consumer_with_fetch_limits
    assert "fetch_max_wait_ms=1500" in inspect.getsource(faust_fixes._ORIGINAL_CREATE_WORKER_CONSUMER)
    # The client reads both attributes when it starts and builds its fetcher.
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_min_bytes=self._fetch_min_bytes" in inspect.getsource(AIOKafkaConsumer.start)

    made = []
    monkeypatch.setattr(faust_fixes, "_ORIGINAL_CREATE_WORKER_CONSUMER", lambda thread, transport: made.append(
        SimpleNamespace(_fetch_max_wait_ms=1500, _fetch_min_bytes=1)) or made[-1])

    def limits_of(faust_app) -> tuple[int, int]:
        consumer = faust_fixes._create_worker_consumer_with_fetch_limits(SimpleNamespace(app=faust_app), transport=None)
        return consumer._fetch_max_wait_ms, consumer._fetch_min_bytes

    assert (Settings.model_fields["fetch_max_wait_ms"].default, Settings.model_fields["fetch_min_bytes"].default) == (50, 65536)
    assert limits_of(app) == (settings.fetch_max_wait_ms, settings.fetch_min_bytes)
    other = SimpleNamespace()
    assert limits_of(other) == (1500, 1)  # faust's own, where nobody asked for another
    faust_fixes.set_fetch_limits(other, 7)
    assert limits_of(other) == (7, 1)
    faust_fixes.set_fetch_limits(other, 7, 65536)
    assert limits_of(other) == (7, 65536) and len(made) == 4


def test_flow_is_stopped_before_the_original_runs():
    calls = []

    async def original(self, generation_id=0):
        calls.append(("original", generation_id, self.app.consumer.flow_active))

    consumer = SimpleNamespace(flow_active=True)

    def stop_flow():
        calls.append(("stop_flow",))
        consumer.flow_active = False

    consumer.stop_flow = stop_flow
    recovery = SimpleNamespace(app=SimpleNamespace(consumer=consumer))
    asyncio.run(faust_fixes._stopping_flow_first(original)(recovery, 7))
    assert calls == [("stop_flow",), ("original", 7, False)]


def test_a_busy_changelog_buffer_does_not_stop_the_streams(caplog):
    """Below PRODUCER_BUFFER_MESSAGES the buffer is left to drain: with faust's 100, 150
    pending writes made the streams wait (and, not running here, raise) and log a WARNING."""
    import service.app  # noqa: F401
    from faust.transport.producer import ProducerBuffer

    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    for n in range(150):
        buffer.put(SimpleNamespace(n=n))
    assert buffer.size == 150
    asyncio.run(buffer.wait_until_ebb())
    assert buffer.size == 150
    assert "producer buffer full" not in caplog.text


class _Slow:
    """A buffered write whose hand-over to the Kafka client takes `seconds` (a broker restart)."""

    def __init__(self, sent: list, n: int, seconds: float) -> None:
        async def publish_message(fut, wait=False):
            await asyncio.sleep(seconds)
            sent.append(n)

        self.message = SimpleNamespace(channel=SimpleNamespace(publish_message=publish_message))


async def _flushed(writes: int, seconds: float, more_meanwhile: bool = False) -> list:
    import service.app  # noqa: F401
    from faust.transport.producer import ProducerBuffer

    buffer, sent = ProducerBuffer(), []
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()

    async def agents_keep_writing():
        for n in range(writes, 10**6):
            buffer.put(_Slow(sent, n, seconds))
            await asyncio.sleep(seconds / 2)

    meanwhile = asyncio.ensure_future(agents_keep_writing()) if more_meanwhile else None
    try:
        for n in range(writes):
            buffer.put(_Slow(sent, n, seconds))
        await buffer.flush()
        return sent
    finally:
        if meanwhile is not None:
            meanwhile.cancel()
        buffer.pending = asyncio.Queue()  # what is left is abandoned, not flushed by stop()
        await buffer.stop()


def test_flush_waits_for_every_table_write_however_slow_the_broker():
    # faust's flush returned after 0.1 s without a write going out, and did not count the one
    # being handed over: offsets were committed past writes still in memory.
    assert asyncio.run(_flushed(3, 0.3)) == [0, 1, 2]


def test_flush_that_cannot_finish_raises_so_nothing_is_committed(monkeypatch):
    monkeypatch.setattr(faust_fixes, "FLUSH_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(RuntimeError, match="not committing past them"):
        asyncio.run(_flushed(2, 60))


def test_flush_ends_once_the_writes_it_found_are_out_while_agents_keep_writing(monkeypatch):
    # Waiting for an empty buffer would wait as long as the load lasts, and fail the commit.
    monkeypatch.setattr(faust_fixes, "FLUSH_TIMEOUT_SECONDS", 2.0)
    sent = asyncio.run(_flushed(3, 0.05, more_meanwhile=True))
    assert sent[:3] == [0, 1, 2]


def consumer_with(assigned):
    """faust's consumer class, never started, with the state its partition bookkeeping reads:
    assigned the given (topic, partition)s, all fetching."""
    from faust.transport.drivers.aiokafka import Consumer
    from faust.types import TP

    import service.app  # noqa: F401  (applies the fixes)

    consumer = object.__new__(Consumer)  # no app, no event loop, no thread
    tps = {TP(topic, partition) for topic, partition in assigned}
    consumer.app = SimpleNamespace(in_recovery=False)
    consumer.assignment = lambda: set(tps)
    consumer._active_partitions = set(tps)
    consumer._paused_partitions = set()
    consumer._buffered_partitions = set()
    return consumer, TP


def test_held_partitions_stop_fetching_but_their_polled_records_are_still_delivered():
    consumer, TP = consumer_with([("raw", 0), ("raw", 1), ("requests", 0)])
    faust_fixes.hold_fetching(consumer, [TP("raw", 0), TP("raw", 1)])
    assert consumer._get_active_partitions() == {TP("requests", 0)}
    # faust's poll loop delivers records of partitions in this set: none already polled is lost
    assert {TP("raw", 0), TP("raw", 1)} <= consumer._buffered_partitions


def test_faust_draining_a_buffer_does_not_end_a_hold_but_a_release_does():
    consumer, TP = consumer_with([("raw", 0), ("raw", 1), ("requests", 0)])
    consumer.on_buffer_full(TP("requests", 0))  # faust's own pause for a full buffer
    faust_fixes.hold_fetching(consumer, [TP("raw", 0), TP("raw", 1)])
    consumer.on_buffer_drop(TP("raw", 0))
    consumer.on_buffer_drop(TP("requests", 0))
    assert consumer._get_active_partitions() == {TP("requests", 0)}
    faust_fixes.release_fetching(consumer)
    assert consumer._get_active_partitions() == {TP("raw", 0), TP("raw", 1), TP("requests", 0)}
    assert not consumer._buffered_partitions


def test_a_release_after_a_rebalance_resumes_only_what_is_still_assigned_and_not_paused():
    consumer, TP = consumer_with([("raw", 0), ("raw", 1), ("raw", 2)])
    faust_fixes.hold_fetching(consumer, [TP("raw", 0), TP("raw", 1), TP("raw", 2)])
    consumer.assignment = lambda: {TP("raw", 0), TP("raw", 2)}
    consumer.pause_partitions([TP("raw", 2)])
    faust_fixes.release_fetching(consumer)
    assert consumer._get_active_partitions() == {TP("raw", 0)}
    faust_fixes.release_fetching(consumer)  # nothing held: no change
    assert consumer._get_active_partitions() == {TP("raw", 0)}


def test_the_app_module_makes_faust_s_seek_to_committed_rewind_never_committed_partitions():
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    import service.app  # noqa: F401

    assert AIOKafkaConsumerThread.seek_to_committed is faust_fixes._seek_to_committed_or_start


@pytest.mark.parametrize("reset, rewinds", [("earliest", True), ("latest", False)])
def test_the_seek_rewinds_uncommitted_stream_partitions_but_not_changelogs(monkeypatch, reset, rewinds):
    from aiokafka import TopicPartition

    committed = {TopicPartition("raw", 0): None, TopicPartition("raw", 1): 7, TopicPartition("raw", 2): 0,
                 TopicPartition("app-docs-changelog", 0): None}
    sought = []

    async def original(self):
        return committed

    class Client:
        async def seek_to_beginning(self, *tps):
            sought.extend(tps)

    async def call_thread(fn, *args):
        return await fn(*args)

    app = SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=reset),
                          tables=SimpleNamespace(changelog_topics={"app-docs-changelog"}))
    thread = SimpleNamespace(consumer=SimpleNamespace(app=app), call_thread=call_thread, _ensure_consumer=Client)
    monkeypatch.setattr(faust_fixes, "_ORIGINAL_SEEK_TO_COMMITTED", original)
    assert asyncio.run(faust_fixes._seek_to_committed_or_start(thread)) == committed
    assert sought == ([TopicPartition("raw", 0), TopicPartition("raw", 2)] if rewinds else [])
