"""Micro precision and recall of linked entities against hand-written gold labels."""

from collections import Counter
from dataclasses import dataclass, field

from .fold import fold
from .kb import Entity
from .matcher import Tagger


@dataclass
class Report:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    by_type: dict[str, Counter] = field(default_factory=dict)
    false_positives: list[tuple[str, str]] = field(default_factory=list)  # article, entity id
    false_negatives: list[tuple[str, str]] = field(default_factory=list)  # article, gold name

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def resolver(entities: list[Entity]) -> dict[str, str]:
    """Folded canonical name or strong alias → entity id, for reading gold labels by name."""
    names: dict[str, str] = {}
    for e in entities:
        for alias in (*e.aliases, e.name):  # the canonical name wins over another entity's alias
            names[fold(alias)] = e.id
    return names


def evaluate(tagger: Tagger, articles: dict[str, tuple[str, str]], gold: dict[str, list[dict]]) -> Report:
    """`articles`: key → (title, body); `gold`: key → [{name, type}]. Gold names the KB lacks
    count as misses."""
    names = resolver(tagger.entities)
    types = {e.id: e.type for e in tagger.entities}
    report = Report()
    for key, (title, body) in articles.items():
        predicted = {e["id"] for e in tagger.tag(title, body).entities}
        expected = {names.get(fold(g["name"]), "missing:" + g["name"]): g for g in gold.get(key, [])}
        for entity_id in predicted & expected.keys():
            report.tp += 1
            report.by_type.setdefault(types[entity_id], Counter())["tp"] += 1
        for entity_id in predicted - expected.keys():
            report.fp += 1
            report.by_type.setdefault(types[entity_id], Counter())["fp"] += 1
            report.false_positives.append((key, entity_id))
        for entity_id in expected.keys() - predicted:
            report.fn += 1
            report.by_type.setdefault(expected[entity_id]["type"], Counter())["fn"] += 1
            report.false_negatives.append((key, expected[entity_id]["name"]))
    return report
