"""Warns when this worker has messages waiting and its agents take none (see service.stall_watch)."""

import logging

from service import faust_fixes, topics
from service.app import app, highwater, settings
from service.consumer import end_offsets, fetch_state
from service.metrics import METRICS
from service.stall_watch import StallWatch

log = logging.getLogger(__name__)
CHECK_SECONDS = 15.0
WATCH = StallWatch()
# With transactions a partition's end offset stays one past the last record read: the commit marker.
_MARKER = 1 if settings.processing_guarantee == "exactly_once" else 0


def _taken() -> int:
    return int(sum(s.value for m in METRICS.messages_in.collect() for s in m.samples if s.name.endswith("_total")))


def consumer_state() -> dict:
    """What decides whether this worker's consumer fetches a partition, for the warning."""
    consumer = app.consumer
    names = lambda tps: sorted(f"{tp.topic}:{tp.partition}" for tp in tps)  # noqa: E731
    return {
        "flow_active": consumer.flow_active,
        "flow_control_active": app.flow_control.is_active(),
        "active": names(consumer._active_partitions or ()),
        "paused": names(consumer._paused_partitions),
        "buffered": names(consumer._buffered_partitions),
        "held": names(faust_fixes.held_partitions(consumer)),
        "highwater": {f"{tp.topic}:{tp.partition}": highwater(tp) for tp in consumer.assignment()},
        # Faust drops records it fetched while its flow was stopped (see service.faust_fixes): a
        # position past the records waiting, with nothing buffered, is that again.
        "client": _client_state(consumer),
    }


def _client_state(consumer) -> dict | str:
    try:
        return fetch_state(consumer._thread._ensure_consumer(), sorted(consumer.assignment()))
    except Exception as e:  # a warning's detail must not stop the warning
        return f"not read: {e!r}"


@app.timer(interval=CHECK_SECONDS)
async def warn_of_a_stall() -> None:
    if app.rebalancing or not app.tables.recovery.completed.is_set() or not WATCH.idle(_taken()):
        return
    streams = {topics.raw.get_topic_name(), topics.dedup_requests.get_topic_name()}
    assigned = [tp for tp in app.consumer.assignment() if tp.topic in streams]
    if not assigned:
        return
    try:
        # Asked of the broker: the consumer's own highwater only moves when a fetch answers.
        ends = await end_offsets(settings, sorted({tp.topic for tp in assigned}))
    except Exception as e:
        log.warning("stall watch: could not read end offsets: %r", e)
        return
    committed = app.consumer._committed_offset
    waiting = {tp: n for tp in assigned if (n := ends.get(tp, 0) - (committed.get(tp) or 0)) > _MARKER}
    if WATCH.stalled(sum(waiting.values())):
        log.warning(
            "stall: %d messages wait on this worker's partitions and its agents took none in %.0fs; "
            "waiting %s; consumer %s", sum(waiting.values()), WATCH.idle_checks * CHECK_SECONDS,
            {f"{tp.topic}:{tp.partition}": n for tp, n in waiting.items()}, consumer_state())
