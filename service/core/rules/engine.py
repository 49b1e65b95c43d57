"""All rules compiled together: per-article cost follows what the article contains, not the rule count.

Every leaf value becomes an *atom* (entity id, entity type, designation, theme with its
minimum score, keyword, title keyword, source, language), shared by all rules that name it.
One Aho-Corasick automaton finds every keyword atom in one pass over title and body; dict
look-ups find the other atoms. Each rule is indexed under a *trigger set*: atoms of which
at least one must hold for the rule to match (for `all`, the most selective child; for `any`,
the union of its children). Only rules triggered by the article's true atoms are evaluated,
and their boolean trees only test set membership.
"""

from collections.abc import Iterable
from typing import Any, NamedTuple

import ahocorasick

from service.core.tagging.fold import fold

from .model import Condition, Leaf, Rule

SNIPPET_CHARS = 120
# How often an atom of each kind is true in a typical article: the trigger of an `all` is the
# child with the lowest total, so rules wait on a rare atom rather than on `language: en`.
_KIND_COST = {"entity": 1, "keyword": 1, "title_keyword": 1, "source": 1,
              "theme": 10, "designation": 20, "entity_type": 30, "language": 50}
_SEPARATOR = " \x00 "  # Between title and body, so no phrase spans the two.

Atom = tuple  # (kind, value) or ("theme", id, min_score)


class Match(NamedTuple):
    """A rule that matched an article, with what made it match.

    `evidence`: one dict per satisfied leaf value outside `none` (kind, value, and entity ids,
    a theme score or a keyword snippet of at most 120 characters). `entities`: ids of the
    article's entities that took part.
    """

    rule: Rule
    evidence: tuple[dict[str, Any], ...] = ()
    entities: tuple[str, ...] = ()


def _leaf_atoms(leaf: Leaf) -> list[Atom]:
    if leaf.kind == "theme":
        return [("theme", v, leaf.min_score) for v in leaf.values]
    return [(leaf.kind, v) for v in leaf.values]


class RuleSet:
    """Rules compiled for matching; `match` is pure and thread-safe."""

    def __init__(self, rules: list[Rule], atoms: dict[Atom, int]) -> None:
        self.rules = rules
        # Matches travel between stages as rule ids; the step that decides looks them up here.
        self.by_id: dict[str, Rule] = {rule.id: rule for rule in rules}
        self._atoms = list(atoms)
        self._entity: dict[str, int] = {}
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

    @classmethod
    def compile(cls, rules: Iterable[Rule]) -> "RuleSet":
        """A rule set from parsed rules (see `parse_rules`)."""
        rules = list(rules)
        atoms: dict[Atom, int] = {}
        for rule in rules:
            for leaf in _all_leaves(rule.when):
                for atom in _leaf_atoms(leaf):
                    atoms.setdefault(atom, len(atoms))
        return cls(rules, atoms)

    @property
    def keyword_count(self) -> int:
        return 0 if self._automaton is None else len(self._automaton)

    def match(self, article: dict[str, Any]) -> list[Match]:
        """Rules the enriched article (a dict, as on `articles.enriched`) satisfies, in rule order."""
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
            # `es` in a rule also covers `es-MX` articles.
            hit(("language", language.split("-")[0]))
        if self._automaton is not None:
            self._scan(article.get("title") or "", article.get("body") or "", true, details)
        return true, details

    def _scan(self, title: str, body: str, true: set[int], details: dict[int, dict[str, Any]]) -> None:
        padded = " " + fold(title) + _SEPARATOR + fold(body) + " "
        body_start = 1 + len(title) + len(_SEPARATOR)
        for end, (length, kw, tkw) in self._automaton.iter(padded):
            # Keys start with a space (word start); the next character must end the word too.
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
    """At most SNIPPET_CHARS of `text` centred on [start, end), on one line."""
    pad = max(0, (SNIPPET_CHARS - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    return " ".join(text[lo:hi].split())[:SNIPPET_CHARS]


def _all_leaves(cond: Condition):
    if isinstance(cond, Leaf):
        yield cond
    else:
        for item in cond.items:
            yield from _all_leaves(item)


def _positive_leaves(cond: Condition, atoms: dict[Atom, int], negated: bool = False):
    """Leaves whose truth supports a match (not under an odd number of `none`)."""
    if isinstance(cond, Leaf):
        return [] if negated else [(cond, tuple(atoms[a] for a in _leaf_atoms(cond)))]
    inner = negated != (cond.op == "none")
    return [pair for item in cond.items for pair in _positive_leaves(item, atoms, inner)]


AND, OR, NOT = range(3)


def _normal(cond: Condition, atoms: dict[Atom, int]) -> tuple:
    """The condition as nested tuples evaluated by `_holds`, flattened so that most rules are
    one `AND` of atom sets: (AND, sets of which each needs a true atom, atoms that must all be
    false, sub-conditions), (OR, subs) or (NOT, sub)."""
    if isinstance(cond, Leaf):
        return (AND, (frozenset(atoms[a] for a in _leaf_atoms(cond)),), frozenset(), ())
    parts = [_normal(item, atoms) for item in cond.items]
    if cond.op == "all":
        pos, neg, subs = [], set(), []
        for part in parts:
            if part[0] == AND:
                pos += part[1]
                neg |= part[2]
                subs += part[3]
            else:
                subs.append(part)
        return (AND, tuple(pos), frozenset(neg), tuple(subs))
    simple = all(p[0] == AND and len(p[1]) == 1 and not p[2] and not p[3] for p in parts)
    either = (AND, (frozenset().union(*(p[1][0] for p in parts)),), frozenset(), ()) if simple else (OR, tuple(parts))
    if cond.op == "any":
        return either
    if simple:
        return (AND, (), either[1][0], ())
    return (NOT, either)


def _holds(node: tuple, true: set[int]) -> bool:
    """Whether a `_normal` condition holds given the article's true atoms."""
    kind = node[0]
    if kind == AND:
        for atoms in node[1]:
            if atoms.isdisjoint(true):
                return False
        if not node[2].isdisjoint(true):
            return False
        for sub in node[3]:
            if not _holds(sub, true):
                return False
        return True
    if kind == OR:
        for sub in node[1]:
            if _holds(sub, true):
                return True
        return False
    return not _holds(node[1], true)


def _trigger(cond: Condition, atoms: dict[Atom, int]) -> tuple[frozenset[int], int] | None:
    """(atoms of which one must hold for `cond` to hold, estimated cost), or None when `cond`
    can hold with no atom true (a `none`, or an `any` with such a child)."""
    if isinstance(cond, Leaf):
        ids = frozenset(atoms[a] for a in _leaf_atoms(cond))
        return ids, _KIND_COST[cond.kind] * len(ids)
    if cond.op == "none":
        return None
    found = [_trigger(item, atoms) for item in cond.items]
    if cond.op == "all":
        usable = [t for t in found if t is not None]
        return min(usable, key=lambda t: t[1]) if usable else None
    if any(t is None for t in found):
        return None
    return frozenset().union(*(t[0] for t in found)), sum(t[1] for t in found)
