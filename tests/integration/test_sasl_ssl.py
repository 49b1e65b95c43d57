"""newsflow's clients on a broker that only speaks SASL_SSL (SCRAM-SHA-512, certificates made here)
and enforces ACLs."""

import asyncio
import time
import uuid

import pytest
from pydantic import SecretStr

from service.admin import ensure_topics, list_topics
from service.cli.inputs import Item
from service.consumer import end_offsets, read
from service.errors import BrokerUnavailable, KafkaAuthenticationError, KafkaAuthorizationError
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import raw_bytes
from tests.support.secure_broker import PRODUCER_USER, RULES_USER, Acl, make_ca, secure_broker_for_tests

pytestmark = pytest.mark.integration

# A refused client must say so in seconds; aiokafka's default request timeout is 40 s.
PROMPT = 20.0


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    yield from secure_broker_for_tests(tmp_path_factory.mktemp("secure-kafka"))


def own(settings, **overrides):
    """`settings` with topics of this test's own."""
    return settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}.", **overrides})


def test_topics_push_and_read_through_sasl_ssl(secure):
    settings = own(secure.admin)
    names = TopicNames.from_settings(settings)
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_ssl_check_hostname

    created = asyncio.run(ensure_topics(settings))
    assert sorted(created) == sorted(names.partitions(1))
    assert asyncio.run(ensure_topics(settings)) == []
    assert asyncio.run(list_topics(settings))[names.raw] == settings.topic_partitions

    items = [Item(f"m{i}", raw_bytes(id=f"sec-{i}"), f"sec-{i}".encode()) for i in range(30)]
    result = asyncio.run(push(settings, names.raw, items))
    assert len(result.sent) == 30 and not result.rejected
    received = {}
    asyncio.run(read(settings, [names.raw], lambda r: received.__setitem__(r.key, r.value)))
    assert received == {i.key: i.value for i in items}
    assert sum(asyncio.run(end_offsets(settings, [names.raw])).values()) == 30


@pytest.mark.parametrize(
    "client",
    [
        lambda s: ensure_topics(s),
        lambda s: push(s, TopicNames.from_settings(s).raw, [Item("one", b"{}")]),
        lambda s: end_offsets(s, [TopicNames.from_settings(s).raw]),
        lambda s: list_topics(s),
    ],
    ids=["admin", "producer", "reader", "topic-list"],
)
def test_a_wrong_password_is_named_as_an_authentication_failure_promptly(secure, client):
    right = secure.passwords[PRODUCER_USER]
    wrong = "not-" + right
    settings = own(secure.as_user(PRODUCER_USER), kafka_sasl_password=SecretStr(wrong))
    started = time.monotonic()
    refused = f"rejected SASL authentication of user '{PRODUCER_USER}'"
    with pytest.raises(KafkaAuthenticationError, match=refused) as caught:
        asyncio.run(client(settings))
    assert time.monotonic() - started < PROMPT
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD" in str(caught.value)
    assert wrong not in str(caught.value) and right not in str(caught.value)


def test_an_unknown_user_is_refused_like_a_wrong_password(secure):
    settings = own(secure.admin, kafka_sasl_username="mallory")
    with pytest.raises(KafkaAuthenticationError, match="user 'mallory'"):
        asyncio.run(ensure_topics(settings))


def test_a_broker_certificate_from_another_ca_fails_the_tls_handshake_clearly(secure, tmp_path):
    other_ca, _ = make_ca(tmp_path / "other-ca", name="someone else's CA")
    settings = own(secure.admin, kafka_ssl_cafile=other_ca)
    started = time.monotonic()
    with pytest.raises(KafkaAuthenticationError, match="(?s)TLS handshake.*certificate.*NEWSFLOW_KAFKA_SSL_CAFILE"):
        asyncio.run(ensure_topics(settings))
    assert time.monotonic() - started < PROMPT


def test_a_plaintext_client_on_the_tls_listener_fails_rather_than_hangs(secure):
    settings = secure.admin.model_copy(
        update={
            "kafka_security_protocol": "PLAINTEXT",
            "kafka_sasl_username": None,
            "kafka_sasl_password": None,
            "kafka_ssl_cafile": None,
        }
    )
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        asyncio.run(ensure_topics(settings, timeout=10))
    assert time.monotonic() - started < PROMPT


def test_a_producer_allowed_only_the_raw_topic_is_told_what_it_may_not_do(secure):
    admin = own(secure.admin)
    names = TopicNames.from_settings(admin)
    asyncio.run(ensure_topics(admin))
    secure.grant([Acl(PRODUCER_USER, "write", "topic", names.raw)])
    producer = admin.model_copy(
        update={"kafka_sasl_username": PRODUCER_USER, "kafka_sasl_password": SecretStr(secure.passwords[PRODUCER_USER])}
    )

    result = asyncio.run(push(producer, names.raw, [Item("ok", raw_bytes())]))
    assert len(result.sent) == 1 and not result.rejected
    started = time.monotonic()
    forbidden = f"user '{PRODUCER_USER}' may not write topic '{names.alert_rules}'"
    with pytest.raises(KafkaAuthorizationError, match=forbidden):
        asyncio.run(push(producer, names.alert_rules, [Item("rules", b"rules: []", b"rules")]))
    assert time.monotonic() - started < PROMPT
    with pytest.raises(KafkaAuthorizationError, match=f"may not create \\(or see\\) topics .*{names.enriched}"):
        asyncio.run(ensure_topics(producer))


def test_a_principal_allowed_to_write_nothing_is_told_so(secure):
    settings = own(secure.as_user(RULES_USER))
    with pytest.raises(KafkaAuthorizationError, match=f"user '{RULES_USER}' may not produce: .*WRITE on no topic"):
        asyncio.run(push(settings, TopicNames.from_settings(settings).alert_rules, [Item("r", b"rules: []", b"rules")]))
