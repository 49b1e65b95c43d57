"""The alert stage: rules are matched where articles are tagged (in parallel), and decided in
the serialised dedup step, which knows each duplicate's story."""

from collections.abc import MutableMapping
from typing import Any

from service.core.rules import AlertState, Match, RuleSet


def match_records(rules: RuleSet, article: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules `article` matches, as JSON-ready records carried to the dedup step."""
    return [
        {"rule_id": m.rule.id, "evidence": list(m.evidence), "entities": list(m.entities)}
        for m in rules.match(article)
    ]


def _matches(rules: RuleSet, records: list[dict[str, Any]]) -> list[Match]:
    by_id = rules.by_id
    # A rule removed by a reload since the article was matched no longer alerts.
    return [Match(by_id[r["rule_id"]], tuple(r["evidence"]), tuple(r["entities"])) for r in records if r["rule_id"] in by_id]


def decide_alerts(
    state: AlertState,
    rules: RuleSet,
    stories: MutableMapping[str, Any],
    outcome: str,
    record: dict[str, Any],
    records: list[dict[str, Any]],
    now: float,
    replaying: bool = False,
) -> list[dict[str, Any]]:
    """Alert events for one dedup outcome.

    An original ("enriched") is its own story: its matches are remembered in `stories` so that
    later copies from other sources count as evidence for the same story ("duplicates").
    `replaying`: the outcome is being re-decided after a restart; events the state says this
    article caused come back too (filter them with `to_send`).
    """
    if outcome == "enriched":
        if not records:
            return []
        stories[record["id"]] = {"source": record.get("source"), "matches": records, "t": now}
        events = (state.decide(m, record, now, record["id"], replaying) for m in _matches(rules, records))
        return [e for e in events if e is not None]
    story = stories.get(record["duplicate_of"])
    if story is None:
        return []
    return state.on_duplicate(record, _matches(rules, story["matches"]), now, record["duplicate_of"], story["source"],
                              replaying)


def to_send(events: list[dict[str, Any]], sent: set[tuple[str, int]] | None) -> list[dict[str, Any]]:
    """The events to publish. `sent` is None in normal running: all go. While replaying it holds
    the (alert_id, seq) updates already on the alerts topic: those are not sent again, and each
    one sent joins it."""
    if sent is None:
        return events
    out = []
    for event in events:
        update = (event["alert_id"], event["seq"])
        if update not in sent:
            sent.add(update)
            out.append(event)
    return out


# Alert groups and stories that went quiet are pruned at most this often (in decisions).
SWEEP_EVERY = 1000


class Sweeper:
    """When to drop alerts past their cooldown, empty windows and stories older than the
    retention. Groups that go quiet are never touched again, so only a sweep removes them.

    A sweep reads every window, alert and story. At a fixed interval its cost per decision grew
    with the tables: over a 200k-article backlog (every story inside the retention window) it
    made the serialised step quadratic. So the next sweep waits at least as many decisions as
    the last one read entries: about one entry read per decision, whatever the tables hold.
    """

    def __init__(self, every: int = SWEEP_EVERY) -> None:
        self.every = every
        self.next_at = every

    def prune_when_due(self, state: AlertState, stories: MutableMapping[str, Any], decided: int, now: float,
                       retention_seconds: float) -> bool:
        """Sweep when `decided` (decisions so far) has reached the next sweep; True if it did."""
        if decided < self.next_at:
            return False
        read = len(state.windows) + len(state.alerts) + len(stories)
        state.sweep(now)
        forget_stories(stories, now - retention_seconds)
        self.next_at = decided + max(self.every, read)
        return True


def forget_stories(stories: MutableMapping[str, Any], before: float) -> int:
    """Drop remembered stories older than `before` (epoch seconds); returns how many went."""
    old = [key for key, value in stories.items() if value["t"] < before]
    for key in old:
        del stories[key]
    return len(old)
