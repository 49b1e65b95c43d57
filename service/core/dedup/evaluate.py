"""Scores for the labelled evaluation set: pairwise sweeps and streaming decisions."""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .config import DedupConfig
from .evalset import EvalDoc
from .fingerprint import Fingerprint, decode_uint32, fingerprint
from .index import DedupIndex
from .sketch import similarity

_ARRIVAL_SECONDS = 60


@dataclass(frozen=True)
class PairScore:
    """One unordered document pair: gold label, LSH candidacy and estimated similarity."""

    duplicate: bool
    candidate: bool
    containment: float
    jaccard: float
    recipes: str


@dataclass(frozen=True)
class Metrics:
    """Pair precision, recall and F1 with the counts behind them."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    actual: int


def metrics(true_positives: int, predicted: int, actual: int) -> Metrics:
    """Precision, recall and F1; an empty prediction counts as precision 1."""
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(precision, recall, f1, true_positives, predicted, actual)


def score_pairs(docs: Sequence[EvalDoc], config: DedupConfig) -> list[PairScore]:
    """Score every pair of `docs` the way DedupIndex verifies an LSH candidate."""
    fps = [fingerprint(d.doc_id, d.text, d.url, config) for d in docs]
    sketches = [decode_uint32(fp.sketch) for fp in fps]
    bands = [set(fp.bands) for fp in fps]
    scores = []
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            if fps[i].shingle_count and fps[j].shingle_count:
                sim = similarity(
                    sketches[i], fps[i].shingle_count, sketches[j], fps[j].shingle_count,
                    config.sketch_size,
                )
            else:
                sim = similarity(sketches[i][:0], 0, sketches[j][:0], 0, config.sketch_size)
            scores.append(
                PairScore(
                    duplicate=docs[i].group == docs[j].group,
                    candidate=bool(bands[i] & bands[j]),
                    containment=sim.containment,
                    jaccard=sim.jaccard,
                    recipes=" | ".join(sorted((docs[i].recipe, docs[j].recipe))),
                )
            )
    return scores


def sweep(
    scores: Iterable[PairScore], containments: Iterable[float], jaccard: float
) -> list[tuple[float, Metrics]]:
    """Pair metrics when a pair is flagged iff it is an LSH candidate whose containment
    is at least each of `containments` and whose Jaccard is at least `jaccard`."""
    scores = list(scores)
    actual = sum(s.duplicate for s in scores)
    rows = []
    for threshold in containments:
        flagged = [
            s for s in scores if s.candidate and s.containment >= threshold and s.jaccard >= jaccard
        ]
        rows.append((threshold, metrics(sum(s.duplicate for s in flagged), len(flagged), actual)))
    return rows


def clustering_metrics(groups: Sequence[int], roots: Sequence[str]) -> Metrics:
    """Pair metrics of a streaming run: documents pointing to the same root are predicted
    duplicates of each other, documents of the same group are actual duplicates."""

    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    return metrics(
        pairs(Counter(zip(groups, roots)).values()),
        pairs(Counter(roots).values()),
        pairs(Counter(groups).values()),
    )


def run_stream(docs: Sequence[EvalDoc], config: DedupConfig) -> list[str]:
    """Feed `docs` in order through a fresh DedupIndex; returns each document's root."""
    fps: list[Fingerprint] = [fingerprint(d.doc_id, d.text, d.url, config) for d in docs]
    index = DedupIndex({}, {}, {}, {}, config)
    roots = []
    for number, fp in enumerate(fps):
        decision = index.check_and_insert(fp, now=number * _ARRIVAL_SECONDS)
        roots.append(decision.duplicate_of or fp.article_id)
    return roots
