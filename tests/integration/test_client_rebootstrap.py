"""A Kafka client whose bootstrap met a broker in shutdown, on the real broker.

A KRaft broker in controlled shutdown lists no brokers in its metadata answers, then closes its
connections. Here the bootstrap connection's metadata answer has its broker list emptied, and
the connection closes right after: the state a client is left in when it starts as the broker
restarts. Without `service.aiokafka_fixes` the client never asks anyone again: an idempotent
producer's start loops for ever (a chaos run's pusher hung 17 minutes this way).
"""

import asyncio

import aiokafka.client
import pytest

from service import aiokafka_fixes
from service.admin import ensure_topics
from service.producer import make_producer
from service.topic_names import TopicNames

pytestmark = pytest.mark.integration

START_TIMEOUT = 30.0


class _AnswerOfABrokerInShutdown:
    """A bootstrap connection whose metadata answer lists no brokers, and which then closes."""

    def __init__(self, conn) -> None:
        self._conn = conn

    async def send(self, request, *args, **kwargs):
        answer = await self._conn.send(request, *args, **kwargs)
        asyncio.get_running_loop().call_soon(self._conn.close)
        return type(answer)(**{name: [] if name == "brokers" else getattr(answer, name)
                               for name in answer.SCHEMA.names})

    def __getattr__(self, name):
        return getattr(self._conn, name)


def first_bootstrap_meets_a_broker_in_shutdown(monkeypatch) -> list:
    """From now on, the first connection a client makes is such a bootstrap connection; returns
    the list of connections made since."""
    real_create_conn = aiokafka.client.create_conn
    made = []

    async def create_conn(*args, **kwargs):
        conn = await real_create_conn(*args, **kwargs)
        made.append(conn)
        return _AnswerOfABrokerInShutdown(conn) if len(made) == 1 else conn

    monkeypatch.setattr(aiokafka.client, "create_conn", create_conn)
    return made


@pytest.mark.timeout(120)
def test_an_idempotent_producer_started_against_a_broker_in_shutdown_starts_and_delivers(settings_factory, monkeypatch):
    settings = settings_factory()
    topic = TopicNames.from_settings(settings).raw
    asyncio.run(ensure_topics(settings))
    made = first_bootstrap_meets_a_broker_in_shutdown(monkeypatch)

    async def start_and_send() -> list[int]:
        producer = make_producer(settings, client_id="rebootstrap-test")
        try:
            await asyncio.wait_for(producer.start(), START_TIMEOUT)
            assert not aiokafka_fixes.has_no_node_to_ask(producer.client)
            sent = [await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k") for i in range(5)]
            return [record.offset for record in sent]
        finally:
            await asyncio.wait_for(producer.stop(), 10)

    offsets = asyncio.run(start_and_send())
    assert offsets == sorted(offsets) and len(set(offsets)) == 5
    # The injected answer was used: the client had to connect again after it.
    assert len(made) >= 2


@pytest.mark.timeout(60)
def test_without_the_fix_the_client_never_learns_of_a_broker_again(settings_factory, monkeypatch):
    # The injected state is the one that hangs aiokafka as released, so the test above tests the fix.
    monkeypatch.setattr(aiokafka.client.AIOKafkaClient, "_metadata_update",
                        aiokafka_fixes._ORIGINAL_METADATA_UPDATE)
    settings = settings_factory()
    first_bootstrap_meets_a_broker_in_shutdown(monkeypatch)

    async def start() -> tuple[bool, bool]:
        """(started, left without a node to ask)"""
        producer = make_producer(settings, client_id="rebootstrap-test-unfixed")
        try:
            await asyncio.wait_for(producer.start(), 10)
            return True, False
        except asyncio.TimeoutError:
            return False, aiokafka_fixes.has_no_node_to_ask(producer.client)
        finally:
            await asyncio.wait_for(producer.stop(), 10)

    assert asyncio.run(start()) == (False, True)
