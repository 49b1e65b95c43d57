"""Replays after a crash: whichever of (state change, alert send) survived, each update of an
alert reaches the topic once. Crash points are simulated by copying the state dicts."""

import copy

import pytest

from service.core.alert_stage import decide_alerts, match_records, to_send
from service.core.rules import AlertState
from service.core.rules.alerts import MAX_EMITTED
from service.schemas import AlertEvent
from tests.unit.test_alert_stage import RULES, article


def dup(i: int, source: str) -> dict:
    return {"id": f"c{i}", "duplicate_of": "o", "source": source, "kind": "near", "similarity": 0.9, "title": "t"}


class World:
    """Alert state plus what is on the alerts topic, processed one outcome at a time."""

    def __init__(self) -> None:
        self.state, self.stories, self.topic = AlertState({}), {}, []
        self.records = match_records(RULES, article("o", "a.example"))

    def snapshot(self):
        return copy.deepcopy((self.state.groups, self.stories))

    def restore(self, snap) -> None:
        groups, stories = copy.deepcopy(snap)
        self.state, self.stories = AlertState(groups), stories

    def decide(self, outcome: str, record: dict, now: float, replaying: bool = False) -> list[dict]:
        return decide_alerts(self.state, RULES, self.stories, outcome, record, self.records, now, replaying)

    def sent(self) -> set:
        return {(e["alert_id"], e["seq"]) for e in self.topic}

    def replay(self, steps) -> None:
        sent = self.sent()
        for outcome, record, now in steps:
            self.topic += to_send(self.decide(outcome, record, now, replaying=True), sent)


STEPS = [
    ("enriched", article("o", "a.example"), 1000.0),
    ("duplicates", dup(1, "b.example"), 1010.0),
    ("duplicates", dup(2, "c.example"), 1020.0),  # third source: fires
    ("duplicates", dup(3, "d.example"), 1030.0),  # new source: update seq 1
    ("duplicates", dup(4, "d.example"), 1040.0),  # same source again: nothing
]


def run_until_crash(world: World, crash_after: int, state_kept: bool, event_sent: bool) -> None:
    """Process STEPS[:crash_after]; the last one's state change and send survive as told."""
    for step in STEPS[: crash_after - 1]:
        world.topic += world.decide(*step)
    before = world.snapshot()
    events = world.decide(*STEPS[crash_after - 1])
    if event_sent:
        world.topic += events
    if not state_kept:
        world.restore(before)


def expected_updates() -> list[tuple[str, int]]:
    world = World()
    for step in STEPS:
        world.topic += world.decide(*step)
    return [(e["alert_id"], e["seq"]) for e in world.topic]


@pytest.mark.parametrize("crash_after", [3, 4])
@pytest.mark.parametrize("state_kept", [True, False])
@pytest.mark.parametrize("event_sent", [True, False])
def test_every_update_reaches_the_topic_exactly_once_whatever_survived(crash_after, state_kept, event_sent):
    world = World()
    run_until_crash(world, crash_after, state_kept, event_sent)
    # The restarted worker re-processes from an older committed offset: all steps again.
    world.replay(STEPS)
    assert [(e["alert_id"], e["seq"]) for e in world.topic] == expected_updates()
    assert [e["seq"] for e in world.topic] == [0, 1]
    for event in world.topic:
        AlertEvent.model_validate(event)


def test_without_replaying_a_known_article_adds_nothing():
    world = World()
    for step in STEPS:
        world.topic += world.decide(*step)
    for step in STEPS:
        assert world.decide(*step) == []


def test_update_numbers_count_up_and_events_kept_are_bounded():
    world = World()
    for step in STEPS[:3]:
        world.topic += world.decide(*step)
    for i in range(10):
        world.topic += world.decide("duplicates", dup(10 + i, f"new{i}.example"), 1100.0 + i)
    assert [e["seq"] for e in world.topic] == list(range(11))
    (alert,) = world.state.alerts.values()
    assert len(alert["emitted"]) == MAX_EMITTED
    assert list(alert["emitted"]) == [f"c{10 + i}" for i in range(10 - MAX_EMITTED, 10)]


def test_to_send_passes_everything_outside_a_replay():
    events = [{"alert_id": "x", "seq": 0}, {"alert_id": "x", "seq": 0}]
    assert to_send(events, None) == events
    sent = {("x", 0)}
    assert to_send(events + [{"alert_id": "x", "seq": 1}], sent) == [{"alert_id": "x", "seq": 1}]
    assert ("x", 1) in sent


def _firings(topic: list[dict]) -> list[tuple]:
    return [(e["rule_id"], e["group"], e["first_seen"]) for e in topic if e["status"] == "firing"]


@pytest.mark.parametrize("crash_after", range(1, len(STEPS) + 1))
def test_any_state_the_changelog_kept_and_any_events_sent_replay_to_the_same_updates(crash_after):
    """The changelog may hold the state as of any step up to the crash, and the topic the
    events of any steps up to it, independently (separate topics, separate batches)."""
    for state_from in range(crash_after + 1):
        for sent_through in range(crash_after + 1):
            world, snapshots, events = World(), [], []
            snapshots.append(world.snapshot())
            for step in STEPS[:crash_after]:
                events.append(world.decide(*step))
                snapshots.append(world.snapshot())
            world.topic = [e for batch in events[:sent_through] for e in batch]
            world.restore(snapshots[state_from])
            world.replay(STEPS)
            assert [(e["alert_id"], e["seq"]) for e in world.topic] == expected_updates(), (state_from, sent_through)
            assert len(_firings(world.topic)) == len(set(_firings(world.topic))) == 1


def test_a_decision_writes_each_group_once():
    """One record per group per decision: two writes (evidence, then alert) could be split by
    a crash, and the replay then fired the same alert again under another id."""

    class Counting(dict):
        writes = 0

        def __setitem__(self, key, value):
            type(self).writes += 1
            super().__setitem__(key, value)

    world = World()
    world.state.groups = Counting()
    for step in STEPS:
        before = Counting.writes
        world.decide(*step)
        assert Counting.writes - before <= len(world.records)
