"""The labelled evaluation on the seed articles meets the precision and recall targets."""

from pathlib import Path

import pytest

from service.core.dedup import DEFAULT_CONFIG
from service.core.dedup.evalset import build_evalset, split_articles
from service.core.dedup.evaluate import clustering_metrics, run_stream, score_pairs, sweep

SEEDS = Path("/work/shared/seeds")
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed articles not available")


@pytest.fixture(scope="module")
def docs():
    return build_evalset([p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))])


def test_split_articles_on_read_more_and_isolated_headlines() -> None:
    text = "Title one\n\nBody " + "word " * 50 + "\n\nKeep reading\n\nTitle two\n\nBody " + "x " * 50
    text += "\n\n\nTitle three\n\n\nBody " + "y " * 50
    assert [a.headline for a in split_articles(text)] == ["Title one", "Title two", "Title three"]


def test_build_is_deterministic(docs) -> None:
    sources = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert build_evalset(sources) == docs
    assert {d.recipe for d in docs} >= {"original", "truncate", "quote-splice"}


def test_default_config_meets_targets(docs) -> None:
    scores = score_pairs(docs, DEFAULT_CONFIG)
    [(_, pairs)] = sweep(scores, [DEFAULT_CONFIG.containment_threshold], DEFAULT_CONFIG.jaccard_threshold)
    stream = clustering_metrics([d.group for d in docs], run_stream(docs, DEFAULT_CONFIG))
    assert pairs.precision >= 0.99 and pairs.recall >= 0.95
    assert stream.precision >= 0.99 and stream.recall >= 0.95
