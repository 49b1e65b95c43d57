"""The Faust app. It never imports agents: autodiscovery finds `service.agents`."""

from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted

from service import faust_fixes
from service.kafka_security import faust_credentials
from service.settings import Settings, get_settings

faust_fixes.apply()

settings = get_settings()

# Records Faust takes from the client per poll, all handed to the streams before the next poll.
# Without a limit a poll of a raw backlog brought ~5,000 messages (5 MiB per partition), which
# the dedup agent's requests then queued behind when service.backlog_gate held the raw fetches.
POLL_RECORDS = 200


def app_options(settings: Settings) -> dict[str, Any]:
    """The Faust options of the worker's app that bear on how it talks to Kafka: the same for
    the benchmark's bare Faust hop (service.bench.faust_hop), so that it measures this path."""
    return dict(
        broker=settings.broker_url,
        broker_credentials=faust_credentials(settings),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        # A new consumer group must read what producers pushed before the worker first started.
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        broker_commit_interval=settings.commit_interval,
        producer_max_request_size=max(settings.max_message_bytes, settings.producer_batch_bytes),
        producer_linger=settings.producer_linger_ms / 1000,
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_compression_type=None if settings.producer_compression == "none" else settings.producer_compression,
        consumer_max_fetch_size=settings.max_message_bytes,
        broker_max_poll_records=POLL_RECORDS,
        logging_config=None,
    )


app = faust.App(
    settings.app_id,
    **app_options(settings),
    autodiscover=["service.agents", "service.web"],
    origin="service",
    store="rocksdb://",
    datadir=str(settings.data_dir / f"{settings.app_id}-data"),
    web_enabled=True,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)


faust_fixes.set_fetch_limits(app, settings.fetch_max_wait_ms, settings.fetch_min_bytes)


def highwater(tp) -> int | None:
    """This worker's consumer's highwater of `tp`: None when it is not assigned here, no fetch
    of it has answered yet, or the consumer is not running."""
    try:
        return app.consumer.highwater(tp)
    except (AssertionError, ConsumerNotStarted):
        # aiokafka asserts the partition is assigned; a rebalance on its thread may have revoked
        # it since assignment() was read.
        return None
