"""articles.raw → articles.enriched | articles.invalid."""

import logging
import time
from datetime import datetime, timezone

from service import codec, topics
from service.app import app, settings
from service.core.ingest import Limits, Outcome, Rejected, dead_letter, ingest
from service.metrics import METRICS
from service.schemas.article import SourceRef
from service.schemas.dead_letter import ErrorDetail

log = logging.getLogger(__name__)
STAGE = "ingest"
LIMITS = Limits(
    max_article_bytes=settings.max_article_bytes,
    max_json_depth=settings.max_json_depth,
    dead_letter_max_original_bytes=settings.dead_letter_max_original_bytes,
)


def process(value: bytes | None, key: bytes | None, source: SourceRef) -> Outcome:
    """The core call, with a last guard: a bug in the core becomes a dead letter, not a crash."""
    now = datetime.now(timezone.utc)
    try:
        return ingest(value, key, source, now, LIMITS)
    except Exception as e:
        log.exception("internal error on %s/%s@%s", source.topic, source.partition, source.offset)
        detail = ErrorDetail(code="internal_error", message=f"newsflow failed on this message: {e!r}")
        return Outcome("invalid", dead=dead_letter(Rejected(detail), value, key, source, now, LIMITS))


async def publish(outcome: Outcome, key: bytes | None) -> None:
    if outcome.article is not None:
        payload = codec.dumps(outcome.article.model_dump(mode="json"))
        await topics.enriched.send(key=outcome.article.id.encode(), value=payload)
    else:
        payload = codec.dumps(outcome.dead.model_dump(mode="json"))
        await topics.invalid.send(key=key, value=payload)
        METRICS.invalid.labels(outcome.dead.error.code).inc()


# concurrency=1: faust-streaming can commit past in-flight messages with more (bug #606).
@app.agent(topics.raw, concurrency=1)
async def ingest_articles(stream):
    async for event in stream.events():
        started = time.perf_counter()
        msg = event.message
        source = SourceRef(
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            timestamp_ms=int(msg.timestamp * 1000) if msg.timestamp else None,
        )
        METRICS.messages_in.labels(STAGE).inc()
        METRICS.article_size_bytes.observe(len(event.value or b""))
        outcome = process(event.value, event.key, source)
        await publish(outcome, event.key)
        METRICS.messages_out.labels(STAGE, outcome.kind).inc()
        METRICS.stage_seconds.labels(STAGE).observe(time.perf_counter() - started)
        if msg.timestamp:
            METRICS.end_to_end_seconds.labels(outcome.kind).observe(max(0.0, time.time() - msg.timestamp))
