"""Parsing rules: valid files load; each mistake gives an error naming the rule and line."""

import pytest

from service.core.rules import RuleError, RuleSet, kb_resolver, load_rules, parse_duration, parse_rules
from service.core.tagging import load_kb, load_themes
from service.errors import NewsflowError
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES, SEEDS

NAMES = {"tren de aragua": "group:tda", "group:tda": "group:tda", "pentagon": "org:dod"}


def resolve(ref: str) -> str | None:
    return NAMES.get(ref.lower())


GOOD = """\
rules:
  - id: strike-on-designated-group
    name: Strike on a designated group
    severity: critical
    when:
      all:
        - designation: FTO
        - keyword: [strike, strikes]
      any:
        - entity: Pentagon
        - theme: military_action
          min_score: 0.5
      none:
        - source: [Satire.example]
    threshold: {count: 3, distinct: source, window: 1h}
    group_by: entity:Tren de Aragua
    cooldown: 6h
"""


def test_good_rule_parses_with_resolved_ids_and_durations():
    (rule,) = parse_rules(GOOD, resolve)
    assert rule.id == "strike-on-designated-group" and rule.severity == "critical"
    assert rule.threshold.count == 3 and rule.threshold.window == 3600 and rule.threshold.distinct == "source"
    assert rule.cooldown == 6 * 3600 and rule.group_by == "entity:group:tda" and rule.line == 2
    all_, any_, none = rule.when.items
    assert any_.items[0].values == ("org:dod",)
    assert any_.items[1].min_score == 0.5
    assert none.items[0].values == ("satire.example",)


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("30m", 1800), ("1h", 3600), ("6h", 21600), ("7d", 604800),
                                          (90, 90)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0m", "1w", "-1h", "1.5h", "h", "", None, True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


ERRORS = [
    # (case, yaml text, words the message must contain)
    ("unknown rule key", swap("    cooldown: 6h", "    cooldown: 6h\n    colour: red"),
     ["strike-on-designated-group", "colour", "line 18"]),
    ("unknown leaf", swap("        - designation: FTO", "        - regex: '.*'"), ["regex", "line 7"]),
    ("leaf mixed with another", swap("        - designation: FTO", "        - {designation: FTO, keyword: x}"),
     ["mixed", "line 7"]),
    ("empty combinator", swap("      none:\n        - source: [Satire.example]", "      none: []"),
     ["none", "non-empty", "line 13"]),
    ("bad severity", swap("severity: critical", "severity: urgent"), ["urgent", "line 4"]),
    ("unknown entity", swap("entity: Pentagon", "entity: Atlantis Navy"), ["Atlantis Navy", "line 10"]),
    ("unknown group_by entity", swap("entity:Tren de Aragua", "entity:Nobody"), ["Nobody", "line 16"]),
    ("bad group_by", swap("group_by: entity:Tren de Aragua", "group_by: country"), ["country", "line 16"]),
    ("bad cooldown", swap("cooldown: 6h", "cooldown: soon"), ["soon", "line 17"]),
    ("bad window", swap("window: 1h", "window: 1y"), ["1y", "line 15"]),
    ("bad distinct", swap("distinct: source", "distinct: author"), ["author", "line 15"]),
    ("zero count", swap("count: 3", "count: 0"), ["count", "line 15"]),
    ("min_score on keyword", swap("        - keyword: [strike, strikes]", "        - {keyword: x, min_score: 1}"),
     ["min_score", "line 8"]),
    ("min_score out of range", swap("min_score: 0.5", "min_score: 5"), ["min_score", "line 12"]),
    ("unknown entity_type", swap("designation: FTO", "entity_type: CARTEL"), ["CARTEL", "line 7"]),
    ("keyword without letters", swap("keyword: [strike, strikes]", "keyword: ['--']"), ["keyword", "line 8"]),
    ("unknown top-level op", swap("      none:", "      not:"), ["not", "line 13"]),
    ("missing when", swap("    when:\n", "    whence:\n"), ["whence"]),
    ("only none", "rules:\n  - id: r\n    name: R\n    severity: info\n    when:\n      none: [{language: es}]\n",
     ["'r'", "only `none`"]),
    ("bad id", swap("id: strike-on-designated-group", "id: Strike On"), ["Strike On", "id"]),
    ("duplicate id", GOOD + GOOD[len("rules:\n"):], ["duplicate id", "line 18", "first at line 2"]),
    ("duplicate key", swap("    cooldown: 6h", "    cooldown: 6h\n    cooldown: 1h"), ["duplicate key", "line 18"]),
    ("not a list", "rules: {}\n", ["list"]),
    ("not yaml", "rules: [\n", ["YAML"]),
]


@pytest.mark.parametrize("case,text,words", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_rule_and_line(case, text, words):
    with pytest.raises(RuleError) as info:
        parse_rules(text, resolve)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, NewsflowError)


def test_unknown_theme_when_themes_are_given():
    with pytest.raises(RuleError, match="unknown theme 'military_action'"):
        parse_rules(GOOD, resolve, themes=["drug_trafficking"])


def test_shipped_rules_load_against_the_shipped_kb():
    entities, _ = load_kb(DEFAULT_KB)
    themes = [t.id for t in load_themes(DEFAULT_THEMES)]
    rules = load_rules(SEEDS / "rules.yaml", kb_resolver(entities), themes)
    assert len(rules) >= 8
    assert {r.severity for r in rules} == {"info", "warning", "critical"}
    assert RuleSet.compile(rules).keyword_count > 0
