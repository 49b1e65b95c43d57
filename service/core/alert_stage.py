"""The alert stage: rules are matched where articles are tagged (in parallel), and decided in
the serialised dedup step, which knows each duplicate's story."""

from collections.abc import Iterator, MutableMapping
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
# Entries a sweep under way examines per decision: its work is spread over many decisions
# instead of stalling one (a sweep of 200k articles' state held the step for ~6 s).
SWEEP_BUDGET = 100


class Sweeper:
    """When to drop alerts past their cooldown, evidence out of its window and stories older than the
    retention. Groups that go quiet are never touched again, so only a sweep removes them.

    A sweep reads every alert group and story. At a fixed interval its cost per decision grew
    with the tables, and made the serialised step quadratic over a 200k-article backlog; done
    in one go it stalled the step for seconds. So a sweep advances SWEEP_BUDGET entries per
    decision, and the next one starts at least as many decisions after as the last one read.
    """

    def __init__(self, every: int = SWEEP_EVERY, budget: int = SWEEP_BUDGET) -> None:
        self.every, self.budget = every, budget
        self.next_at = every
        self._steps: Iterator[bool] | None = None
        self._read = 0

    def prune_when_due(self, state: AlertState, stories: MutableMapping[str, Any], decided: int, now: float,
                       retention_seconds: float) -> bool:
        """Advance the sweep under way, or start one when `decided` (decisions so far) has
        reached the next; True when a sweep finished."""
        if self._steps is None:
            if decided < self.next_at:
                return False
            self._steps, self._read = _sweep_steps(state, stories, now, retention_seconds), 0
        for _ in range(self.budget):
            if next(self._steps, None) is None:
                self._steps = None
                self.next_at = decided + max(self.every, self._read)
                return True
            self._read += 1
        return False


def _sweep_steps(state: AlertState, stories: MutableMapping[str, Any], now: float,
                 retention_seconds: float) -> Iterator[bool]:
    """One sweep, yielding after each entry. The keys are listed first: a mapping may not
    change size while it is iterated, and decisions write to these tables between steps."""
    for key in list(state.groups.keys()):
        state.prune_group(key, now)
        yield True
    before = now - retention_seconds
    for key in list(stories.keys()):
        forget_story(stories, key, before)
        yield True


def forget_story(stories: MutableMapping[str, Any], key: str, before: float) -> int:
    """Drop one remembered story if it is older than `before`; 1 if it went."""
    story = stories.get(key)
    if story is not None and story["t"] < before:
        del stories[key]
        return 1
    return 0
