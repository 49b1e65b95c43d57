"""Topic creation on the real broker."""

import asyncio

from service.admin import ensure_topics, list_topics, probe
from service.settings import Settings
from service.topic_names import TopicNames


def test_broker_answers_probe(settings_factory):
    assert asyncio.run(probe(settings_factory()))


def test_probe_of_a_dead_address_is_false():
    assert not asyncio.run(probe(Settings(kafka_bootstrap="127.0.0.1:1"), timeout=2))


def test_ensure_topics_creates_the_contract_once(settings_factory):
    settings = settings_factory(topic_partitions=3)
    names = TopicNames.from_settings(settings)
    assert sorted(asyncio.run(ensure_topics(settings))) == sorted(names.all() + [names.dedup_requests, names.alert_rules])
    assert asyncio.run(ensure_topics(settings)) == []
    topics = asyncio.run(list_topics(settings))
    assert {n: topics[n] for n in names.all()} == {n: 3 for n in names.all()}
    assert topics[names.dedup_requests] == 1, "the dedup log must be a single partition"
    assert topics[names.alert_rules] == 1
