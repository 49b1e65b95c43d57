"""The tagger: every alias, context phrase and theme phrase in one Aho-Corasick automaton.

The automaton runs once over the folded text (lower case, no accents, punctuation as spaces);
each key is its words between two spaces, so only whole words match and no Python work is
spent on prefixes of longer words. Case-exact aliases (short
ones and acronyms: `US` is not `us`) are checked against the original text at the match.
Cost is linear in the article's length and independent of the KB's size; Python only
touches whole-word matches.
"""

import bisect
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
# Capitalised words in a row (with Spanish and English particles): written for speed, no
# lookarounds; a letter class of the languages the KB covers.
_UPPER, _LOWER = "A-ZÁÉÍÓÚÑÜ", "a-záéíóúñü"
_UNLINKED = re.compile(
    rf"[{_UPPER}][{_LOWER}]+(?: (?:(?:de|del|la|las|los|y|of|the|al) )*[{_UPPER}][{_LOWER}]+)+"
)
MAX_UNLINKED = 20


def _is_exact(alias: str) -> bool:
    return len(alias) <= EXACT_MAX_CHARS or bool(_ACRONYM.match(alias))


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
        keys: dict[str, list[tuple[int, int, str | None]]] = {}

        def add(alias: str, kind: int, index: int, force_fold: bool = False) -> None:
            core = fold(alias).strip()
            if not core:
                return
            exact = None if force_fold or not _is_exact(alias) else alias.strip()[: len(core)]
            keys.setdefault(" " + core + " ", []).append((kind, index, exact))

        strong_texts: set[str] = set()
        for i, entity in enumerate(entities):
            for alias in (entity.name, *entity.aliases):
                add(alias, STRONG, i)
                strong_texts.add(fold(alias).strip())
            for alias in entity.weak_aliases:
                add(alias, WEAK, i)
            for phrase in entity.context:
                add(phrase, CONTEXT, i, force_fold=True)
        for i, entity in enumerate(entities):
            if entity.type == "PERSON" and " " in entity.name:
                surname = entity.name.rsplit(" ", 1)[1]
                if fold(surname).strip() not in strong_texts and len(surname) > 2:
                    add(surname, SURNAME, i, force_fold=True)
        for phrase in stop_phrases:
            add(phrase, STOP, -1)
        for i, theme in enumerate(self.themes):
            for phrases in theme.phrases.values():
                for phrase in phrases:
                    add(phrase, THEME, i, force_fold=True)
        self._automaton = _automaton(keys)
        self._records = [
            {"id": e.id, "name": e.name, "type": e.type, "subtype": e.subtype,
             "designations": [d.model_dump() for d in e.designations]}
            for e in entities
        ]
        self.alias_count = sum(map(len, keys.values()))

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
        if not text or self._automaton is None:
            return scan
        padded = " " + fold(text) + " "
        for end, (length, entries) in self._automaton.iter(padded):
            # padded[i] is text[i - 1]; a key is " words " so only whole words match.
            start, stop = end - length + 1, end - 1
            links = []
            for kind, index, exact in entries:
                if exact is not None and text[start:stop] != exact:
                    continue
                if kind <= STOP:
                    links.append((kind, index))
                elif kind == CONTEXT:
                    scan.context.add(index)
                else:
                    scan.themes[index] += 1
            if links:
                scan.spans[(start, stop)] = tuple(sorted(links))
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
        static = self._records[index]
        return {**static, "count": 0, "mentions": [], "in_title": False,
                "designations": [dict(d) for d in static["designations"]]}

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


def _automaton(words: dict[str, list[tuple[int, int, str | None]]]):
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, entries in words.items():
        automaton.add_word(word, (len(word), tuple(dict.fromkeys(entries))))
    automaton.make_automaton()
    return automaton


def _unlinked(body: str, links) -> list[str]:
    """Capitalised multi-word names that no linked mention covers, most frequent first."""
    # Linked spans do not overlap and come sorted, so one bisect finds the only candidate.
    starts = [s for s, _, _, _ in links]
    ends = [e for _, e, _, _ in links]
    counts: Counter = Counter()
    for m in _UNLINKED.finditer(body):
        start, end = m.span()
        if start and body[start - 1].isalnum():
            continue
        i = bisect.bisect_left(starts, end) - 1
        if i >= 0 and ends[i] > start:
            continue
        counts[m.group(0)] += 1
    return [name for name, _ in counts.most_common(MAX_UNLINKED)]
