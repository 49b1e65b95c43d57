"""`newsflow rules backtest`: replay the outcome topics through a rule file, publish nothing."""

from datetime import datetime
from typing import Any

from service import codec
from service.consumer import read
from service.core.alert_stage import decide_alerts, match_records
from service.core.rules import AlertState, RuleSet
from service.settings import Settings
from service.topic_names import TopicNames


def _when(event: dict[str, Any]) -> float:
    # The live stage files each article under its raw record's time; do the same.
    raw = event.get("raw") or {}
    return (raw.get("timestamp_ms") or 0) / 1000


async def backtest(settings: Settings, rules: RuleSet, since: datetime | None = None) -> list[dict[str, Any]]:
    """The alert events `rules` would have raised over `articles.enriched` and
    `articles.duplicates`, in raw record time order, from `since` on."""
    names = TopicNames.from_settings(settings)
    events: list[tuple[float, str, dict[str, Any]]] = []
    floor = since.timestamp() if since else float("-inf")

    def collect(record) -> None:
        try:
            event = codec.loads(record.value)
        except codec.JSONDecodeError:
            return
        if isinstance(event, dict) and _when(event) >= floor:
            events.append((_when(event), "enriched" if record.topic == names.enriched else "duplicates", event))

    await read(settings, [names.enriched, names.duplicates], collect)
    # Originals before their copies when the clock ties: a copy needs its story.
    events.sort(key=lambda e: (e[0], e[1] != "enriched", (e[2].get("raw") or {}).get("offset", 0)))
    state, stories, alerts = AlertState({}), {}, []
    for when, outcome, event in events:
        records = match_records(rules, event) if outcome == "enriched" else []
        alerts.extend(decide_alerts(state, rules, stories, outcome, event, records, when))
    return alerts
