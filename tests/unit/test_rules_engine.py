"""The compiled rule set: one row per leaf and combinator, evidence, and the candidate index."""

import pytest

from service.core.rules import RuleSet, engine, parse_rules

NAMES = {"tren de aragua": "group:tda", "tda": "group:tda", "group:tda": "group:tda",
         "united states department of defense": "org:dod", "pentagon": "org:dod", "org:dod": "org:dod",
         "sinaloa cartel": "group:sinaloa", "group:sinaloa": "group:sinaloa"}


def resolve(ref: str) -> str | None:
    return NAMES.get(ref.lower())


def make_article(**overrides) -> dict:
    article = {
        "id": "a1", "source": "wire.example", "url": "https://wire.example/a1", "language": "en",
        "title": "US strike hits boat linked to Tren de Aragua",
        "body": "The Pentagon said the airstrike in the Caribbean killed three. Officials named the gang.",
        "entities": [
            {"id": "group:tda", "name": "Tren de Aragua", "type": "CRIMINAL_GROUP", "subtype": "gang", "count": 2,
             "mentions": [], "in_title": True, "designations": [{"list": "FTO", "effective": "2025-02-20"}]},
            {"id": "org:dod", "name": "United States Department of Defense", "type": "ORGANIZATION",
             "subtype": "ministry", "count": 1, "mentions": [], "in_title": False, "designations": []},
        ],
        "themes": [{"id": "military_action", "score": 0.6, "hits": 3}],
        "dedup": {"status": "unique"},
    }
    article.update(overrides)
    return article


def rule_yaml(when: str) -> str:
    return f"rules:\n  - id: r\n    name: R\n    severity: info\n    when:\n{when}"


def matches(when: str, article: dict) -> bool:
    ruleset = RuleSet.compile(parse_rules(rule_yaml(when), resolve))
    return bool(ruleset.match(article))


CASES = [
    # (case, when body, article overrides, expected)
    ("entity by name", "      all: [{entity: Tren de Aragua}]", {}, True),
    ("entity by alias", "      all: [{entity: Pentagon}]", {}, True),
    ("entity absent", "      all: [{entity: Sinaloa Cartel}]", {}, False),
    ("entity_type", "      all: [{entity_type: CRIMINAL_GROUP}]", {}, True),
    ("entity_type absent", "      all: [{entity_type: PERSON}]", {}, False),
    ("designation", "      all: [{designation: FTO}]", {}, True),
    ("designation absent", "      all: [{designation: SDGT}]", {}, False),
    ("theme", "      all: [{theme: military_action}]", {}, True),
    ("theme min_score met", "      all: [{theme: military_action, min_score: 0.6}]", {}, True),
    ("theme min_score not met", "      all: [{theme: military_action, min_score: 0.61}]", {}, False),
    ("theme absent", "      all: [{theme: drug_trafficking}]", {}, False),
    ("keyword in body", "      all: [{keyword: airstrike}]", {}, True),
    ("keyword case and accents", "      all: [{keyword: CARIBBÉAN}]", {}, True),
    ("keyword phrase", "      all: [{keyword: killed three}]", {}, True),
    ("keyword word-bounded start", "      all: [{keyword: strike}]", {"title": "T", "body": "an airstrike"}, False),
    ("keyword word-bounded end", "      all: [{keyword: air}]", {"title": "T", "body": "an airstrike"}, False),
    ("keyword in title", "      all: [{keyword: boat}]", {}, True),
    ("keyword across title and body", "      all: [{keyword: tren de aragua the}]", {}, False),
    ("keyword list any", "      all: [{keyword: [nothing here, killed]}]", {}, True),
    ("title_keyword in title", "      all: [{title_keyword: strike}]", {}, True),
    ("title_keyword only in body", "      all: [{title_keyword: caribbean}]", {}, False),
    ("source", "      all: [{source: WIRE.example}]", {}, True),
    ("source other", "      all: [{source: other.example}]", {}, False),
    ("language", "      all: [{language: en}]", {}, True),
    ("language primary subtag", "      all: [{language: es}]", {"language": "es-MX"}, True),
    ("language other", "      all: [{language: es}]", {}, False),
    ("all needs every item", "      all: [{keyword: airstrike}, {keyword: submarine}]", {}, False),
    ("any needs one", "      any: [{keyword: submarine}, {keyword: airstrike}]", {}, True),
    ("any with none true", "      any: [{keyword: submarine}, {keyword: tank}]", {}, False),
    ("none blocks", "      any: [{keyword: airstrike}]\n      none: [{source: wire.example}]", {}, False),
    ("none passes", "      any: [{keyword: airstrike}]\n      none: [{source: satire.example}]", {}, True),
    ("nested any in all", "      all: [{any: [{keyword: tank}, {designation: FTO}]}, {keyword: airstrike}]", {}, True),
    ("nested none in any", "      any: [{none: [{keyword: tank}]}]", {}, True),
    ("nested none in any blocked", "      any: [{none: [{keyword: airstrike}]}]", {}, False),
    ("top all+any+none", "      all: [{designation: FTO}]\n      any: [{entity: org:dod}, {keyword: tank}]\n"
                         "      none: [{language: es}]", {}, True),
    ("no entities at all", "      all: [{entity_type: CRIMINAL_GROUP}]", {"entities": []}, False),
]


@pytest.mark.parametrize("case,when,overrides,expected", CASES, ids=[c[0] for c in CASES])
def test_leaves_and_combinators(case, when, overrides, expected):
    assert matches(when + "\n", make_article(**overrides)) is expected


def test_compiled_agrees_with_each_rule_alone():
    # The shared automaton and the trigger index must not change any rule's answer.
    text = "rules:\n" + "".join(
        f"  - id: r{i}\n    name: R{i}\n    severity: info\n    when:\n" + "\n".join(when.splitlines()) + "\n"
        for i, (_, when, _, _) in enumerate(CASES)
    )
    rules = parse_rules(text, resolve)
    together = RuleSet.compile(rules)
    for overrides in ({}, {"language": "es-MX"}, {"title": "T", "body": "an airstrike"}, {"entities": []}):
        article = make_article(**overrides)
        alone = [r.id for r in rules if RuleSet.compile([r]).match(article)]
        assert [m.rule.id for m in together.match(article)] == alone


def test_evidence_names_leaves_entities_and_snippets():
    ruleset = RuleSet.compile(parse_rules(rule_yaml(
        "      all: [{designation: FTO}, {keyword: airstrike}]\n      none: [{keyword: tank}]\n"), resolve))
    body = "x" * 300 + " the airstrike " + "y" * 300
    (match,) = ruleset.match(make_article(body=body))
    kinds = {e["kind"]: e for e in match.evidence}
    assert set(kinds) == {"designation", "keyword"}
    assert kinds["designation"]["entities"] == ["group:tda"]
    assert match.entities == ("group:tda",)
    snippet = kinds["keyword"]["snippet"]
    assert "airstrike" in snippet and len(snippet) <= 120
    assert kinds["keyword"]["field"] == "body"


def test_only_triggered_rules_are_evaluated(monkeypatch):
    # 500 rules on entities the article does not mention: none is a candidate.
    text = "rules:\n" + "".join(
        f"  - id: r{i}\n    name: R\n    severity: info\n    when:\n      all: [{{keyword: word{i}}}]\n"
        for i in range(500)
    )
    ruleset = RuleSet.compile(parse_rules(text, resolve))
    calls = []
    monkeypatch.setattr(engine, "_holds", lambda node, true: calls.append(node) or False)
    ruleset.match(make_article(body="only word7 here"))
    assert len(calls) == 1
