"""`push` against a broker that stops answering mid-push, on a real broker of the test's own.

The broker is frozen (SIGSTOP) after some acknowledgements: its connections stay open and
nothing answers, as with a broker that hangs or a network that drops packets. The push must
come back (its acknowledgement timeout, not a hang) with every item accounted for: sent, with
the position the broker gave it, or rejected with the reason. A chaos run's pusher once hung
for 17 minutes across a broker restart before `push` had such a bound.
"""

import asyncio
import os
import signal

import pytest

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.consumer import read
from service.kafka_local import LocalKafka
from service.producer import push
from service.settings import Settings
from service.topic_names import TopicNames
from tests.support.broker import free_port, need_java_and_maven

pytestmark = pytest.mark.integration

ITEMS = 6000
FREEZE_AFTER_ACKS = 300
ACK_TIMEOUT = 5.0


@pytest.fixture
def own_broker(tmp_path):
    # Frozen on purpose, so not the session's broker.
    need_java_and_maven("this test")
    kafka = LocalKafka(Settings(kafka_port=free_port(), kafka_controller_port=free_port(),
                                kafka_data_dir=tmp_path / "kafka", kafka_heap="512m"))
    kafka.start()
    yield kafka
    pid = kafka.running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGCONT)
    kafka.stop()


# A hang guard: the push gives up after ACK_TIMEOUT without answers, and its client after 10 s more.
@pytest.mark.timeout(240)
def test_a_push_to_a_broker_that_stops_answering_returns_and_accounts_for_every_item(own_broker):
    settings = own_broker.client_settings().model_copy(update={"topic_partitions": 2})
    asyncio.run(ensure_topics(settings))
    topic = TopicNames.from_settings(settings).raw
    items = [Item(f"item-{n}", f"value-{n}".encode() * 200, f"k{n}".encode()) for n in range(ITEMS)]
    acks = []

    def freeze_after_some(item, error):
        if error is None:
            acks.append(item.origin)
            if len(acks) == FREEZE_AFTER_ACKS:
                os.kill(own_broker.running_pid(), signal.SIGSTOP)

    result = asyncio.run(push(settings, topic, items, on_item=freeze_after_some, ack_timeout=ACK_TIMEOUT))

    sent = {origin for origin, _, _ in result.sent}
    rejected = [origin for origin, _ in result.rejected]
    assert len(sent) == len(result.sent) and len(set(rejected)) == len(rejected)
    assert sent | set(rejected) == {item.origin for item in items} and not sent & set(rejected)
    assert len(sent) >= FREEZE_AFTER_ACKS and rejected, (len(sent), len(rejected))
    reasons = {reason.split(" within")[0].split(":")[0] for _, reason in result.rejected}
    assert reasons <= {"no acknowledgement from the broker", "not sent", "could not send"}, reasons

    # Thawed, the broker holds every item the push reported as sent, where it said.
    os.kill(own_broker.running_pid(), signal.SIGCONT)
    on_topic = {}

    def keep(record) -> None:
        on_topic[record.partition, record.offset] = record.value

    asyncio.run(read(settings, [topic], keep, timeout=60))
    by_origin = {item.origin: item.value for item in items}
    for origin, partition, offset in result.sent:
        assert on_topic.get((partition, offset)) == by_origin[origin], origin
