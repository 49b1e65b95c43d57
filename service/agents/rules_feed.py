"""Every worker follows the compacted rules topic itself (no consumer group): each one matches
rules in its ingest agent, so each one needs the current rules."""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from service import topics
from service.agents.ingest import KNOWLEDGE, RULEBOOK
from service.app import app, settings
from service.core.rules import RuleError
from service.kafka_security import client_options
from service.metrics import METRICS

log = logging.getLogger(__name__)


@app.task
async def follow_rules_topic() -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_list, group_id=None, enable_auto_commit=False, **client_options(settings)
    )
    try:
        await consumer.start()
        tp = TopicPartition(topics.names.alert_rules, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        async for record in consumer:
            if record.value is None:
                continue
            try:
                RULEBOOK.load_text(record.value.decode("utf-8"), KNOWLEDGE.tagger)
                METRICS.rule_reloads.labels("loaded").inc()
            except (RuleError, UnicodeDecodeError) as e:
                log.error("rules at offset %d rejected, keeping the running ones: %s", record.offset, e)
                METRICS.rule_reloads.labels("rejected").inc()
    except asyncio.CancelledError:
        raise
    finally:
        await consumer.stop()
