"""The shipped rules on the demo's articles: a few alerts an analyst can explain, not a storm."""

from collections import Counter
from datetime import datetime, timezone

import pytest

from service.cli.demo import SEEDS
from service.cli.inputs import read_items
from service.core.alert_stage import decide_alerts, match_records
from service.core.dedup import DedupConfig, DedupIndex
from service.core.dedup_stage import decide
from service.core.ingest import Limits, ingest
from service.core.pipeline import enrich
from service.core.rules import AlertState, RuleSet, kb_resolver, load_rules
from service.core.tagging import Tagger, load_kb, load_themes
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES
from service.rulebook import DEFAULT_RULES
from service.schemas.article import SourceRef

T0_MS = 1_760_000_000_000


@pytest.fixture(scope="module")
def demo_alerts() -> list[dict]:
    """Alert events of the demo's articles pushed in order, 50 ms apart, through the real stages."""
    entities, stop = load_kb(DEFAULT_KB)
    themes = load_themes(DEFAULT_THEMES)
    tagger = Tagger(entities, themes, stop)
    rules = RuleSet.compile(load_rules(DEFAULT_RULES, kb_resolver(entities), [t.id for t in themes]))
    config = DedupConfig()
    index, state, stories = DedupIndex({}, {}, {}, {}, config), AlertState({}), {}
    now = datetime(2025, 10, 9, tzinfo=timezone.utc)
    events = []
    for offset, item in enumerate(read_items([str(SEEDS / "articles")])):
        source = SourceRef(topic="articles.raw", partition=0, offset=offset, timestamp_ms=T0_MS + 50 * offset)
        request = enrich(ingest(item.value, item.key, source, now, Limits()).article, tagger, config)
        request["rules"] = match_records(rules, request["article"])
        where, record = decide(index, request, now)
        events += decide_alerts(state, rules, stories, where, record, request["rules"], request["time"])
    return events


def test_the_demo_raises_a_handful_of_alerts_not_a_storm(demo_alerts):
    alerts = {e["alert_id"] for e in demo_alerts}
    assert 5 <= len(alerts) <= 12, Counter(e["rule_id"] for e in demo_alerts)
    assert len(demo_alerts) <= 20
    # One alert per rule and group; what follows are updates of it.
    firing = Counter((e["rule_id"], e["group"]) for e in demo_alerts if e["status"] == "firing")
    assert set(firing.values()) == {1}


def test_the_two_lead_stories_alert_under_their_own_rule(demo_alerts):
    by_group = {(e["rule_id"], e["group"]) for e in demo_alerts}
    assert ("new-terrorist-designation", "story:nf-seed-001") in by_group
    assert ("strike-on-designated-group", "story:nf-seed-004") in by_group


def test_no_story_is_alerted_by_more_than_one_rule(demo_alerts):
    rules_per_story = Counter()
    for rule_id, group in {(e["rule_id"], e["group"]) for e in demo_alerts if e["group"].startswith("story:")}:
        rules_per_story[group] += 1
    assert max(rules_per_story.values()) == 1, rules_per_story


def test_off_topic_articles_never_take_part_in_an_alert(demo_alerts):
    involved = {a for e in demo_alerts for a in e["article_ids"]}
    assert involved.isdisjoint({"nf-seed-027", "nf-seed-028", "nf-seed-029"})
