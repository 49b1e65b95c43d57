"""Broker probes and topic creation with aiokafka's admin client."""

import asyncio
import logging
from contextlib import contextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    NoError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)

from service import aiokafka_fixes
from service.errors import BrokerUnavailable, KafkaAuthorizationError, NewsflowError
from service.kafka_security import client_options, principal, refusal
from service.settings import Settings
from service.topic_names import TopicNames

aiokafka_fixes.apply()


def _admin(settings: Settings, timeout_ms: int) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_list, request_timeout_ms=timeout_ms, client_id="newsflow-admin",
        **client_options(settings),
    )


async def _unreachable(settings: Settings) -> Exception:
    """The error for a client that could not start: refused by the brokers, or nobody answered."""
    return await refusal(settings) or BrokerUnavailable(f"no Kafka broker answered at {settings.kafka_bootstrap}")


@contextmanager
def _quiet_aiokafka():
    # A probe expects refused connections; aiokafka logs each one as an error.
    logger = logging.getLogger("aiokafka")
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


async def probe(settings: Settings, timeout: float = 5.0) -> bool:
    """True when a broker at the bootstrap servers answers a metadata request."""
    with _quiet_aiokafka():
        return await _probe(settings, timeout)


async def _probe(settings: Settings, timeout: float) -> bool:
    admin = _admin(settings, int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except (KafkaError, OSError, asyncio.TimeoutError):
        return False
    finally:
        await admin.close()


def topic_configs(settings: Settings) -> dict[str, str]:
    # Oversized articles must reach the worker to become dead letters, and dead letters carry
    # the original: both need more than Kafka's 1 MB default.
    return {"max.message.bytes": str(settings.max_message_bytes)}


def _configs(settings: Settings, name: str, names: TopicNames) -> dict[str, str]:
    # The rules topic keeps only the latest rule file (one key), forever.
    if name == names.alert_rules:
        return {**topic_configs(settings), "cleanup.policy": "compact"}
    return topic_configs(settings)


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create every contract topic that is missing; returns the names it created."""
    names = TopicNames.from_settings(settings)
    wanted = names.partitions(settings.topic_partitions)
    admin = _admin(settings, int(timeout * 1000))
    try:
        try:
            await asyncio.wait_for(admin.start(), timeout)
        except (KafkaConnectionError, OSError, asyncio.TimeoutError) as e:
            raise await _unreachable(settings) from e
        existing = set(await admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(n, wanted[n], settings.topic_replication, topic_configs=_configs(settings, n, names))
                for n in missing
            ]
        )
        return _created(settings, response.topic_errors)
    finally:
        await admin.close()


def _created(settings: Settings, results) -> list[str]:
    """The topics a CreateTopics answer says were created; raises for the ones that failed.

    "Already exists" is no failure: another worker created it first.
    """
    created, refused = [], []
    for topic, code, *message in results:
        error = for_code(code)
        if error is NoError:
            created.append(topic)
        elif error in (TopicAuthorizationFailedError, ClusterAuthorizationFailedError):
            refused.append(topic)
        elif error is not TopicAlreadyExistsError:
            raise NewsflowError(f"could not create topic {topic!r}: {error.__name__} {''.join(message)}".rstrip())
    if refused:
        # A principal that may not DESCRIBE a topic sees it as missing, so this is also what
        # a locked-down client sees for topics that do exist.
        raise KafkaAuthorizationError(
            f"{principal(settings)} may not create (or see) topics {', '.join(refused)}: "
            "create them with an admin principal (`newsflow topics create`), or let the cluster's ACLs "
            "allow this one DESCRIBE on them (and CREATE, to create them)"
        )
    return created


async def list_topics(settings: Settings) -> dict[str, int]:
    """Topic name → partition count, for every topic on the cluster."""
    admin = _admin(settings, 10_000)
    try:
        try:
            await admin.start()
        except (KafkaConnectionError, OSError) as e:
            raise await _unreachable(settings) from e
        described = await admin.describe_topics(list(await admin.list_topics()))
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()
