"""dedup requests → articles.enriched (originals) | articles.duplicates (later copies).

One partition, one consumer: the first copy in this log is the original, whatever partitions
the raw copies arrived on. Only the index lookup and insert happen here.
"""

import logging
import time
from datetime import datetime, timezone

from service import codec, faust_fixes, tables, topics
from service.agents.alertmanager_sink import forward_to_alertmanager
from service.agents.ingest import DEDUP_CONFIG, GATE, RULEBOOK, release_raw_when_due
from service.app import app
from service.core.dedup import DedupIndex
from service.alert_log import sent_updates
from service.consumer import end_offsets
from service.core.alert_stage import Sweeper, decide_alerts, to_send
from service.core.dedup_stage import decide
from service.core.rules import AlertState
from service.core.ingest import LIMITS_FOR_BUGS, Rejected, dead_letter
from service.metrics import METRICS, child
from service.schemas.article import SourceRef
from service.schemas.dead_letter import ErrorDetail
from service.settings import get_settings
from service.table_view import TableView

log = logging.getLogger(__name__)
STAGE = "dedup"
# The core reads the tables through views: one store read per key (see service/table_view.py).
INDEX = DedupIndex(tables.dedup_buckets, TableView(tables.dedup_docs), tables.dedup_exact, tables.dedup_times,
                   DEDUP_CONFIG)
ALERTS = AlertState(TableView(tables.alert_groups))
STORIES = TableView(tables.alert_stories)
SWEEPER = Sweeper()
# Alert events of a replay are checked against the alerts topic from this long before the
# first replayed request was written (clock skew between hosts).
REPLAY_SLACK_MS = 60_000
_processed = 0
# After a start or a rebalance: requests below this offset may have been decided by a process
# that died, and the alert updates already on the alerts topic since then (see _replay_guard).
_replay_until = -1
_sent_updates: set[tuple[str, int]] | None = None
# The derived lookups must be rebuilt from the recovered table before the first decision
# after a start or a rebalance (another worker may have decided in between).
_derived_stale = True


@app.on_rebalance_complete.connect
async def _mark_derived_stale(app, **kwargs) -> None:
    global _derived_stale
    _derived_stale = True
    # Faust fetches every assigned partition again after a rebalance; the gate starts over.
    GATE.forget()
    faust_fixes.release_fetching(app.consumer)


def index_size() -> int | None:
    """Articles in this worker's index; None while it is stale (it is rebuilt before the first
    decision after a start or a rebalance, so a worker that lost the partition stays None)."""
    return None if _derived_stale else INDEX.articles


def _rebuild_derived() -> None:
    global _derived_stale
    started = time.perf_counter()
    count = INDEX.rebuild_derived()
    _derived_stale = False
    log.info("dedup index rebuilt from %d stored articles in %.2fs", count, time.perf_counter() - started)


async def _replay_guard(event) -> None:
    """Before the first decision after a start or a rebalance: note how far the log reached (a
    lost process can only have decided requests below that) and which alert updates are out."""
    global _replay_until, _sent_updates
    settings, tp = get_settings(), event.message.tp
    try:
        ends = await end_offsets(settings, [tp.topic])
        _replay_until = next(end for p, end in ends.items() if p.partition == tp.partition)
        since_ms = int((event.message.timestamp or 0) * 1000) - REPLAY_SLACK_MS
        _sent_updates = await sent_updates(settings, topics.alerts.get_topic_name(), since_ms)
        log.info("replay guard: requests below offset %d are replays; %d alert updates already sent",
                 _replay_until, len(_sent_updates))
    except Exception:
        # Without the guard a replay may repeat or miss an alert update; never the outcomes.
        log.exception("could not read the alerts topic; replayed alerts are sent as decided")
        _replay_until, _sent_updates = -1, None


def _alerts(where: str, record: dict, request: dict, offset: int) -> list[dict]:
    """Alert events to send for this outcome. A failure here costs alerts, never the article's
    outcome, which the index has already decided."""
    global _processed, _sent_updates
    now = request["time"]
    replaying = offset < _replay_until and _sent_updates is not None
    if not replaying:
        _sent_updates = None
    try:
        events = decide_alerts(ALERTS, RULEBOOK.rules, STORIES, where, record, request.get("rules", []),
                               now, replaying)
        events = to_send(events, _sent_updates if replaying else None)
        _processed += 1
        SWEEPER.prune_when_due(ALERTS, STORIES, _processed, now, DEDUP_CONFIG.retention_seconds)
        return events
    except Exception:
        log.exception("alert stage failed for %s", record.get("id"))
        METRICS.alert_failures.inc()
        return []


def _internal_error(value: bytes, key: bytes | None, error: Exception) -> bytes:
    try:
        source = SourceRef.model_validate(codec.loads(value)["article"]["raw"])
    except Exception:
        source = SourceRef(topic=topics.dedup_requests.get_topic_name(), partition=0, offset=-1)
    detail = ErrorDetail(code="internal_error", message=f"newsflow's dedup step failed: {error!r}")
    dead = dead_letter(Rejected(detail), value, key, source, datetime.now(timezone.utc), LIMITS_FOR_BUGS)
    return codec.dumps(dead.model_dump(mode="json"))


@app.agent(topics.dedup_requests, concurrency=1)
async def dedup_articles(stream):
    async for event in stream.events():
        if _derived_stale:
            _rebuild_derived()
            await _replay_guard(event)
        started = time.perf_counter()
        GATE.reached(event.message.offset)
        release_raw_when_due()
        child(METRICS.messages_in, STAGE).inc()
        try:
            request = codec.loads(event.value)
            where, record = decide(INDEX, request, datetime.now(timezone.utc))
        except Exception as e:
            log.exception("dedup failed on %s", event.key)
            await topics.invalid.send(key=event.key, value=_internal_error(event.value, event.key, e))
            METRICS.messages_out.labels(STAGE, "invalid").inc()
            METRICS.invalid.labels("internal_error").inc()
            continue
        topic = topics.enriched if where == "enriched" else topics.duplicates
        await topic.send(key=record["id"].encode(), value=codec.dumps(record))
        for alert in _alerts(where, record, request, event.message.offset):
            await topics.alerts.send(key=alert["alert_id"].encode(), value=codec.dumps(alert))
            child(METRICS.alerts, alert["rule_id"], alert["severity"], alert["status"]).inc()
            forward_to_alertmanager(alert)
        outcome = "enriched" if where == "enriched" else "duplicate"
        child(METRICS.messages_out, STAGE, outcome).inc()
        if outcome == "duplicate":
            child(METRICS.duplicates, record["kind"]).inc()
        child(METRICS.stage_seconds, STAGE).observe(time.perf_counter() - started)
        raw_ts = record["raw"].get("timestamp_ms")
        if raw_ts:
            child(METRICS.end_to_end_seconds, outcome).observe(max(0.0, time.time() - raw_ts / 1000))
