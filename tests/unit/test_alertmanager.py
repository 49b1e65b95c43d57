"""Alert events as Alertmanager alerts: stable labels, cooldown as endsAt, re-sends, resolution."""

import asyncio
import json

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from service.alertmanager import BATCH, AlertmanagerSink
from service.core.rules.alertmanager import ActiveAlerts, labels_of, rfc3339, to_alertmanager
from service.metrics import Metrics

T0 = 1_750_000_000.0
HOUR = 3600


def make_event(**overrides) -> dict:
    event = {
        "alert_id": "a1b2c3", "rule_id": "strike-on-designated-group", "rule_name": "Strike on a designated group",
        "severity": "critical", "status": "firing", "group": "story:nf-1",
        "article_ids": ["nf-1", "nf-2"], "sources": ["wire.example", "b.example"],
        "entities": ["group:tren-de-aragua", "org:us-navy"],
        "evidence": [
            {"kind": "keyword", "value": "strike", "field": "title", "snippet": "US strike hits a boat"},
            {"kind": "theme", "value": "military_action", "score": 0.7},
            {"kind": "designation", "value": "FTO", "entities": ["group:tren-de-aragua"]},
        ],
        "first_seen": T0 - 60, "last_seen": T0, "count": 2,
    }
    event.update(overrides)
    return event


def update_of(event: dict, at: float, source: str) -> dict:
    return {**event, "status": "updated", "last_seen": at, "sources": event["sources"] + [source],
            "article_ids": event["article_ids"] + [f"nf-{source}"], "count": event["count"] + 1, "evidence": []}


def test_payload_has_stable_labels_and_the_story_in_annotations():
    alert = to_alertmanager(make_event(), T0 + 6 * HOUR)
    assert alert["labels"] == {"alertname": "strike-on-designated-group", "severity": "critical",
                               "newsflow_group": "story:nf-1", "alert_id": "a1b2c3"}
    notes = alert["annotations"]
    assert notes["summary"] == "Strike on a designated group"
    assert notes["sources"] == "wire.example, b.example" and notes["article_ids"] == "nf-2, nf-1"
    assert notes["entities"] == "group:tren-de-aragua, org:us-navy" and notes["count"] == "2"
    assert "US strike hits a boat" in notes["evidence"] and "score 0.70" in notes["evidence"]
    assert alert["startsAt"] == rfc3339(T0 - 60) == "2025-06-15T15:05:40.000Z"
    assert alert["endsAt"] == rfc3339(T0 + 6 * HOUR)
    assert all(isinstance(v, str) for v in notes.values())
    json.dumps(alert)


def test_labels_do_not_change_with_what_an_update_adds():
    event = make_event()
    assert labels_of(event) == labels_of(update_of(event, T0 + 60, "c.example"))


def test_long_lists_are_cut_and_say_how_many_more():
    event = make_event(sources=[f"s{i}.example" for i in range(50)], entities=[f"e{i}" for i in range(30)],
                       evidence=[{"kind": "keyword", "value": "x", "snippet": "y" * 5000}] * 9)
    notes = to_alertmanager(event, T0)["annotations"]
    assert notes["sources"].endswith("(+30 more)") and notes["entities"].endswith("(+20 more)")
    assert len(notes["evidence"]) <= 1000


def test_a_new_alert_is_sent_at_once_then_again_only_every_resend_interval():
    active = ActiveAlerts({})
    active.observe(make_event(), cooldown=6 * HOUR)
    due = active.due(T0 + 1, every=60)
    assert [a["labels"]["alert_id"] for a in due.active] == ["a1b2c3"] and due.resolved == []
    assert active.due(T0 + 30, every=60) == ([], [])
    assert active.next_due(every=60) == T0 + 61
    assert len(active.due(T0 + 61, every=60).active) == 1


def test_an_update_is_sent_at_once_with_the_same_labels_start_and_end():
    active = ActiveAlerts({})
    fired = make_event()
    active.observe(fired, cooldown=HOUR)
    (first,) = active.due(T0, every=60).active
    active.observe(update_of(fired, T0 + 10 * 60, "c.example"), cooldown=HOUR)
    assert active.next_due(every=60) == float("-inf")
    (second,) = active.due(T0 + 10 * 60, every=60).active
    assert second["labels"] == first["labels"] and second["startsAt"] == first["startsAt"]
    # The cooldown counts from when the alert fired, as in AlertState: an update does not extend it.
    assert second["endsAt"] == first["endsAt"] == rfc3339(T0 + HOUR)
    assert "c.example" in second["annotations"]["sources"] and second["annotations"]["count"] == "3"
    assert second["annotations"]["evidence"] == first["annotations"]["evidence"], "a copy brings no evidence"


def test_an_update_whose_firing_was_missed_ends_a_cooldown_after_it():
    active = ActiveAlerts({})
    active.observe(update_of(make_event(), T0 + 600, "c.example"), cooldown=HOUR)
    (alert,) = active.due(T0 + 600, every=60).active
    assert alert["endsAt"] == rfc3339(T0 + 600 + HOUR)


@pytest.mark.parametrize("now", [T0 + HOUR, T0 + 2 * HOUR])
def test_at_the_end_of_the_cooldown_the_alert_is_sent_resolved_once_and_forgotten(now):
    state: dict = {}
    active = ActiveAlerts(state)
    active.observe(make_event(), cooldown=HOUR)
    active.due(T0, every=60)
    due = active.due(now, every=60)
    assert due.active == [] and len(due.resolved) == 1
    assert due.resolved[0]["endsAt"] <= rfc3339(now)
    assert state == {} and active.due(now + 60, every=60) == ([], []) and active.next_due(60) is None


def test_an_alert_that_ended_before_it_was_seen_goes_out_resolved():
    active = ActiveAlerts({})
    active.observe(make_event(first_seen=T0 - 2 * HOUR, last_seen=T0 - 2 * HOUR), cooldown=HOUR)
    due = active.due(T0, every=60)
    assert due.active == [] and len(due.resolved) == 1


def test_beyond_capacity_the_alerts_ending_soonest_are_dropped():
    state: dict = {}
    active = ActiveAlerts(state, capacity=2)
    assert active.observe(make_event(alert_id="late"), cooldown=3 * HOUR) == 0
    assert active.observe(make_event(alert_id="soon"), cooldown=HOUR) == 0
    assert active.observe(make_event(alert_id="mid"), cooldown=2 * HOUR) == 1
    assert set(state) == {"late", "mid"}


def test_state_holds_json_values_only():
    state: dict = {}
    active = ActiveAlerts(state)
    active.observe(make_event(), cooldown=HOUR)
    active.due(T0, every=60)
    assert json.loads(json.dumps(state)) == state


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    async def text(self) -> str:
        return "bad alert"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class FakeSession:
    """Records POSTs; answers with `status`, or raises `error`."""

    def __init__(self, status: int = 200, error: Exception | None = None) -> None:
        self.status, self.error, self.posts = status, error, []

    def post(self, url: str, data: bytes, headers: dict) -> FakeResponse:
        if self.error is not None:
            raise self.error
        self.posts.append((url, json.loads(data), headers["Content-Type"]))
        return FakeResponse(self.status)


def sink(clock: list[float]) -> AlertmanagerSink:
    metrics = Metrics.create(CollectorRegistry())
    return AlertmanagerSink("http://am.example:9093/", timeout=5, resend_seconds=60, metrics=metrics,
                            clock=lambda: clock[0])


def sample(s: AlertmanagerSink, name: str, **labels) -> float:
    return s.metrics.registry.get_sample_value(name, labels or None) or 0.0


def test_the_sink_posts_json_to_the_v2_api_and_counts():
    clock = [T0]
    s, session = sink(clock), FakeSession()
    s.observe(make_event(), cooldown=HOUR)
    asyncio.run(s.flush(session))
    ((url, body, content_type),) = session.posts
    assert url == "http://am.example:9093/api/v2/alerts" and content_type == "application/json"
    assert [a["labels"]["alertname"] for a in body] == ["strike-on-designated-group"]
    assert sample(s, "newsflow_alertmanager_posts_total", result="ok") == 1
    assert sample(s, "newsflow_alertmanager_active_alerts") == 1
    clock[0] = T0 + HOUR
    asyncio.run(s.flush(session))
    assert sample(s, "newsflow_alertmanager_alerts_sent_total", state="resolved") == 1
    assert sample(s, "newsflow_alertmanager_active_alerts") == 0


@pytest.mark.parametrize("session,result", [
    (FakeSession(status=400), "rejected"),
    (FakeSession(error=aiohttp.ClientConnectionError("refused")), "failed"),
    (FakeSession(error=asyncio.TimeoutError()), "failed"),
])
def test_a_failing_alertmanager_is_logged_and_counted_never_raised(session, result):
    s = sink([T0])
    s.observe(make_event(), cooldown=HOUR)
    asyncio.run(s.flush(session))
    assert sample(s, "newsflow_alertmanager_posts_total", result=result) == 1
    assert sample(s, "newsflow_alertmanager_posts_total", result="ok") == 0


def test_many_alerts_go_in_batches():
    s, session = sink([T0]), FakeSession()
    for i in range(BATCH + 3):
        s.observe(make_event(alert_id=f"a{i}"), cooldown=HOUR)
    asyncio.run(s.flush(session))
    assert [len(body) for _, body, _ in session.posts] == [BATCH, 3]
