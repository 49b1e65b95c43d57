"""The fast matcher gives exactly what the straightforward one did, for any article and rule set.

`Reference` is the matching code `RuleSet` had before it was made faster (dict look-ups on
(kind, value) keys, `fold` and one pyahocorasick pass over title and body, snippets cut for
every keyword found), kept here verbatim but for its names. The boolean-tree helpers
(`_normal`, `_holds`, `_trigger`, ...) did not change and are shared. Results are compared
through `repr`, so dict key order, list order and value types all count; a malformed
article must fail the same way (same exception type).
"""

from datetime import datetime, timezone
from functools import cache
from typing import Any

import ahocorasick
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from service.bench.core_loop import source_of, stages
from service.bench.rules import generated_rules
from service.core.ingest import Limits
from service.core.pipeline import prepare
from service.core.rules import RuleError, RuleSet, engine, parse_rules
from service.core.rules.engine import Atom, Match, _all_leaves, _holds, _leaf_atoms, _normal, _positive_leaves, _trigger
from service.core.rules.model import ENTITY_TYPES, Rule
from service.core.tagging.fold import CONTEXTUAL, fold
from service.generate import Generator

from .test_rules_engine import CASES, make_article, resolve

# --- the matcher as it was -------------------------------------------------------------------

_SEPARATOR = " \x00 "


class Reference:
    def __init__(self, rules: list[Rule]) -> None:
        atoms: dict[Atom, int] = {}
        for rule in rules:
            for leaf in _all_leaves(rule.when):
                for atom in _leaf_atoms(leaf):
                    atoms.setdefault(atom, len(atoms))
        self.rules = rules
        self._atoms = list(atoms)
        self._simple: dict[tuple[str, str], int] = {}
        self._themes: dict[str, list[tuple[float, int]]] = {}
        phrases: dict[str, list[int]] = {}
        for atom, index in atoms.items():
            kind = atom[0]
            if kind == "theme":
                self._themes.setdefault(atom[1], []).append((atom[2], index))
            elif kind in ("keyword", "title_keyword"):
                slots = phrases.setdefault(atom[1], [-1, -1])
                slots[kind == "title_keyword"] = index
            else:
                self._simple[(kind, atom[1])] = index
        for scores in self._themes.values():
            scores.sort()
        self._automaton = None
        if phrases:
            self._automaton = ahocorasick.Automaton()
            for phrase, (kw, tkw) in phrases.items():
                self._automaton.add_word(" " + phrase, (len(phrase) + 1, kw, tkw))
            self._automaton.make_automaton()
        self._conditions: list[tuple] = []
        self._evidence: list[tuple[tuple[int, str, str], ...]] = []
        self._by_atom: list[list[int]] = [[] for _ in self._atoms]
        self._always: list[int] = []
        for r, rule in enumerate(rules):
            self._conditions.append(_normal(rule.when, atoms))
            self._evidence.append(tuple(
                (atom, leaf.kind, self._atoms[atom][1]) for leaf, ids in _positive_leaves(rule.when, atoms) for atom in ids
            ))
            trigger = _trigger(rule.when, atoms)
            if trigger is None:
                self._always.append(r)
            else:
                for atom in trigger[0]:
                    self._by_atom[atom].append(r)

    def match(self, article: dict[str, Any]) -> list[Match]:
        true, details = self._true_atoms(article)
        candidates: set[int] = set(self._always)
        for atom in true:
            candidates.update(self._by_atom[atom])
        conditions = self._conditions
        return [self._match(r, true, details) for r in sorted(candidates) if _holds(conditions[r], true)]

    def _true_atoms(self, article: dict[str, Any]) -> tuple[set[int], dict[int, dict[str, Any]]]:
        true: set[int] = set()
        details: dict[int, dict[str, Any]] = {}
        simple = self._simple

        def hit(key: tuple[str, str], entity_id: str | None = None) -> None:
            atom = simple.get(key)
            if atom is not None:
                true.add(atom)
                if entity_id is not None:
                    details.setdefault(atom, {"entities": []})["entities"].append(entity_id)

        for entity in article.get("entities") or ():
            eid = entity.get("id")
            hit(("entity", eid), eid)
            hit(("entity_type", entity.get("type")), eid)
            for designation in entity.get("designations") or ():
                hit(("designation", designation.get("list")), eid)
        for theme in article.get("themes") or ():
            score = theme.get("score") or 0.0
            for min_score, atom in self._themes.get(theme.get("id"), ()):
                if min_score > score:
                    break
                true.add(atom)
                details[atom] = {"score": score}
        source = article.get("source")
        if source:
            hit(("source", source.lower()))
        language = (article.get("language") or "").lower()
        if language:
            hit(("language", language))
            hit(("language", language.split("-")[0]))
        if self._automaton is not None:
            self._scan(article.get("title") or "", article.get("body") or "", true, details)
        return true, details

    def _scan(self, title: str, body: str, true: set[int], details: dict[int, dict[str, Any]]) -> None:
        padded = " " + fold(title) + _SEPARATOR + fold(body) + " "
        body_start = 1 + len(title) + len(_SEPARATOR)
        for end, (length, kw, tkw) in self._automaton.iter(padded):
            if padded[end + 1] != " ":
                continue
            start = end - length + 2
            in_title = start < body_start
            for atom in (kw, tkw) if in_title else (kw,):
                if atom >= 0 and atom not in true:
                    true.add(atom)
                    if in_title:
                        details[atom] = {"field": "title", "snippet": _snippet(title, start - 1, end)}
                    else:
                        details[atom] = {"field": "body",
                                         "snippet": _snippet(body, start - body_start, end + 1 - body_start)}

    def _match(self, r: int, true: set[int], details: dict[int, dict[str, Any]]) -> Match:
        evidence, entities = [], {}
        for atom, kind, value in self._evidence[r]:
            if atom in true:
                item = {"kind": kind, "value": value}
                extra = details.get(atom)
                if extra:
                    item.update(extra)
                    for eid in extra.get("entities", ()):
                        entities[eid] = None
                evidence.append(item)
        return Match(self.rules[r], tuple(evidence), tuple(entities))


def _snippet(text: str, start: int, end: int) -> str:
    pad = max(0, (120 - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    return " ".join(text[lo:hi].split())[:120]


# --- comparing -------------------------------------------------------------------------------


def outcome(matcher: Any, article: Any) -> str:
    """What `match` gives, every order and type included, or the type of what it raises."""
    try:
        matches = matcher.match(article)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return f"raises {type(e).__name__}"
    return repr([(m.rule.id, [list(e.items()) for e in m.evidence], m.entities) for m in matches])


def assert_same(rules: list[Rule], articles: list[Any]) -> None:
    fast, reference = RuleSet.compile(rules), Reference(rules)
    for article in articles:
        assert outcome(fast, article) == outcome(reference, article), article


@cache
def shipped_rules() -> list[Rule]:
    return stages()[1].rules


@cache
def generated_articles() -> list[dict[str, Any]]:
    """Articles as the pipeline hands them to `match`, from the load generator."""
    tagger, rules, *_ = stages()
    articles = []
    for n, m in enumerate(Generator(2000, 0.3, 0.05, 1).messages()):
        p = prepare(m.value, m.key, source_of(n), datetime.now(timezone.utc), Limits(), tagger, rules)
        if p.request:
            articles.append(p.request["article"])
    return articles


def case_rules() -> list[Rule]:
    text = "rules:\n" + "".join(
        f"  - id: r{i}\n    name: R{i}\n    severity: info\n    when:\n{when}\n" for i, (_, when, _, _) in enumerate(CASES)
    )
    return parse_rules(text, resolve)


# Keywords beyond ASCII: Spanish, Greek, Cyrillic, CJK, and a letter beyond U+FFFF.
UNICODE_RULES = """\
rules:
  - id: es
    name: ES
    severity: info
    when:
      any: [{keyword: [ejército, embarcación, "Estados Unidos", ataque]}, {title_keyword: [análisis]}]
  - id: el
    name: EL
    severity: info
    when:
      all: [{keyword: [στρατός, "ΣΥΡΙΖΑ", "ς"]}]
  - id: ru
    name: RU
    severity: info
    when:
      any: [{keyword: [армия, удар]}, {title_keyword: [армия]}]
  - id: other
    name: Other
    severity: info
    when:
      any: [{keyword: [中国, "\\U0001D400x", "k", "x 1"]}, {language: es}]
      none: [{keyword: [opinion]}]
"""


def unicode_rules() -> list[Rule]:
    return parse_rules(UNICODE_RULES, resolve)


# --- generated articles ----------------------------------------------------------------------


def test_generated_articles_match_as_before_under_the_shipped_rules():
    articles = generated_articles()
    assert len(articles) > 1000
    assert sum(bool(Reference(shipped_rules()).match(a)) for a in articles) > 100  # the check has teeth
    assert_same(shipped_rules(), articles)


@pytest.mark.parametrize("rules", [case_rules, unicode_rules, lambda: generated_rules(300)],
                         ids=["test cases", "unicode keywords", "300 generated rules"])
def test_generated_articles_match_as_before_under_other_rules(rules):
    assert_same(rules(), generated_articles()[:600])


def test_article_variants_match_as_before():
    variants = []
    for article in generated_articles()[:150]:
        variants += [
            {**article, "language": "es-MX"},
            {**article, "language": None, "source": article["source"].upper()},
            {**article, "title": article["title"].upper() + " ΣΑΣ", "body": article["body"] + " 🙂 İstanbul"},
            {**article, "entities": [{**e, "id": None} for e in article["entities"]]},
            {**article, "themes": [{"id": t["id"]} for t in article["themes"]]},
            {k: v for k, v in article.items() if k not in ("title", "entities")},
        ]
    for rules in (shipped_rules(), case_rules(), unicode_rules()):
        assert_same(rules, variants)


def test_large_keyword_sets_without_the_compiled_table_match_as_before(monkeypatch):
    monkeypatch.setattr(engine, "DENSE_ENTRIES", 10)
    assert RuleSet.compile(shipped_rules())._phrases._compiled is None
    assert_same(shipped_rules(), generated_articles()[:300])


# --- hypothesis: any article, several rule sets -----------------------------------------------

IDS = ["group:tda", "org:dod", "group:sinaloa"]
THEMES = ["military_action", "drug_trafficking", "sanctions_legal"]
WORDS = ["strike", "strikes", "airstrike", "air", "boat", "drug boat", "killed three", "ataque", "ejército",
         "Estados Unidos", "στρατός", "армия", "中国", "k", "x", "1", "analysis", "opinion", "tren de aragua"]
# Pieces of text: rule words in other cases and accents, and what folds in unusual ways.
PIECES = WORDS + ["STRIKE", "Strike", "ejercito", "EJÉRCITO", "ΣΤΡΑΤΌΣ", "ΣΥΡΙΖΑ", "ς", "İ", "ß", "K", "ﬁ",
                  "\U0001D400", "\U0001D400x", "🙂", "\x00", "_", "-", "—", "’", "\u0301", "\ud800"]
SEPARATORS = ["", " ", "  ", "\n", "\t", ".", "-", "_", "—", " \x00 ", "\u00a0"]

texts = st.lists(st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(PIECES) | st.text(max_size=4)),
                 max_size=12).map(lambda parts: "".join(s + p for s, p in parts))
maybe = st.none() | st.just("")


def partial(fields: dict[str, st.SearchStrategy], min_size: int = 0) -> st.SearchStrategy:
    """Dicts with any subset of `fields`, in any order."""
    return st.lists(st.sampled_from(sorted(fields)), min_size=min_size, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: fields[k] for k in keys}))


designations = partial({"list": st.sampled_from(["FTO", "SDGT", "fto", "Kingpin"]) | maybe,
                        "effective": st.just("2025-02-20")})
entities = partial({
    "id": st.sampled_from(IDS + ["Q1", "GROUP:TDA"]) | maybe,
    "type": st.sampled_from([*ENTITY_TYPES, "person", "EVENT"]) | maybe,
    "designations": st.lists(designations, max_size=3) | st.none(),
    "name": st.just("Name"),
})
themes = partial({"id": st.sampled_from(THEMES + ["other"]) | st.none(),
                  "score": st.sampled_from([0, 0.0, 0.3, 0.5, 0.6, 0.61, 1, 1.0]) | st.none(),
                  "hits": st.just(1)})
articles = partial({
    "title": texts | st.none(), "body": texts | st.none(),
    "entities": st.lists(entities, max_size=5) | st.none(),
    "themes": st.lists(themes, max_size=3) | st.none(),
    "language": st.sampled_from(["en", "es", "es-MX", "ES-mx", "es-", "-", "pt-BR", "EL"]) | maybe,
    "source": st.sampled_from(["wire.example", "WIRE.Example", "satire.example", "other"]) | maybe,
})

# Malformed shapes, which the pipeline never builds: both must fail alike, or agree.
odd = st.sampled_from([0, 1.5, True, [], ["x"], {}, b"strike", "strike"])
hostile_articles = st.one_of(
    articles,
    partial({"title": odd, "body": odd, "language": odd, "source": odd,
             "entities": st.lists(entities | odd, max_size=3) | odd,
             "themes": st.lists(themes | partial({"id": odd, "score": odd}), max_size=2) | odd}),
    st.lists(partial({"id": odd | st.sampled_from(IDS), "type": odd, "designations": st.lists(odd, max_size=2) | odd}),
             max_size=3).map(lambda es: {"entities": es, "title": "strike"}),
)

leaves = st.one_of(
    st.builds(lambda v: {"entity": v}, st.lists(st.sampled_from(IDS), min_size=1, max_size=2)),
    st.builds(lambda v: {"entity_type": v}, st.sampled_from(ENTITY_TYPES)),
    st.builds(lambda v: {"designation": v}, st.sampled_from(["FTO", "SDGT", "fto"])),
    st.builds(lambda v, s: {"theme": v, "min_score": s}, st.sampled_from(THEMES), st.sampled_from([0, 0.5, 0.6, 1])),
    st.builds(lambda v: {"theme": v}, st.sampled_from(THEMES)),
    st.builds(lambda v: {"keyword": v}, st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)),
    st.builds(lambda v: {"title_keyword": v}, st.lists(st.sampled_from(WORDS), min_size=1, max_size=2)),
    st.builds(lambda v: {"source": v}, st.sampled_from(["wire.example", "Satire.example"])),
    st.builds(lambda v: {"language": v}, st.sampled_from(["en", "es", "es-mx", "el"])),
)
conditions = st.recursive(leaves, lambda inner: st.builds(
    lambda op, items: {op: items}, st.sampled_from(["all", "any", "none"]), st.lists(inner, min_size=1, max_size=3)),
    max_leaves=6)
whens = partial({"all": st.lists(conditions, min_size=1, max_size=3), "any": st.lists(conditions, min_size=1, max_size=3),
                 "none": st.lists(conditions, min_size=1, max_size=2)}, min_size=1).filter(lambda when: set(when) != {"none"})
rule_files = st.lists(whens, min_size=1, max_size=5)


def parsed(file: list[dict]) -> list[Rule]:
    text = yaml.safe_dump({"rules": [{"id": f"r{i}", "name": "R", "severity": "info", "when": when}
                                     for i, when in enumerate(file)]}, allow_unicode=True)
    try:
        return parse_rules(text, lambda ref: ref if ref in IDS else None)
    except RuleError:
        assume(False)  # e.g. only `none`


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(rule_files, st.lists(articles, min_size=1, max_size=5))
def test_any_article_under_any_rules_matches_as_before(file, batch):
    assert_same(parsed(file), batch)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_articles, min_size=1, max_size=5))
def test_any_article_under_fixed_rules_matches_or_fails_as_before(batch):
    for rules in (shipped_rules(), case_rules(), unicode_rules()):
        assert_same(rules, batch)


# --- the parts the speed comes from ----------------------------------------------------------


@given(texts)
def test_fold_is_per_character_outside_contextual_characters(text):
    # What lets the compiled scan fold one character at a time.
    assume(not any(c in CONTEXTUAL for c in text))
    assert fold(text) == "".join(fold(c) for c in text)


@given(texts)
def test_compiled_scan_finds_what_pyahocorasick_finds(text):
    phrases = [" ".join(fold(w).split()) for w in WORDS] + ["a  b", "\U0001D400x"]
    compiled = engine._Phrases(phrases)
    plain = engine._Phrases(phrases)
    plain._compiled = None
    assert compiled.first(text) == plain.first(text)


def test_text_the_kernel_cannot_fold_goes_to_fold():
    phrases = engine._Phrases(["σας", "x", "\U0001d400"])
    kernel = engine._first_stops()
    assert kernel("x ΣΑΣ", *phrases._compiled).tolist() == [-1]  # `Σ` folds by its neighbours
    assert kernel("x \U0001D400", *phrases._compiled).tolist() == [-1]
    assert kernel("x σας", *phrases._compiled).tolist() == [1, 1, 0, 5]
    assert phrases.first("x ΣΑΣ") == [(1, 0, 1), (0, 2, 5)]
    assert phrases.first("x \U0001D400") == [(1, 0, 1), (2, 2, 3)]


def test_snippets_are_cut_for_matched_rules_only(monkeypatch):
    cut = []
    monkeypatch.setattr(engine, "_snippet", lambda text, start, end: cut.append((start, end)) or "s")
    ruleset = RuleSet.compile(case_rules())
    matches = ruleset.match(make_article())
    # Once per keyword atom of the matched rules' evidence, however many rules name it.
    assert matches and len(cut) == len({(e["kind"], e["value"]) for m in matches for e in m.evidence if "field" in e})
