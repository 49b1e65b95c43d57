"""articles.raw → (validate, normalise, tag, fingerprint) → dedup requests | articles.invalid."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from faust.types import TP

from service import codec, faust_fixes, topics
from service.app import app, highwater, settings
from service.backlog_gate import DedupBacklogGate
from service.core.dedup import DedupConfig
from service.core.pipeline import prepare
from service.core.ingest import Limits, Rejected, dead_letter
from service.knowledge import KnowledgeBase
from service.metrics import METRICS, child
from service.rulebook import DEFAULT_RULES, Rulebook
from service.schemas.article import SourceRef
from service.schemas.dead_letter import ErrorDetail

log = logging.getLogger(__name__)
STAGE = "ingest"
LIMITS = Limits(
    max_article_bytes=settings.max_article_bytes,
    max_json_depth=settings.max_json_depth,
    dead_letter_max_original_bytes=settings.dead_letter_max_original_bytes,
)
DEDUP_CONFIG = DedupConfig(retention_seconds=int(settings.dedup_retention_days * 86400))
KNOWLEDGE = KnowledgeBase.from_settings(settings)
METRICS.kb_entities.set(len(KNOWLEDGE.tagger.entities))
METRICS.entity_mentions.track(KNOWLEDGE.tagger.entities)
RULEBOOK = Rulebook(settings.rules_path or DEFAULT_RULES)
RULEBOOK.load(KNOWLEDGE.tagger)
GATE = DedupBacklogGate(settings.dedup_max_behind)
# One partition: the dedup agent's order is the log's (see service.agents.dedup).
_DEDUP_TP = TP(topics.dedup_requests.get_topic_name(), 0)


def dedup_position() -> tuple[int | None, int | None]:
    """The dedup partition's (highwater, committed offset) as this worker's consumer last saw
    them; highwater None when another worker owns it, no fetch has answered yet or the consumer
    is not running."""
    end = highwater(_DEDUP_TP)
    if end is None:
        return None, None
    # Faust keeps the offsets it read at assignment and committed since (see service.web).
    return end, app.consumer._committed_offset.get(_DEDUP_TP)


def release_raw_when_due() -> None:
    """Fetch raw articles again if the gate says so (see service.backlog_gate)."""
    if GATE.held_since is None:
        return  # the dedup agent calls this per request: no offset lookups while nothing is held
    if GATE.should_release(*dedup_position(), time.monotonic()):
        faust_fixes.release_fetching(app.consumer)


def _hold_raw_when_due() -> None:
    if GATE.should_hold(*dedup_position(), time.monotonic()):
        raw = topics.raw.get_topic_name()
        faust_fixes.hold_fetching(app.consumer, [tp for tp in app.consumer.assignment() if tp.topic == raw])
        METRICS.raw_fetch_holds.inc()


def _written(sent) -> None:
    GATE.written(sent.result().offset)


@dataclass(frozen=True)
class Send:
    """One message to produce: `label` is "valid" (to dedup) or the dead letter's code."""

    label: str
    key: bytes | None
    value: bytes


def process(value: bytes | None, key: bytes | None, source: SourceRef) -> Send:
    """The core calls, with a last guard: a bug in the core becomes a dead letter, not a crash."""
    now = datetime.now(timezone.utc)
    try:
        prepared = prepare(value, key, source, now, LIMITS, KNOWLEDGE.tagger, RULEBOOK.rules, DEDUP_CONFIG)
        if prepared.request is not None:
            request = prepared.request
            for entity in request["article"]["entities"]:
                child(METRICS.entities_tagged, entity["type"]).inc()
                METRICS.entity_mentions.inc(entity["id"], entity["name"], entity["type"])
            return Send("valid", request["article"]["id"].encode(), codec.dumps(request))
        dead = prepared.dead
    except Exception as e:
        log.exception("internal error on %s/%s@%s", source.topic, source.partition, source.offset)
        detail = ErrorDetail(code="internal_error", message=f"newsflow failed on this message: {e!r}")
        dead = dead_letter(Rejected(detail), value, key, source, now, LIMITS)
    return Send(dead.error.code, key, codec.dumps(dead.model_dump(mode="json")))


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
        child(METRICS.messages_in, STAGE).inc()
        METRICS.article_size_bytes.observe(len(event.value or b""))
        send = process(event.value, event.key, source)
        if send.label == "valid":
            await topics.dedup_requests.send(key=send.key, value=send.value, callback=_written)
            _hold_raw_when_due()
            child(METRICS.messages_out, STAGE, "valid").inc()
        else:
            await topics.invalid.send(key=send.key, value=send.value)
            child(METRICS.messages_out, STAGE, "invalid").inc()
            child(METRICS.invalid, send.label).inc()
            if msg.timestamp:
                child(METRICS.end_to_end_seconds, "invalid").observe(max(0.0, time.time() - msg.timestamp))
        child(METRICS.stage_seconds, STAGE).observe(time.perf_counter() - started)


@app.timer(interval=1.0)
async def release_a_stale_hold() -> None:
    # The dedup agent releases a hold as it catches up; this covers a hold it can no longer
    # release (it stopped, or the requests it waits for never become readable).
    release_raw_when_due()


@app.timer(interval=settings.kb_reload_seconds)
async def reload_knowledge_base() -> None:
    result = KNOWLEDGE.reload_if_changed()
    if result:
        METRICS.kb_reloads.labels("loaded").inc()
        METRICS.kb_entities.set(len(KNOWLEDGE.tagger.entities))
        METRICS.entity_mentions.track(KNOWLEDGE.tagger.entities)
    elif result is None:
        METRICS.kb_reloads.labels("rejected").inc()
    rules = RULEBOOK.reload_if_changed(KNOWLEDGE.tagger)
    if rules:
        METRICS.rule_reloads.labels("loaded").inc()
    elif rules is None:
        METRICS.rule_reloads.labels("rejected").inc()
