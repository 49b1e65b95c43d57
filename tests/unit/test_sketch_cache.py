"""The index's matrix of decoded sketches: rows reused, oldest out first, scratch apart."""

import numpy as np

from service.core.dedup.sketch_cache import SketchCache


def sketch(*values):
    return np.array(values, dtype=np.uint32)


def row_of(cache, article_id):
    row = cache.rows[article_id]
    return list(cache.values[row, : cache.lengths[row]]), int(cache.totals[row]), cache.roots[row]


def test_entries_read_back_and_the_oldest_goes_first():
    cache = SketchCache(capacity=2, sketch_size=4, scratch=2)
    cache.put("a", sketch(1, 2, 3, 4), 10, "a")
    cache.put("b", sketch(5, 6), 2, "a")
    assert row_of(cache, "b") == ([5, 6], 2, "a")
    cache.put("c", sketch(7), 1, "c")
    assert list(cache.rows) == ["b", "c"]
    # "c" took the row "a" left, and a shorter sketch there reads back without a's tail.
    assert row_of(cache, "c") == ([7], 1, "c") and row_of(cache, "b") == ([5, 6], 2, "a")


def test_dropped_rows_are_reused_and_clear_frees_all():
    cache = SketchCache(capacity=2, sketch_size=4, scratch=1)
    cache.put("a", sketch(1), 1, "a")
    cache.put("b", sketch(2), 1, "b")
    cache.drop("a")
    cache.drop("missing")
    cache.put("c", sketch(3), 1, "c")
    assert list(cache.rows) == ["b", "c"] and sorted(cache.rows.values()) == [0, 1]
    cache.clear()
    assert len(cache) == 0 and cache.roots == [None, None, None]
    cache.put("d", sketch(4), 1, "d")
    cache.put("e", sketch(5), 1, "e")
    assert row_of(cache, "d") == ([4], 1, "d") and row_of(cache, "e") == ([5], 1, "e")


def test_scratch_rows_never_touch_cached_ones():
    cache = SketchCache(capacity=1, sketch_size=2, scratch=2)
    cache.put("a", sketch(1, 2), 5, "a")
    assert [cache.stage(n, sketch(9, 9), 7, "x") for n in range(2)] == [1, 2]
    assert row_of(cache, "a") == ([1, 2], 5, "a")


def test_more_candidates_than_scratch_rows_grow_it():
    # Buckets stored under a larger bucket_capacity than the index now has.
    cache = SketchCache(capacity=1, sketch_size=2, scratch=1)
    cache.put("a", sketch(1, 2), 5, "a")
    rows = [cache.stage(n, sketch(n, n + 1), n + 2, f"x{n}") for n in range(3)]
    assert rows == [1, 2, 3] and cache.values.shape == (4, 2)
    assert [list(cache.values[r, : cache.lengths[r]]) for r in rows] == [[0, 1], [1, 2], [2, 3]]
    assert row_of(cache, "a") == ([1, 2], 5, "a")
