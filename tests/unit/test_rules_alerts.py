"""Alert decisions over plain dicts: thresholds, reprints, updates, cooldown, bounded state."""

import json

import pytest

from service.core.rules import AlertState, Match, RuleSet, parse_rules

HOUR = 3600
T0 = 1_750_000_000.0


def rule_text(threshold: str = "", group_by: str = "story", cooldown: str = "6h") -> str:
    return (
        "rules:\n  - id: r\n    name: Strike\n    severity: critical\n"
        "    when:\n      all: [{keyword: strike}]\n      any: [{entity_type: CRIMINAL_GROUP}, {designation: FTO}]\n"
        + (f"    threshold: {threshold}\n" if threshold else "")
        + f"    group_by: {group_by}\n    cooldown: {cooldown}\n"
    )


def ruleset(**kw) -> RuleSet:
    return RuleSet.compile(parse_rules(rule_text(**kw), lambda ref: ref))


def make_article(id="a1", source="wire.example", entities=("group:tda",)) -> dict:
    return {"id": id, "source": source, "title": "Strike", "body": "A strike on a boat.", "language": "en",
            "entities": [{"id": e, "name": e, "type": "CRIMINAL_GROUP", "subtype": "gang", "count": 1,
                          "mentions": [], "in_title": False, "designations": []} for e in entities],
            "themes": []}


def make_dup(id: str, source: str, duplicate_of: str = "a1") -> dict:
    return {"id": id, "duplicate_of": duplicate_of, "kind": "near", "similarity": 0.9, "source": source,
            "url": f"https://{source}/{id}", "title": "Strike"}


def state() -> AlertState:
    return AlertState({})


def decide(alerts: AlertState, rs: RuleSet, article: dict, now: float, story: str = "a1") -> list[dict]:
    return [e for m in rs.match(article) if (e := alerts.decide(m, article, now, story)) is not None]


def test_rule_without_threshold_fires_once_per_group_in_cooldown():
    rs, alerts = ruleset(), state()
    (first,) = decide(alerts, rs, make_article(), T0)
    assert first["status"] == "firing" and first["rule_id"] == "r" and first["group"] == "story:a1"
    assert first["entities"] == ["group:tda"] and first["article_ids"] == ["a1"] and first["count"] == 1
    assert decide(alerts, rs, make_article(), T0 + 60) == []
    # Another story is another group.
    (other,) = decide(alerts, rs, make_article(id="b1"), T0 + 60, story="b1")
    assert other["alert_id"] != first["alert_id"]
    json.dumps([first, other, alerts.groups])


def test_threshold_fires_once_at_third_distinct_source():
    rs, alerts = ruleset(threshold="{count: 3, distinct: source, window: 1h}"), state()
    (match,) = rs.match(make_article())
    events = [alerts.decide(match, make_article(), T0, "a1")]
    for i, source in enumerate(["wire.example", "second.example", "second.example", "third.example"]):
        events += alerts.on_duplicate(make_dup(f"d{i}", source), [match], T0 + 60 * (i + 1), "a1",
                                      original_source="wire.example")
    fired = [e for e in events if e]
    assert [e["status"] for e in fired] == ["firing"]
    assert fired[0]["sources"] == ["wire.example", "second.example", "third.example"]
    assert fired[0]["article_ids"] == ["a1", "d1", "d2", "d3"]


def test_threshold_counts_only_inside_the_window():
    rs, alerts = ruleset(threshold="{count: 3, distinct: source, window: 1h}"), state()
    (match,) = rs.match(make_article())
    alerts.decide(match, make_article(), T0, "a1")
    assert alerts.on_duplicate(make_dup("d1", "b.example"), [match], T0 + 30 * 60, "a1") == []
    # The original has left the window by now: two sources only.
    assert alerts.on_duplicate(make_dup("d2", "c.example"), [match], T0 + 61 * 60, "a1") == []
    (event,) = alerts.on_duplicate(make_dup("d3", "d.example"), [match], T0 + 62 * 60, "a1")
    assert event["status"] == "firing"


@pytest.mark.parametrize("threshold", ["", "{count: 2, distinct: source, window: 1h}"])
def test_twenty_reprints_give_one_alert(threshold):
    rs, alerts = ruleset(threshold=threshold), state()
    (match,) = rs.match(make_article())
    events = [alerts.decide(match, make_article(), T0, "a1")]
    events += alerts.on_duplicate(make_dup("d0", "b.example"), [match], T0 + 1, "a1", "wire.example")
    for i in range(1, 21):
        source = "wire.example" if i % 2 else "b.example"
        events += alerts.on_duplicate(make_dup(f"d{i}", source), [match], T0 + 10 * i, "a1", "wire.example")
        events.append(alerts.decide(match, make_article(), T0 + 10 * i, "a1"))
    events = [e for e in events if e]
    assert len({e["alert_id"] for e in events}) == 1
    assert sum(e["status"] == "firing" for e in events) == 1
    # With no threshold the second source is news (one update); with one, it is what fires.
    assert len(events) == (2 if not threshold else 1)


def test_update_on_a_new_source_and_a_new_entity_then_silence():
    rs, alerts = ruleset(threshold="{count: 2, distinct: source, window: 1h}"), state()
    (match,) = rs.match(make_article())
    assert alerts.decide(match, make_article(), T0, "a1") is None
    (fired,) = alerts.on_duplicate(make_dup("d1", "b.example"), [match], T0 + 60, "a1", "wire.example")
    (update,) = alerts.on_duplicate(make_dup("d2", "c.example"), [match], T0 + 120, "a1", "wire.example")
    assert update["status"] == "updated" and update["alert_id"] == fired["alert_id"]
    assert update["sources"] == ["wire.example", "b.example", "c.example"] and update["count"] == 3
    # A reprint from a source already counted adds nothing: no event, even as a new article.
    assert alerts.on_duplicate(make_dup("d3", "c.example"), [match], T0 + 180, "a1", "wire.example") == []
    assert alerts.on_duplicate(make_dup("d4", "wire.example"), [match], T0 + 180, "a1", "wire.example") == []
    # A follow-up naming a new group is news.
    follow = make_article(id="a2", entities=("group:tda", "group:sinaloa"))
    (match2,) = rs.match(follow)
    (entity_update,) = [alerts.decide(match2, follow, T0 + 240, "a1")]
    assert entity_update["status"] == "updated" and "group:sinaloa" in entity_update["entities"]
    assert alerts.decide(match2, follow, T0 + 300, "a1") is None


def test_count_crossing_the_threshold_again_is_an_update():
    rs, alerts = ruleset(threshold="{count: 2, window: 1h}", group_by="rule", cooldown="1d"), state()
    (match,) = rs.match(make_article())
    assert alerts.decide(match, make_article(id="x1"), T0, "x1") is None
    assert alerts.decide(match, make_article(id="x2"), T0 + 60, "x2")["status"] == "firing"
    # Hours later one article is below the threshold; a second brings it back over.
    assert alerts.decide(match, make_article(id="x3"), T0 + 3 * HOUR, "x3") is None
    again = alerts.decide(match, make_article(id="x4"), T0 + 3 * HOUR + 60, "x4")
    assert again["status"] == "updated" and again["count"] == 4 and again["group"] == "rule"


def test_cooldown_expiry_gives_a_new_alert_id():
    rs, alerts = ruleset(cooldown="1h"), state()
    (first,) = decide(alerts, rs, make_article(), T0)
    assert decide(alerts, rs, make_article(id="a2"), T0 + HOUR - 1) == []
    (second,) = decide(alerts, rs, make_article(id="a3"), T0 + HOUR)
    assert second["status"] == "firing" and second["alert_id"] != first["alert_id"]


def test_group_by_entity_joins_stories():
    rs, alerts = ruleset(group_by="entity:group:tda"), state()
    (first,) = decide(alerts, rs, make_article(id="a1"), T0, story="a1")
    assert first["group"] == "entity:group:tda"
    assert decide(alerts, rs, make_article(id="b1"), T0 + 60, story="b1") == []


def test_state_is_bounded_after_windows_pass():
    rs, alerts = ruleset(threshold="{count: 3, distinct: source, window: 1h}", group_by="story", cooldown="2h"), state()
    (match,) = rs.match(make_article())
    # A thousand stories over two days: each key's window only holds its last hour.
    for i in range(1000):
        now = T0 + i * 180
        story = f"s{i % 50}"
        alerts.decide(match, make_article(id=f"a{i}", source=f"src{i % 7}.example"), now, story)
        assert all(len(w["events"]) <= 20 for w in alerts.windows.values())
    assert len(alerts.windows) <= 50 and len(alerts.alerts) <= 50
    later = T0 + 1000 * 180 + 3 * HOUR
    assert sum(alerts.prune_group(key, later) for key in list(alerts.groups)) == len(set(f"s{i % 50}" for i in range(1000)))
    assert alerts.windows == {} and alerts.alerts == {} and alerts.groups == {}


def test_state_values_are_reassigned_not_mutated():
    class Recording(dict):
        """A table stand-in that keeps copies of what was assigned, as a changelog would."""

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            self.log = getattr(self, "log", []) + [(key, json.loads(json.dumps(value)))]

    rs = ruleset(threshold="{count: 2, distinct: source, window: 1h}")
    alerts = AlertState(Recording())
    (match,) = rs.match(make_article())
    alerts.decide(match, make_article(), T0, "a1")
    alerts.on_duplicate(make_dup("d1", "b.example"), [match], T0 + 1, "a1", "wire.example")
    alerts.on_duplicate(make_dup("d2", "c.example"), [match], T0 + 2, "a1", "wire.example")
    table = alerts.groups
    assert {k: v for k, v in table.log} == json.loads(json.dumps(dict(table)))
    (group,) = table.values()
    assert group["window"]["events"] and group["alert"]["seq"] == 1


def test_match_without_rule_entities_still_decides():
    rs, alerts = ruleset(), state()
    (match,) = rs.match(make_article())
    bare = Match(match.rule)
    assert alerts.decide(bare, make_article(), T0, "a1")["entities"] == []


@pytest.mark.parametrize("threshold, count_sources", [
    ("{count: 3, window: 1d}", False),
    ("{count: 3, distinct: source, window: 1d}", True),
    ("{count: 80, distinct: source, window: 1d}", True),
])
def test_a_busy_window_stays_bounded_and_still_counts_right(threshold, count_sources):
    """A day-long window with thousands of matches keeps what listing and counting need only."""
    from service.core.rules.alerts import MAX_LISTED

    rs, alerts = ruleset(threshold=threshold, group_by="rule", cooldown="1m"), state()
    (match,) = rs.match(make_article())
    count = int(threshold.split("count: ")[1].split(",")[0])
    for i in range(3000):
        # One loud source, and every 40th article from a source of its own.
        source = f"s{i}.example" if i % 40 == 0 else "loud.example"
        alerts.decide(match, make_article(id=f"a{i}", source=source), T0 + 30 * i, f"a{i}")
        (window,) = alerts.windows.values()
        assert len(window["events"]) <= MAX_LISTED + count + 1
    (window,) = alerts.windows.values()
    assert [e[0] for e in window["events"]] == sorted(e[0] for e in window["events"])
    if count_sources:
        # Every source seen inside the last day (up to count + 1 of them) is still there to count.
        in_window = {f"s{i}.example" if i % 40 == 0 else "loud.example" for i in range(3000) if 30 * i > 30 * 2999 - 86400}
        assert len({e[1] for e in window["events"]}) == min(len(in_window), count + 1)
