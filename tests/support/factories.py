"""Factories for test data: defaults plus overrides, never shared fixed objects."""

import itertools
import random
from datetime import datetime, timezone

from service import codec
from service.schemas.article import SourceRef

_counter = itertools.count(1)


def make_article(**overrides) -> dict:
    n = next(_counter)
    article = {
        "id": f"test-{n}",
        "url": f"https://news.example/story/{n}?utm_source=feed",
        "source": "news.example",
        "title": f"Navy destroyers move toward the Caribbean ({n})",
        "published_at": "2025-09-02T14:00:00Z",
        "language": "en",
        "authors": ["A. Reporter"],
        "body": random_text(n, 60) + "\n\n" + random_text(-n, 40),
        "metadata": {"feed": "test"},
    }
    article.update(overrides)
    return {k: v for k, v in article.items() if v is not ...}


def raw_bytes(**overrides) -> bytes:
    return codec.dumps(make_article(**overrides))


def make_source(**overrides) -> SourceRef:
    return SourceRef(**{"topic": "articles.raw", "partition": 0, "offset": 7, "timestamp_ms": 1, **overrides})


NOW = datetime(2025, 9, 3, 12, 0, tzinfo=timezone.utc)


_WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze") for b in range(100)]


def random_text(seed: int, words: int = 200) -> str:
    """Text that shares (almost) no 5-word shingle with another seed's: never a near-duplicate."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."
