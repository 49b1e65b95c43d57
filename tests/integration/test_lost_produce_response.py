"""The worker's producer, when the broker wrote a batch but its answer was lost, on the real broker.

The Kafka client is left as it is; only the connection loses the answer to one produce request,
as a broker restart or a dropped connection does: the broker has written the batch, the client
sees a connection error and sends the batch again. faust's own producer (not idempotent outside
transactions) then writes every record twice; `faust_fixes` makes it idempotent, and the
broker drops the resent batch.
"""

import asyncio
import uuid

import faust
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError
from faust.transport.drivers.aiokafka import Producer

from service import faust_fixes
from service.consumer import read
from service.settings import Settings

PRODUCE = 0  # the Kafka API key of a produce request
RECORDS = 5


@pytest.fixture
def lose_one_produce_response(monkeypatch):
    """The first produce request reaches the broker; its answer does not reach the client."""
    original = AIOKafkaConnection.send
    lost: list[int] = []

    def send(self, request, expect_response=True):
        waiting = original(self, request, expect_response)
        if getattr(request, "API_KEY", None) == PRODUCE and expect_response and not lost:
            correlation_id, request_struct, answered = self._requests[-1]
            lost.append(correlation_id)
            # The answer lands in a future nobody awaits; then the connection breaks.
            swallowed = self._loop.create_future()
            self._requests[-1] = (correlation_id, request_struct, swallowed)

            def break_connection(_):
                self.close(reason=CloseReason.CONNECTION_BROKEN)
                if not answered.done():
                    answered.set_exception(KafkaConnectionError("the broker's answer was lost (test)"))

            swallowed.add_done_callback(break_connection)
        return waiting

    monkeypatch.setattr(AIOKafkaConnection, "send", send)
    return lost


async def _create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()


async def _produce_through_the_worker_producer(bootstrap: str, topic: str) -> None:
    """The AIOKafkaProducer faust builds for the worker, as service.app configures faust."""
    app = faust.App(f"lost-answer-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", producer_acks=-1,
                    producer_linger=0.05)
    producer = app.producer._new_producer()
    await producer.start()
    try:
        # One batch: the records are sent together in the request whose answer is lost.
        sent = [await producer.send(topic, key=f"k{n}".encode(), value=f"v{n}".encode()) for n in range(RECORDS)]
        await asyncio.wait_for(asyncio.gather(*sent), 60)
    finally:
        await producer.stop()


def _copies(broker: str, topic: str) -> list[bytes]:
    values: list[bytes] = []
    asyncio.run(read(Settings(kafka_bootstrap=broker), [topic], lambda record: values.append(record.value)))
    return values


@pytest.mark.parametrize("fixed", [True, False], ids=["newsflow", "faust-as-shipped"])
def test_a_batch_resent_after_a_lost_answer_is_written_once(broker, lose_one_produce_response, monkeypatch, fixed):
    faust_fixes.apply()
    if not fixed:
        monkeypatch.setattr(Producer, "_settings_extra", faust_fixes._ORIGINAL_SETTINGS_EXTRA)
    topic = f"lost-answer-{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_topic(broker, topic))
    asyncio.run(_produce_through_the_worker_producer(broker, topic))
    assert len(lose_one_produce_response) == 1, "no produce answer was lost: the test did not run its case"
    copies = _copies(broker, topic)
    expected = [f"v{n}".encode() for n in range(RECORDS)]
    if fixed:
        assert copies == expected
    else:
        # What the chaos run saw: the same batch twice, back to back.
        assert copies == expected + expected
