"""All rules compiled together: per-article cost follows what the article contains, not the rule count.

Every leaf value becomes an *atom* (entity id, entity type, designation, theme with its
minimum score, keyword, title keyword, source, language), shared by all rules that name it.
One Aho-Corasick automaton finds every keyword atom in one pass over the title and one over
the body; dict look-ups find the other atoms. Each rule is indexed under a *trigger set*:
atoms of which at least one must hold for the rule to match (for `all`, the most selective
child; for `any`, the union of its children). Only rules triggered by the article's true atoms
are evaluated, and their boolean trees only test set membership.

Per article, Python does as little as it can: each entity costs a few dict look-ups; the
automaton runs compiled, folding the text as it reads it, and reports only the first
occurrence of each phrase (`_Phrases`); snippets are only cut for the rules that matched.
"""

from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

import ahocorasick
import numpy as np
from numba.cpython.unicode import _get_code_point

from service.core.jit import compiled
from service.core.tagging import kernels
from service.core.tagging.fold import CONTEXTUAL, bmp_table, fold

from .model import Condition, Leaf, Rule

SNIPPET_CHARS = 120
# How often an atom of each kind is true in a typical article: the trigger of an `all` is the
# child with the lowest total, so rules wait on a rare atom rather than on `language: en`.
_KIND_COST = {"entity": 1, "keyword": 1, "title_keyword": 1, "source": 1,
              "theme": 10, "designation": 20, "entity_type": 30, "language": 50}
# Kinds found by looking the article's value up in a dict of that kind's atoms.
_LOOKED_UP = ("entity", "entity_type", "designation", "source", "language")

# The compiled scan's table (4 bytes an entry) stays below this; larger keyword sets use
# pyahocorasick alone.
DENSE_ENTRIES = 1 << 22
# Symbols of the compiled scan: a space, any character no phrase contains, then the phrases'
# characters; and the answer for a character whose fold depends on the rest of the text.
_SPACE, _OTHER, _FIRST_CHAR, _NEEDS_FOLD = 0, 1, 2, -1

Atom = tuple  # (kind, value) or ("theme", id, min_score)
# Where a keyword atom first occurs: field ("title" or "body"), its text, start and stop in it.
Found = tuple[str, str, int, int]


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
        # One dict per kind, keyed by the value alone: a look-up builds no (kind, value) key.
        by_value: dict[str, dict[str, int]] = {kind: {} for kind in _LOOKED_UP}
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
                by_value[kind][atom[1]] = index
        self._entity_ids, self._entity_types, self._designations, self._sources, self._languages = (
            by_value[kind] for kind in _LOOKED_UP)
        for scores in self._themes.values():
            scores.sort()
        self._phrases = _Phrases(list(phrases)) if phrases else None
        # Atoms of each phrase: in the title both kinds of keyword, in the body only `keyword`.
        self._title_atoms = [tuple(a for a in slots if a >= 0) for slots in phrases.values()]
        self._body_atom = [kw for kw, _ in phrases.values()]
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
        """Distinct keyword phrases (`keyword` and `title_keyword`)."""
        return 0 if self._phrases is None else len(self._phrases)

    def match(self, article: dict[str, Any]) -> list[Match]:
        """Rules the enriched article (a dict, as on `articles.enriched`) satisfies, in rule order."""
        true, details, found = self._true_atoms(article)
        candidates: set[int] = set(self._always)
        by_atom = self._by_atom
        for atom in true:
            candidates.update(by_atom[atom])
        conditions = self._conditions
        return [self._match(r, true, details, found) for r in sorted(candidates) if _holds(conditions[r], true)]

    def _true_atoms(self, article: dict[str, Any]) -> tuple[set[int], dict[int, dict[str, Any]], dict[int, Found]]:
        """The article's true atoms; the evidence details of entity and theme atoms (entity ids,
        a score); where each keyword atom first occurs. Fields are read in a fixed order
        (entities, themes, source, language, title, body), so a malformed article fails as it
        always did."""
        true: set[int] = set()
        details: dict[int, dict[str, Any]] = {}
        self._entity_atoms(article.get("entities") or (), true, details)
        for theme in article.get("themes") or ():
            score = theme.get("score") or 0.0
            for min_score, atom in self._themes.get(theme.get("id"), ()):
                if min_score > score:
                    break
                true.add(atom)
                details[atom] = {"score": score}
        source = article.get("source")
        if source:
            atom = self._sources.get(source.lower())
            if atom is not None:
                true.add(atom)
        language = (article.get("language") or "").lower()
        if language:
            # `es` in a rule also covers `es-MX` articles.
            for tag in (language, language.split("-")[0]):
                atom = self._languages.get(tag)
                if atom is not None:
                    true.add(atom)
        found: dict[int, Found] = {}
        if self._phrases is not None:
            found = self._scan(article.get("title") or "", article.get("body") or "", true)
        return true, details, found

    def _entity_atoms(self, entities: Iterable[dict[str, Any]], true: set[int], details: dict[int, dict[str, Any]]) -> None:
        """Adds the entity, entity type and designation atoms of `entities` to `true`; each
        atom's details list the ids of the entities that make it true, in article order (an
        entity without an id makes its atoms true without being listed)."""
        ids, types, lists = self._entity_ids, self._entity_types, self._designations
        hits = []  # (atom, entity id), in article order
        for entity in entities:
            eid = entity.get("id")
            atom = ids.get(eid)
            if atom is not None:
                hits.append((atom, eid))
            atom = types.get(entity.get("type"))
            if atom is not None:
                hits.append((atom, eid))
            for designation in entity.get("designations") or ():
                atom = lists.get(designation.get("list"))
                if atom is not None:
                    hits.append((atom, eid))
        for atom, eid in hits:
            true.add(atom)
            if eid is not None:
                entry = details.get(atom)
                if entry is None:
                    details[atom] = {"entities": [eid]}
                else:
                    entry["entities"].append(eid)

    def _scan(self, title: str, body: str, true: set[int]) -> dict[int, Found]:
        """Adds the keyword atoms found in `title` and `body` to `true`, and returns where each
        first occurs: the title first, so a `keyword` in both points at the title."""
        found: dict[int, Found] = {}
        for phrase, start, stop in self._phrases.first(title):
            for atom in self._title_atoms[phrase]:
                if atom not in true:
                    true.add(atom)
                    found[atom] = ("title", title, start, stop)
        body_atom = self._body_atom
        for phrase, start, stop in self._phrases.first(body):
            atom = body_atom[phrase]
            if atom >= 0 and atom not in true:
                true.add(atom)
                found[atom] = ("body", body, start, stop)
        return found

    def _match(self, r: int, true: set[int], details: dict[int, dict[str, Any]], found: dict[int, Found]) -> Match:
        evidence, entities = [], {}
        for atom, kind, value in self._evidence[r]:
            if atom in true:
                item = {"kind": kind, "value": value}
                extra = details.get(atom)
                if extra is None and atom in found:
                    # Snippets are cut here, for matched rules only, once per atom and article.
                    field, text, start, stop = found[atom]
                    extra = details[atom] = {"field": field, "snippet": _snippet(text, start, stop)}
                if extra:
                    item.update(extra)
                    for eid in extra.get("entities", ()):
                        entities[eid] = None
                evidence.append(item)
        return Match(self.rules[r], tuple(evidence), tuple(entities))


class _Phrases:
    """Finds where folded keyword phrases first occur in a text, as whole words of its fold.

    Folded text holds only letters, digits and spaces, so a key " phrase " between spaces is a
    whole-word match, and padding the text with a space lets its first and last words match.
    A compiled automaton folds and scans the text in one pass (`_first_stops_kernel`); text it
    cannot fold alone (a `CONTEXTUAL` character, one beyond U+FFFF, not a str), or every text
    when its table would be too large, is folded by `fold` and scanned by pyahocorasick.
    """

    def __init__(self, phrases: list[str]) -> None:
        self._count = len(phrases)
        self._automaton = ahocorasick.Automaton()
        for index, phrase in enumerate(phrases):
            # A hit ends on the space after the phrase: it starts `len(phrase) + 1` before.
            self._automaton.add_word(" " + phrase + " ", (index, len(phrase) + 1))
        self._automaton.make_automaton()
        self._lengths = [len(phrase) for phrase in phrases]
        self._compiled = _compile(phrases)
        if self._compiled is not None:
            _first_stops()  # compiles (or loads) the kernel now rather than on the first article

    def __len__(self) -> int:
        return self._count

    def first(self, text: str) -> list[tuple[int, int, int]]:
        """(phrase index, start, stop) in `text` of the first occurrence of each phrase found."""
        if self._compiled is not None and type(text) is str:
            pairs = _first_stops()(text, *self._compiled).tolist()
            if not pairs or pairs[0] >= 0:
                lengths = self._lengths
                return [(p, stop - lengths[p], stop) for p, stop in zip(pairs[::2], pairs[1::2])]
        hits, seen = [], set()
        for end, (index, back) in self._automaton.iter(" " + fold(text) + " "):
            if index not in seen:
                seen.add(index)
                hits.append((index, end - back, end - 1))
        return hits


def _compilable(phrase: str) -> bool:
    """Whether `phrase` can occur in the fold of a text of the Basic Multilingual Plane: other
    phrases never match in text the kernel scans."""
    return all(c == " " or (c.isalnum() and c <= "\uffff") for c in phrase)


def _compile(phrases: list[str]) -> tuple | None:
    """`_first_stops_kernel`'s arguments after the text, for `phrases` (whose indexes it
    reports); None when no phrase is `_compilable` or the table would be too large.

    The automaton is the tagger's (`kernels.build_trie`, `kernels.build_automaton`) with every
    row dense. Symbols follow code point order, the space first, so that keys sorted as text
    are sorted by symbols too, as `build_trie` needs. `char_sym[c]` is the symbol of `fold`
    of character `c` (`bmp_table`), or -1 for a `CONTEXTUAL` one."""
    keys = sorted((" " + phrase + " ", index) for index, phrase in enumerate(phrases) if _compilable(phrase))
    if not keys:
        return None
    chars = sorted(set("".join(k for k, _ in keys)) - {" "})
    n_syms = _FIRST_CHAR + len(chars)
    states = 1 + sum(len(k) for k, _ in keys)  # at most
    if (states + 1) * n_syms > DENSE_ENTRIES:
        return None
    key_sym = np.full(0x10000, _OTHER, np.int32)
    key_sym[ord(" ")] = _SPACE
    key_sym[[ord(c) for c in chars]] = np.arange(_FIRST_CHAR, n_syms, dtype=np.int32)
    char_sym = key_sym[bmp_table()]
    char_sym[[ord(c) for c in CONTEXTUAL]] = _NEEDS_FOLD
    key_syms = key_sym[[ord(c) for k, _ in keys for c in k]]
    key_ptr = np.zeros(len(keys) + 1, np.int32)
    np.cumsum([len(k) for k, _ in keys], out=key_ptr[1:])
    parent, sym, depth, term = kernels.build_trie(key_syms, key_ptr)
    table, _, _, term, out, next_out = kernels.build_automaton(parent, sym, depth, term, parent.size, n_syms)
    # Terminal states name the phrase's index in `phrases` rather than its rank among the keys.
    indexes = np.array([index for _, index in keys], np.int32)
    term = np.where(term >= 0, indexes[term], -1).astype(np.int32)
    return char_sym, table, n_syms, out, next_out, term, len(phrases)


@compiled
def _first_stops_kernel(text: str, char_sym: np.ndarray, table: np.ndarray, n_syms: int, out: np.ndarray,
                        next_out: np.ndarray, term: np.ndarray, n_phrases: int) -> np.ndarray:
    """Phrase index and stop, flattened, of the first occurrence of each phrase in `fold(text)`,
    in order of stop; or [-1] when `text` holds a character `char_sym` cannot fold alone.
    `table[row + symbol]` is the next state's row shifted left once, plus 1 when a phrase ends
    there; `out`, `next_out` and `term` list the phrases ending in a state
    (`kernels.build_automaton`)."""
    seen = np.zeros(n_phrases, np.bool_)
    found = np.empty(2 * n_phrases, np.int64)
    n = 0
    code = table[_SPACE]  # after the space before the text
    size = len(text)
    for i in range(size + 1):
        sym = _SPACE  # position `size` is the space after the text
        if i < size:
            c = _get_code_point(text, i)
            sym = char_sym[c] if c < 0x10000 else _NEEDS_FOLD
            if sym == _NEEDS_FOLD:
                return np.full(1, -1, np.int64)
        code = table[(code >> 1) + sym]
        if code & 1:
            ending = out[(code >> 1) // n_syms]
            while ending >= 0:
                phrase = term[ending]
                if not seen[phrase]:
                    seen[phrase] = True
                    found[n], found[n + 1] = phrase, i
                    n += 2
                ending = next_out[ending]
    return found[:n]


@cache
def _first_stops() -> Any:
    """`_first_stops_kernel` compiled, called without numba's per-call type dispatch."""
    return kernels.direct(_first_stops_kernel, "a", *_compile(["a"]))


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
