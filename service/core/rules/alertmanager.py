"""Alert events as Alertmanager v2 alerts, and which of them to send when.

Alertmanager tells alerts apart by their label set, so the labels hold only what an alert keeps
for its whole life (rule id, severity, group, alert id) and are pinned when newsflow first sees
the alert; what grows with each update (sources, articles, entities, evidence) goes in the
annotations.

An alert ends when its rule's cooldown ends, as in `AlertState`: `endsAt` is the firing event's
`last_seen` (the time it fired) plus the cooldown, and updates do not move it. Alertmanager
therefore resolves the alert on time even if newsflow stops sending.

`ActiveAlerts` keeps a caller-owned mapping `alert_id -> {"alert": postable alert, "ends_at":
epoch seconds, "sent_at": epoch seconds or None}`. Values are reassigned, never mutated in place.
Times are epoch seconds passed in: alert times are Kafka record times, `now` is the wall clock.
"""

from collections.abc import MutableMapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

# Annotations are shown to a person: a few of each, each bounded.
TOP_ENTITIES = 10
TOP_EVIDENCE = 5
LISTED = 20
ANNOTATION_CHARS = 1000
# A burst of alerts must not grow the worker's memory without bound; the alerts dropped first
# are the ones ending soonest, which Alertmanager resolves by their `endsAt` anyway.
MAX_ACTIVE = 10_000


def rfc3339(ts: float) -> str:
    """Epoch seconds as an RFC 3339 UTC time with milliseconds, as Alertmanager parses it."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def labels_of(event: dict[str, Any]) -> dict[str, str]:
    """The labels that identify the alert of `event` in Alertmanager; none changes on update."""
    return {
        "alertname": event["rule_id"],
        "severity": event["severity"],
        "newsflow_group": event["group"],
        "alert_id": event["alert_id"],
    }


def _listed(values: list[Any], limit: int) -> str:
    shown = [str(v) for v in values[:limit]]
    more = len(values) - len(shown)
    return _bounded(", ".join(shown) + (f" (+{more} more)" if more > 0 else ""))


def _bounded(text: str) -> str:
    return text if len(text) <= ANNOTATION_CHARS else text[: ANNOTATION_CHARS - 1] + "…"


def _evidence_line(item: dict[str, Any]) -> str:
    if item.get("snippet"):
        return f"{item.get('kind')} {item.get('value')!r}: {item['snippet']}"
    if "score" in item:
        return f"{item.get('kind')} {item.get('value')} (score {item['score']:.2f})"
    return f"{item.get('kind')} {item.get('value')}"


def to_alertmanager(event: dict[str, Any], ends_at: float) -> dict[str, Any]:
    """The Alertmanager v2 postable alert of one alert event (as on the `alerts` topic),
    active from the event's `first_seen` until `ends_at` (epoch seconds)."""
    annotations = {
        "summary": event["rule_name"],
        "description": f"{event['count']} article(s) from {len(event['sources'])} source(s), "
                       f"status {event['status']}",
        "sources": _listed(event["sources"], LISTED),
        # The newest articles say most about where the story is now.
        "article_ids": _listed(list(reversed(event["article_ids"])), LISTED),
        "entities": _listed(event["entities"], TOP_ENTITIES),
        "evidence": _bounded(" | ".join(_evidence_line(e) for e in event["evidence"][:TOP_EVIDENCE])),
        "count": str(event["count"]),
    }
    return {
        "labels": labels_of(event),
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": rfc3339(event["first_seen"]),
        "endsAt": rfc3339(ends_at),
    }


class Due(NamedTuple):
    """Alerts to POST now: `active` ones (new, updated or due for a re-send) and `resolved`
    ones, whose `endsAt` has passed; the resolved are forgotten once returned."""

    active: list[dict[str, Any]]
    resolved: list[dict[str, Any]]


class ActiveAlerts:
    """The alerts Alertmanager should hear about, over a caller-owned mapping (see module doc)."""

    def __init__(self, state: MutableMapping[str, Any], capacity: int = MAX_ACTIVE) -> None:
        self.state = state
        self.capacity = capacity

    def observe(self, event: dict[str, Any], cooldown: float) -> int:
        """Take one alert event; its rule's `cooldown` is in seconds. Returns how many alerts
        were dropped to stay within capacity (0 almost always)."""
        known = self.state.get(event["alert_id"])
        if known is None:
            # For a firing event `last_seen` is when it fired, so this is when `AlertState` ends
            # it. An update whose firing event was missed (a restart) gets a bound no earlier.
            ends_at = float(event["last_seen"]) + cooldown
            alert = to_alertmanager(event, ends_at)
        else:
            ends_at = known["ends_at"]
            alert = to_alertmanager(event, ends_at)
            # A copy from another outlet brings no evidence of its own: keep what the alert had.
            alert = {**alert, "labels": known["alert"]["labels"], "startsAt": known["alert"]["startsAt"],
                     "annotations": {**known["alert"]["annotations"], **alert["annotations"]}}
        self.state[event["alert_id"]] = {"alert": alert, "ends_at": ends_at, "sent_at": None}
        dropped = 0
        while len(self.state) > self.capacity:
            soonest = min(self.state, key=lambda k: self.state[k]["ends_at"])
            del self.state[soonest]
            dropped += 1
        return dropped

    def due(self, now: float, every: float) -> Due:
        """What to POST at `now`: alerts never sent since they changed, alerts last sent `every`
        seconds ago or more (Alertmanager expects active alerts to be re-sent), and alerts past
        their end, which are sent one last time and forgotten."""
        active, resolved = [], []
        for key, entry in list(self.state.items()):
            if now >= entry["ends_at"]:
                resolved.append(entry["alert"])
                del self.state[key]
            elif entry["sent_at"] is None or now - entry["sent_at"] >= every:
                active.append(entry["alert"])
                self.state[key] = {**entry, "sent_at": now}
        return Due(active, resolved)

    def next_due(self, every: float) -> float | None:
        """The earliest time `due` will return something (epoch seconds; -inf when something is
        due already), None when there is nothing to send."""
        times = [
            min(entry["ends_at"], float("-inf") if entry["sent_at"] is None else entry["sent_at"] + every)
            for entry in self.state.values()
        ]
        return min(times, default=None)
