"""Decoded sketches of the newest originals, kept as rows of one matrix.

An article's LSH candidates are then verified in one compiled call (`mix.best_match`) over
their row numbers, instead of one call per candidate: candidates per article grow with the
index (1 at the start of a generated run, 10 after 20k articles), and at ~2 µs a candidate the
loop in Python made the index cost twice as much per article at 20k as at 2k.
"""

from collections import OrderedDict
from typing import Any

import numpy as np


class SketchCache:
    """Up to `capacity` (sketch, shingle count, root) entries by article id, oldest evicted
    first, plus `scratch` rows that hold sketches read for one lookup only."""

    def __init__(self, capacity: int, sketch_size: int, scratch: int) -> None:
        self.capacity = capacity
        rows = capacity + scratch
        # np.zeros maps pages lazily: only rows in use count towards the process's memory.
        self.values = np.zeros((rows, sketch_size), dtype=np.uint32)
        self.lengths = np.zeros(rows, dtype=np.int64)
        self.totals = np.zeros(rows, dtype=np.int64)
        self.roots: list[str | None] = [None] * rows
        # article id -> row, oldest first (an OrderedDict: see DedupIndex on plain dicts).
        self.rows: OrderedDict[str, int] = OrderedDict()
        self._free = list(range(capacity - 1, -1, -1))

    def __len__(self) -> int:
        return len(self.rows)

    def put(self, article_id: str, sketch: Any, total: int, root: str) -> None:
        """Keep an entry, evicting the oldest when full (re-putting an id keeps its row)."""
        row = self.rows.get(article_id)
        if row is None:
            if not self._free:
                self._release(self.rows.popitem(last=False)[1])
            row = self._free.pop()
            self.rows[article_id] = row
        self._write(row, sketch, total, root)

    def stage(self, n: int, sketch: Any, total: int, root: str) -> int:
        """Write the n-th sketch of a lookup to a scratch row (overwritten by the next lookup)."""
        row = self.capacity + n
        if row >= len(self.roots):
            # More candidates than buckets of the configured capacity hold: stored under a
            # larger bucket_capacity before a restart. Rare; grow rather than fail the article.
            self._grow(row + 1)
        self._write(row, sketch, total, root)
        return row

    def drop(self, article_id: str) -> None:
        row = self.rows.pop(article_id, None)
        if row is not None:
            self._release(row)

    def clear(self) -> None:
        for row in self.rows.values():
            self._release(row)
        self.rows.clear()

    def _write(self, row: int, sketch: Any, total: int, root: str) -> None:
        length = len(sketch)
        self.values[row, :length] = sketch
        self.lengths[row] = length
        self.totals[row] = total
        self.roots[row] = root

    def _grow(self, rows: int) -> None:
        extra = rows - len(self.roots)
        self.values = np.concatenate([self.values, np.zeros((extra, self.values.shape[1]), dtype=np.uint32)])
        self.lengths = np.concatenate([self.lengths, np.zeros(extra, dtype=np.int64)])
        self.totals = np.concatenate([self.totals, np.zeros(extra, dtype=np.int64)])
        self.roots += [None] * extra

    def _release(self, row: int) -> None:
        self.roots[row] = None
        self._free.append(row)
