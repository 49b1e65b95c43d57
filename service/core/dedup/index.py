"""The dedup index: exact and near-duplicate decisions over caller-owned mappings.

State lives in four MutableMappings with str keys and JSON values, so unit tests pass
dicts and the stream agent passes Faust tables. Values are always reassigned, never
mutated in place, because a table only persists what is written back to it.

- buckets: LSH band key -> (article id, ...) (originals only, oldest first)
- docs:    article id -> record (see _record)
- exact:   "u:<url key>" or "c:<content hash>" -> first article id seen with it
- times:   "<time bucket number>" -> how many ids it holds; "<number>:<chunk>" -> up to
           TIME_CHUNK ids; "floor" -> oldest live bucket

Sequences are bounded (buckets by config.bucket_capacity, time chunks by TIME_CHUNK) because
each write re-serialises the whole value: an unbounded one would make inserts quadratic in the
stream's rate. They are written as tuples of strings, which CPython's
garbage collector stops tracking: as lists, 400k bucket values held in dicts made the collector's
full passes cost ~28 µs per article over 20k articles. Read back from JSON they are lists, and
every reader takes either.
"""

from collections.abc import MutableMapping, Sequence
from itertools import chain
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import mix
from .config import DedupConfig
from .fingerprint import Fingerprint, decode_uint32
from .minhash import band_keys
from .sketch_cache import SketchCache

_FLOOR = "floor"
# Every article rewrites its time bucket's open chunk. In the worker that is a RocksDB put of
# the pickled ids: at 256 a chunk averaged ~4 kB per article, flushes and compactions followed,
# and every other read of the derived stores slowed. Changing only this, the index over RocksDB
# went from 165 to 146 µs per article over 20k generated articles.
TIME_CHUNK = 16
# Decoded sketches of the newest originals kept in memory: every article that shares a band
# with an original reads its record and decodes its sketch, ~6 times per article over 20k
# generated ones. 20k entries of a 128-value sketch hold ~15 MB, whatever the retention.
SKETCH_CACHE = 20_000
REBUILD_CHUNK = 20_000


@dataclass(frozen=True)
class Decision:
    """Outcome for one article.

    status is "unique" or "duplicate"; kind is "exact" (same canonical URL or same
    normalised text) or "near" (similarity = estimated containment) for duplicates.
    duplicate_of is always the root original, never the article itself.
    """

    status: str
    kind: str | None = None
    duplicate_of: str | None = None
    similarity: float | None = None


UNIQUE = Decision("unique")


class DedupIndex:
    """First-seen-wins duplicate detection with bounded, time-expired state."""

    def __init__(
        self,
        buckets: MutableMapping[str, Any],
        docs: MutableMapping[str, Any],
        exact: MutableMapping[str, Any],
        times: MutableMapping[str, Any],
        config: DedupConfig,
    ) -> None:
        self.buckets = buckets
        self.docs = docs
        self.exact = exact
        self.times = times
        self.config = config
        # Counted as articles come and go, because len() of a RocksDB table walks every key.
        # None until rebuild_derived() has counted what `docs` already held.
        self.articles: int | None = None
        # (sketch, shingle count, root) of the newest originals: what `docs` holds, decoded.
        # Its article ids are an OrderedDict, because the oldest goes first: `next(iter(d))` on
        # a plain dict walks every slot left empty by earlier evictions until the dict is
        # resized, and in a 200k-article drain that walk took 3.6 % of the worker's CPU.
        # Scratch rows: one per candidate a lookup can have (each bucket holds bucket_capacity).
        self._sketches = SketchCache(SKETCH_CACHE, config.sketch_size, config.bands * config.bucket_capacity)

    def check_and_insert(self, fp: Fingerprint, now: float) -> Decision:
        """Decide whether `fp` duplicates a stored article, then store it.

        `now` is the article's time in epoch seconds; it drives expiry only. Replaying an
        article id returns the decision recorded the first time and changes nothing.
        """
        stored = self.docs.get(fp.article_id)
        if stored is not None:
            return Decision(*stored["d"])
        exact_keys = _exact_keys(fp)
        # Each key's root, read once for the lookup and for the insert.
        exact_roots = [self._root_of(held) for held in get_many(self.exact, exact_keys, None)]
        decision = _exact_match(exact_roots)
        buckets: dict[str, Any] = {}
        sketch = None
        if decision is None and fp.bands:
            # Read and decoded once, for the lookup and for the insert.
            buckets = dict(zip(fp.bands, get_many(self.buckets, fp.bands, ())))
            sketch = fp.decoded_sketch()
            decision = self._near_match(fp, sketch, buckets)
        decision = decision or UNIQUE
        self._insert(fp, dict(zip(exact_keys, exact_roots)), decision, now, buckets, sketch)
        return decision

    def expire(self, now: float) -> int:
        """Forget articles older than the retention window; returns how many were removed.

        Works bucket by bucket from the oldest live time bucket, so its cost is
        proportional to what expires. Articles live between retention_seconds and
        retention_seconds + time_bucket_seconds.
        """
        floor = self.times.get(_FLOOR)
        if floor is None:
            return 0
        cutoff = int((now - self.config.retention_seconds) // self.config.time_bucket_seconds)
        removed = 0
        for number in range(floor, cutoff):
            count = self.times.pop(str(number), 0)
            for chunk in range(-(-count // TIME_CHUNK)):
                for article_id in self.times.pop(f"{number}:{chunk}", []):
                    removed += self._forget(article_id)
        if cutoff > floor:
            self.times[_FLOOR] = cutoff
        return removed

    def rebuild_derived(self) -> int:
        """Re-derive `buckets`, `exact` and `times` from `docs` alone; returns the articles seen.

        `docs` holds everything the other mappings index, so a caller may keep only `docs`
        durable (one write per article) and rebuild the rest after a restart or a rebalance.
        Order does not matter: exact keys resolve to roots, and late articles land in the
        oldest live time bucket.
        """
        for mapping in (self.buckets, self.exact, self.times):
            mapping.clear()
        self._sketches.clear()
        floor = min((int(r["t"] // self.config.time_bucket_seconds) for r in self.docs.values()), default=None)
        if floor is None:
            self.articles = 0
            return 0
        self.times[_FLOOR] = floor
        pending: dict[str, list[str]] = {}
        count = 0
        # Two passes over docs and bucket lists merged in chunks: memory stays bounded by
        # REBUILD_CHUNK articles however large the retention window is.
        for article_id, record in self.docs.items():
            count += 1
            for key in _exact_keys_of_record(record):
                if self._root_of(self.exact.get(key)) is None:
                    self.exact[key] = article_id
            if "g" in record:
                for key in band_keys(decode_uint32(record["g"]), self.config.bands, self.config.rows):
                    pending.setdefault(key, []).append(article_id)
            self._file_in_time_bucket(article_id, record["t"])
            if count % REBUILD_CHUNK == 0:
                self._merge_buckets(pending)
                pending = {}
        self._merge_buckets(pending)
        self.articles = count
        return count

    def _merge_buckets(self, pending: dict[str, list[str]]) -> None:
        keep = self.config.bucket_capacity
        for key, ids in pending.items():
            self.buckets[key] = (*self.buckets.get(key, ()), *ids)[-keep:]

    def _near_match(self, fp: Fingerprint, sketch: Any, buckets: dict[str, Any]) -> Decision | None:
        """`sketch`: `fp`'s, decoded; `buckets`: the stored ids under each of `fp`'s band keys."""
        cache, config = self._sketches, self.config
        # Each candidate once, in band order then bucket order (ties go to the first: the
        # decision must not depend on a set's order, which differs between processes).
        # `buckets` was filled in band order, so its values are in it too.
        candidates = list(dict.fromkeys(chain.from_iterable(buckets.values())))
        # Those the cache does not hold, read in one call: late in a 200k-article run that is
        # ~15 per article; on a worker's docs store one read each through Faust's table took
        # 357 µs for 15, one multi-get (service/table_view.py) 162 µs.
        uncached = [c for c in candidates if c not in cache.rows]
        stored = dict(zip(uncached, map(_sketch_entry, get_many(self.docs, uncached, None)))) if uncached else {}
        rows: list[int] = []
        loaded: list[tuple[str, tuple[Any, int, str]]] = []
        for candidate in candidates:
            row = cache.rows.get(candidate)
            if row is None:
                entry = stored.get(candidate)
                if entry is None:
                    continue
                # A scratch row: caching it now could evict another candidate of this lookup.
                row = cache.stage(len(loaded), *entry)
                loaded.append((candidate, entry))
            rows.append(row)
        if not rows:
            return None
        position, containment = mix.best_match(
            sketch, fp.shingle_count, cache.values, cache.lengths, cache.totals, np.array(rows, dtype=np.int64),
            config.sketch_size, config.containment_threshold, config.jaccard_threshold)
        root = cache.roots[rows[position]] if position >= 0 else None
        for candidate, entry in loaded:
            # Oldest first out: new stories draw the most copies.
            cache.put(candidate, *entry)
        if root is None:
            return None
        return Decision("duplicate", "near", root, round(containment, 4))

    def _root_of(self, article_id: str | None) -> str | None:
        record = self.docs.get(article_id) if article_id is not None else None
        return None if record is None else record["r"]

    def _insert(self, fp: Fingerprint, exact_roots: dict[str, str | None], decision: Decision, now: float,
                buckets: dict[str, Any], sketch: Any) -> None:
        """`exact_roots` (each exact key's root, None when unclaimed), `buckets` and `sketch`: as
        read and decoded for the decision (the last two set whenever the article is an original
        with bands)."""
        original = decision.status == "unique"
        with_sketch = original and bool(fp.bands)
        self.docs[fp.article_id] = _record(fp, decision, now, with_sketch)
        if with_sketch:
            self._sketches.put(fp.article_id, sketch, fp.shingle_count, fp.article_id)
        for key, root in exact_roots.items():
            if root is None:
                self.exact[key] = fp.article_id
        if original and fp.bands:
            keep = self.config.bucket_capacity - 1
            older = slice(-keep, None) if keep else slice(0, 0)
            article_id = fp.article_id
            # Most band keys are new: their buckets all get this one tuple, not one each (a
            # tuple is never changed in place, only replaced).
            alone = (article_id,)
            # Newest originals win: a band key shared by hundreds of articles is boilerplate.
            # One call: a RocksDB mapping writes it as one batch. (Two bands of one article
            # share a key only by a 48-bit collision; the article is then filed there once.)
            self.buckets.update({key: (*held[older], article_id) if (held := buckets[key]) else alone
                                 for key in fp.bands})
        self._file_in_time_bucket(fp.article_id, now)
        if self.articles is not None:
            self.articles += 1

    def _file_in_time_bucket(self, article_id: str, when: float) -> None:
        number = int(when // self.config.time_bucket_seconds)
        floor = self.times.get(_FLOOR)
        if floor is None:
            self.times[_FLOOR] = floor = number
        # An article older than the live window still needs a bucket that will expire.
        slot = str(max(number, floor))
        count = self.times.get(slot, 0)
        chunk = f"{slot}:{count // TIME_CHUNK}"
        # One call: a RocksDB mapping writes both keys in one batch.
        self.times.update({chunk: (*self.times.get(chunk, ()), article_id), slot: count + 1})

    def _forget(self, article_id: str) -> int:
        record = self.docs.pop(article_id, None)
        self._sketches.drop(article_id)
        if record is None:
            return 0
        if self.articles is not None:
            self.articles -= 1
        if "g" in record:
            sig = decode_uint32(record["g"])
            for key in band_keys(sig, self.config.bands, self.config.rows):
                remaining = tuple(other for other in self.buckets.get(key, ()) if other != article_id)
                if remaining:
                    self.buckets[key] = remaining
                else:
                    self.buckets.pop(key, None)
        for key in _exact_keys_of_record(record):
            if self.exact.get(key) == article_id:
                del self.exact[key]
        return 1


def _exact_match(exact_roots: list[str | None]) -> Decision | None:
    """An exact duplicate of the first claimed key's root, if any key is claimed."""
    for root in exact_roots:
        if root is not None:
            return Decision("duplicate", "exact", root, 1.0)
    return None


def get_many(mapping: MutableMapping[str, Any], keys: Sequence[str], default: Any) -> list[Any]:
    """`mapping`'s values of `keys` in order, `default` where missing: in one call when the
    mapping offers `get_many` (a RocksDB store reads them in one multi-get)."""
    many = getattr(mapping, "get_many", None)
    if many is not None:
        return many(list(keys), default)
    return [mapping.get(key, default) for key in keys]


def _sketch_entry(record: dict[str, Any] | None) -> tuple[Any, int, str] | None:
    """(sketch, shingle count, root) of a stored original's record, decoded; None for anything else."""
    if record is None or "s" not in record:
        return None
    return decode_uint32(record["s"]), record["n"], record["r"]


def _record(fp: Fingerprint, decision: Decision, now: float, with_sketch: bool) -> dict[str, Any]:
    """docs value: t time, d decision fields, r root, u/c exact keys; s/n/g for originals."""
    record: dict[str, Any] = {
        "t": now,
        "d": (decision.status, decision.kind, decision.duplicate_of, decision.similarity),
        "r": decision.duplicate_of or fp.article_id,
        "u": fp.url_key,
        "c": fp.content_hash,
    }
    if with_sketch:
        record |= {"s": fp.sketch, "n": fp.shingle_count, "g": fp.signature}
    return record


def _exact_keys(fp: Fingerprint) -> list[str]:
    return _exact_keys_of_record({"u": fp.url_key, "c": fp.content_hash})


def _exact_keys_of_record(record: dict[str, Any]) -> list[str]:
    keys = []
    if record["u"]:
        keys.append("u:" + record["u"])
    if record["c"]:
        keys.append("c:" + record["c"])
    return keys
