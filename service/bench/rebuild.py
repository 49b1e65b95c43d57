"""`newsflow bench rebuild`: how fast the dedup lookups are rebuilt from stored records.

That rebuild runs after every start and rebalance of the worker holding the dedup partition,
so its rate bounds how long a worker with a full retention window takes to resume.
"""

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from service.core.dedup import DEFAULT_CONFIG, DedupIndex, fingerprint
from service.local_state import LocalMapping


def run(count: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20000)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        docs: dict = {}
        index = DedupIndex(
            LocalMapping(path / "buckets"), docs, LocalMapping(path / "exact"), LocalMapping(path / "times"), DEFAULT_CONFIG
        )
        for i in range(count):
            text = " ".join(rng.choice(words) for _ in range(300))
            index.check_and_insert(fingerprint(f"a{i}", text, f"https://x.example/{i}"), now=1000.0 + i)
        started = time.perf_counter()
        rebuilt = index.rebuild_derived()
        seconds = time.perf_counter() - started
    return {"stored_articles": rebuilt, "seconds": round(seconds, 2), "articles_per_second": round(rebuilt / seconds)}
