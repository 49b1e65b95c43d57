"""The alert stage over plain dicts: originals remember their matches, copies add evidence."""

from service.core.alert_stage import decide_alerts, forget_story, match_records
from service.core.rules import AlertState, RuleSet, kb_resolver, parse_rules
from service.core.tagging import parse_entities

ENTITIES = parse_entities([{"id": "g:tda", "name": "Tren de Aragua", "type": "CRIMINAL_GROUP", "subtype": "gang"}])
RULES = RuleSet.compile(parse_rules(
    """
rules:
  - id: story-3-sources
    name: A strike story reported by three outlets
    severity: warning
    when:
      all:
        - entity: Tren de Aragua
        - keyword: [strike]
    threshold: {count: 3, distinct: source, window: 1h}
    group_by: story
    cooldown: 6h
""",
    kb_resolver(ENTITIES),
))


def article(article_id: str, source: str) -> dict:
    return {"id": article_id, "source": source, "title": "Strike", "body": "A strike on Tren de Aragua.",
            "language": "en", "themes": [],
            "entities": [{"id": "g:tda", "name": "Tren de Aragua", "type": "CRIMINAL_GROUP", "designations": []}]}


def test_copies_from_other_sources_reach_the_threshold_once_and_reprints_add_nothing():
    state, stories = AlertState({}), {}
    original = article("o", "a.example")
    records = match_records(RULES, original)
    assert [r["rule_id"] for r in records] == ["story-3-sources"]
    assert decide_alerts(state, RULES, stories, "enriched", original, records, 1000.0) == []

    def copy(i, source):
        return {"id": f"c{i}", "duplicate_of": "o", "source": source, "kind": "near", "similarity": 0.9, "title": "t"}

    assert decide_alerts(state, RULES, stories, "duplicates", copy(1, "b.example"), [], 1010.0) == []
    (fired,) = decide_alerts(state, RULES, stories, "duplicates", copy(2, "c.example"), [], 1020.0)
    assert fired["status"] == "firing" and fired["group"] == "story:o" and set(fired["sources"]) == {"a.example", "b.example", "c.example"}
    for i in range(3, 23):
        assert decide_alerts(state, RULES, stories, "duplicates", copy(i, "c.example"), [], 1030.0 + i) == []
    (updated,) = decide_alerts(state, RULES, stories, "duplicates", copy(99, "d.example"), [], 1100.0)
    assert updated["status"] == "updated" and updated["alert_id"] == fired["alert_id"]


def test_copies_of_stories_that_matched_nothing_cost_nothing_and_stories_expire():
    state, stories = AlertState({}), {}
    plain = {**article("p", "a.example"), "entities": []}
    assert decide_alerts(state, RULES, stories, "enriched", plain, match_records(RULES, plain), 1000.0) == []
    assert stories == {}
    dup = {"id": "d", "duplicate_of": "p", "source": "b.example", "kind": "exact", "similarity": 1.0, "title": "t"}
    assert decide_alerts(state, RULES, stories, "duplicates", dup, [], 1001.0) == []
    decide_alerts(state, RULES, stories, "enriched", article("o", "a.example"), match_records(RULES, article("o", "a.example")), 1000.0)
    assert [forget_story(stories, key, before=2000.0) for key in list(stories)] == [1] and stories == {}


def test_quiet_groups_and_old_stories_are_pruned_on_every_sweep_th_decision():
    from service.core.alert_stage import SWEEP_EVERY, Sweeper

    state, stories = AlertState({}), {}
    original = article("o", "a.example")
    decide_alerts(state, RULES, stories, "enriched", original, match_records(RULES, original), 1000.0)
    assert stories and state.windows
    later = 1000.0 + 2 * 3600
    sweeper = Sweeper()
    assert not sweeper.prune_when_due(state, stories, SWEEP_EVERY - 1, later, retention_seconds=3600)
    assert stories and state.windows
    assert sweeper.prune_when_due(state, stories, SWEEP_EVERY, later, retention_seconds=3600)
    assert stories == {} and state.windows == {}


def test_a_sweep_is_spread_over_decisions_and_tables_may_change_meanwhile():
    from service.core.alert_stage import Sweeper

    stories = {f"s{i}": {"source": "a", "matches": [], "t": 1000.0} for i in range(250)}
    state, sweeper = AlertState({}), Sweeper(every=10, budget=100)
    results = []
    for decided in range(10, 14):
        results.append(sweeper.prune_when_due(state, stories, decided, 9000.0, retention_seconds=3600))
        stories[f"new{decided}"] = {"source": "a", "matches": [], "t": 9000.0}  # a decision in between
    # 250 stories at 100 per decision: done on the third call; the newer stories stay.
    assert results == [False, False, True, False]
    assert set(stories) == {"new10", "new11", "new12", "new13"}
    assert sweeper.next_at == 12 + 250


def test_sweeps_are_spaced_by_what_they_read():
    # A sweep reads every entry; sweeping a large table every 1,000 decisions made the step
    # quadratic, so the next sweep waits as many decisions as the last one read.
    from service.core.alert_stage import Sweeper

    stories = {f"s{i}": {"source": "a", "matches": [], "t": 5000.0} for i in range(4000)}
    state, sweeper = AlertState({}), Sweeper(every=1000, budget=10_000)
    assert sweeper.prune_when_due(state, stories, 1000, 5000.0, retention_seconds=3600)
    assert len(stories) == 4000 and sweeper.next_at == 1000 + 4000
    assert not sweeper.prune_when_due(state, stories, 4999, 5000.0, retention_seconds=3600)
    assert sweeper.prune_when_due(state, stories, 5000, 5000.0 + 7200, retention_seconds=3600)
    assert stories == {} and sweeper.next_at == 5000 + 4000
