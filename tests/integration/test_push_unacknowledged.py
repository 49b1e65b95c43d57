"""`push` when the broker writes but its answers never reach the client, on the real broker.

The connection stays open and busy while every produce answer is lost on the way, as with a
broker that writes but answers too late. The client's stop waits for its batches, so it cannot
finish and `push` cuts it short. What such a stop leaves must still be closed: an aiokafka
connection left open outlives the event loop, and aiokafka's ResourceWarning when it is
collected later fails whichever test runs then (two CI runs failed that way).
"""

import asyncio
import gc

import pytest
from aiokafka.conn import AIOKafkaConnection

from service import producer as producer_module
from service.admin import ensure_topics
from service.cli.inputs import Item
from service.producer import push
from service.topic_names import TopicNames

PRODUCE = 0  # the Kafka API key of a produce request
ACK_TIMEOUT = 2.0


@pytest.fixture
def lose_produce_answers(monkeypatch):
    """Produce requests reach the broker; their answers reach nobody."""
    original = AIOKafkaConnection.send

    def send(self, request, expect_response=True):
        waiting = original(self, request, expect_response)
        if getattr(request, "API_KEY", None) == PRODUCE and expect_response:
            correlation_id, request_struct, _ = self._requests[-1]
            self._requests[-1] = (correlation_id, request_struct, self._loop.create_future())
        return waiting

    monkeypatch.setattr(AIOKafkaConnection, "send", send)


def _open_connections(port: int) -> list[AIOKafkaConnection]:
    """aiokafka connections to `port` still open and not yet collected."""
    return [o for o in gc.get_objects() if isinstance(o, AIOKafkaConnection) and o.port == port and o.connected()]


def test_a_push_whose_stop_is_cut_short_closes_its_connections(settings_factory, lose_produce_answers, monkeypatch):
    monkeypatch.setattr(producer_module, "STOP_TIMEOUT_SECONDS", 1.0)
    settings = settings_factory()
    topic = TopicNames.from_settings(settings).raw
    asyncio.run(ensure_topics(settings))
    port = int(settings.bootstrap_list[0].rpartition(":")[2])
    gc.collect()
    before = len(_open_connections(port))

    result = asyncio.run(push(settings, topic, [Item(f"i{n}", b"x" * 100) for n in range(20)], ack_timeout=ACK_TIMEOUT))

    assert not result.sent and len(result.rejected) == 20
    assert all("no acknowledgement from the broker" in reason for _, reason in result.rejected), result.rejected
    assert len(_open_connections(port)) == before
