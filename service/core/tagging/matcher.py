"""The tagger: every alias, context phrase and theme phrase in two Aho-Corasick automatons.

One automaton runs over the folded text (case- and accent-insensitive aliases), one over the
original (case-exact aliases: short ones and acronyms, `US` is not `us`). Cost is linear in the
article's length and independent of the KB's size; Python only touches the matches.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from .fold import fold
from .kb import Entity, Theme

STRONG, WEAK, SURNAME, STOP, CONTEXT, THEME = range(6)
# Aliases this short, or written in capitals or with dots, only match in their exact case.
EXACT_MAX_CHARS = 4
_ACRONYM = re.compile(r"^[A-Z0-9.\-&]+$")
_UNLINKED = re.compile(
    r"\b(?:[A-Z][\w'’-]*[a-z][\w'’-]*)(?:\s+(?:(?:de|del|la|las|los|y|of|the|al)\s+)*[A-Z][\w'’-]*[a-z][\w'’-]*)+"
)
MAX_UNLINKED = 20


def _is_exact(alias: str) -> bool:
    return len(alias) <= EXACT_MAX_CHARS or bool(_ACRONYM.match(alias))


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


@dataclass
class Tags:
    """What the tagger found in one article (JSON-ready via `as_dict`)."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    themes: list[dict[str, Any]] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)


@dataclass
class _Scan:
    """Matches in one text: candidate spans, and the context and theme phrases seen."""

    spans: dict[tuple[int, int], tuple] = field(default_factory=dict)
    context: set[int] = field(default_factory=set)
    themes: Counter = field(default_factory=Counter)


class Tagger:
    """Built once from a KB and a theme taxonomy; `tag` is pure and thread-safe."""

    def __init__(self, entities: list[Entity], themes: list[Theme] = (), stop_phrases: tuple[str, ...] = ()) -> None:
        self.entities = entities
        self.themes = list(themes)
        folded: dict[str, list[tuple[int, int]]] = {}
        exact: dict[str, list[tuple[int, int]]] = {}

        def add(alias: str, kind: int, index: int, force_fold: bool = False) -> None:
            if force_fold or not _is_exact(alias):
                folded.setdefault(fold(alias), []).append((kind, index))
            else:
                exact.setdefault(alias, []).append((kind, index))

        strong_texts: set[str] = set()
        for i, entity in enumerate(entities):
            for alias in (entity.name, *entity.aliases):
                add(alias, STRONG, i)
                strong_texts.add(fold(alias))
            for alias in entity.weak_aliases:
                add(alias, WEAK, i)
            for phrase in entity.context:
                add(phrase, CONTEXT, i, force_fold=True)
        for i, entity in enumerate(entities):
            if entity.type == "PERSON" and " " in entity.name:
                surname = entity.name.rsplit(" ", 1)[1]
                if fold(surname) not in strong_texts and len(surname) > 2:
                    add(surname, SURNAME, i, force_fold=True)
        for phrase in stop_phrases:
            add(phrase, STOP, -1)
        for i, theme in enumerate(self.themes):
            for phrases in theme.phrases.values():
                for phrase in phrases:
                    add(phrase, THEME, i, force_fold=True)
        self._folded = _automaton(folded)
        self._exact = _automaton(exact)
        self.alias_count = sum(map(len, folded.values())) + sum(map(len, exact.values()))

    def tag(self, title: str, body: str) -> Tags:
        """Entities, themes and unlinked names of an article. Offsets are into `body`."""
        title_scan, body_scan = self._scan(title), self._scan(body)
        title_spans, body_spans = _longest(title_scan.spans), _longest(body_scan.spans)
        context = title_scan.context | body_scan.context
        strong = {i for _, _, entries in title_spans + body_spans for kind, i in entries if kind == STRONG}
        body_links = _resolve(body_spans, context, strong)
        return Tags(
            entities=self._entities(_resolve(title_spans, context, strong), body_links, body),
            themes=self._themes(title_scan.themes, body_scan.themes),
            unlinked=_unlinked(body, body_links),
        )

    def _scan(self, text: str) -> _Scan:
        scan = _Scan()
        if not text:
            return scan
        for source, automaton in ((fold(text), self._folded), (text, self._exact)):
            if automaton is None:
                continue
            for end, (length, entries) in automaton.iter(source):
                start = end - length + 1
                if (start > 0 and _is_word_char(text[start - 1])) or (
                    end + 1 < len(text) and _is_word_char(text[end + 1])
                ):
                    continue
                links = tuple(e for e in entries if e[0] <= STOP)
                for kind, index in entries:
                    if kind == CONTEXT:
                        scan.context.add(index)
                    elif kind == THEME:
                        scan.themes[index] += 1
                if links:
                    # The same span can match in both automatons (a weak alias and a surname).
                    key = (start, end + 1)
                    scan.spans[key] = tuple(sorted(scan.spans.get(key, ()) + links))
        return scan

    def _entities(self, title_links, body_links, body: str) -> list[dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for _, _, index, _ in title_links:
            found.setdefault(index, self._entity_record(index))["in_title"] = True
        for start, end, index, _ in body_links:
            record = found.setdefault(index, self._entity_record(index))
            record["mentions"].append({"start": start, "end": end, "text": body[start:end]})
        for index, record in found.items():
            record["count"] = len(record["mentions"]) + (1 if record["in_title"] else 0)
        return sorted(found.values(), key=lambda r: (-r["count"], r["id"]))

    def _entity_record(self, index: int) -> dict[str, Any]:
        e = self.entities[index]
        return {
            "id": e.id, "name": e.name, "type": e.type, "subtype": e.subtype, "count": 0,
            "mentions": [], "in_title": False,
            "designations": [d.model_dump() for d in e.designations],
        }

    def _themes(self, title_hits: Counter, body_hits: Counter) -> list[dict[str, Any]]:
        out = []
        for index in set(title_hits) | set(body_hits):
            # A headline hit says more about what the article is about than one in passing.
            weighted = 2 * title_hits[index] + body_hits[index]
            out.append({
                "id": self.themes[index].id,
                "score": round(weighted / (weighted + 3), 3),
                "hits": title_hits[index] + body_hits[index],
            })
        return sorted(out, key=lambda t: (-t["score"], t["id"]))


def _longest(spans: dict[tuple[int, int], tuple]) -> list[tuple[int, int, tuple]]:
    """Leftmost-longest, non-overlapping spans: `Sinaloa Cartel` wins over `Sinaloa`."""
    chosen, last_end = [], -1
    for (start, end), entries in sorted(spans.items(), key=lambda s: (s[0][0], s[0][0] - s[0][1])):
        if start >= last_end:
            chosen.append((start, end, entries))
            last_end = end
    return chosen


def _resolve(spans, context: set[int], strong: set[int]) -> list[tuple[int, int, int, int]]:
    """(start, end, entity, kind) per linked span: strong aliases always; weak aliases when the
    entity is named in full or its context appears; surnames when the person is named in full."""
    links = []
    for start, end, entries in spans:
        for kind, index in entries:
            if kind == STRONG or (kind == WEAK and (index in strong or index in context)) or (
                kind == SURNAME and index in strong
            ):
                links.append((start, end, index, kind))
                break
    return links


def _automaton(words: dict[str, list[tuple[int, int]]]):
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, entries in words.items():
        automaton.add_word(word, (len(word), tuple(dict.fromkeys(entries))))
    automaton.make_automaton()
    return automaton


def _unlinked(body: str, links) -> list[str]:
    """Capitalised multi-word names that no linked mention covers, most frequent first."""
    covered = [(s, e) for s, e, _, _ in links]
    counts: Counter = Counter()
    for m in _UNLINKED.finditer(body):
        if not any(s < m.end() and m.start() < e for s, e in covered):
            counts[m.group(0)] += 1
    return [name for name, _ in counts.most_common(MAX_UNLINKED)]
