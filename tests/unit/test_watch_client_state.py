"""The stall warning's view of the Kafka client (service.agents.watch)."""

from types import SimpleNamespace

from aiokafka import TopicPartition


def test_the_warning_reads_the_client_s_fetch_state_of_every_assigned_partition(monkeypatch):
    from service.agents import watch

    tps = {TopicPartition("raw", 1), TopicPartition("raw", 0)}
    client = object()
    seen = []
    monkeypatch.setattr(watch, "fetch_state", lambda c, asked: seen.append((c, asked)) or {"raw:0": None})
    consumer = SimpleNamespace(_thread=SimpleNamespace(_ensure_consumer=lambda: client), assignment=lambda: tps)
    assert watch._client_state(consumer) == {"raw:0": None}
    assert seen == [(client, sorted(tps))]


def test_a_client_that_cannot_be_read_does_not_stop_the_warning():
    from service.agents import watch

    def gone():
        raise RuntimeError("consumer not started")

    consumer = SimpleNamespace(_thread=SimpleNamespace(_ensure_consumer=gone), assignment=lambda: set())
    assert watch._client_state(consumer) == "not read: RuntimeError('consumer not started')"
