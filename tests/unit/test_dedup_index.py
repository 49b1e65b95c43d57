"""DedupIndex decisions over plain dicts: one row per edge case."""

import json
import random

import pytest

from service.core.dedup import DEFAULT_CONFIG, Decision, DedupConfig, DedupIndex, Fingerprint, fingerprint

HOUR = 3600
DAY = 24 * HOUR
_VOCABULARY = [f"w{n}" for n in range(5000)]


def make_text(seed: int, words: int = 400) -> str:
    """Deterministic pseudo-article: unrelated seeds share almost no 5-shingles."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCABULARY) for _ in range(words)) + "."


def make_index(config: DedupConfig = DEFAULT_CONFIG) -> tuple[DedupIndex, dict, dict, dict, dict]:
    buckets: dict = {}
    docs: dict = {}
    exact: dict = {}
    times: dict = {}
    return DedupIndex(buckets, docs, exact, times, config), buckets, docs, exact, times


def make_fp(article_id: str, text: str, url: str | None = None) -> Fingerprint:
    return fingerprint(article_id, text, url if url is not None else f"https://example.org/{article_id}")


ORIGINAL = make_text(1)
OTHER = make_text(2)
BOILERPLATE = "Sign up for our newsletter. Follow us for live updates. All rights reserved."


def truncated(text: str, fraction: float) -> str:
    words = text.split()
    return " ".join(words[: int(len(words) * fraction)])


def edited(text: str) -> str:
    words = text.split()
    del words[50]
    words.insert(120, "reportedly")
    words[150], words[151] = words[151], words[150]
    return " ".join(words)


@pytest.mark.parametrize(
    ("name", "copy_text", "copy_url", "kind"),
    [
        ("exact copy", ORIGINAL, None, "exact"),
        ("same text, punctuation and case changed", ORIGINAL.upper().replace(" ", ", "), None, "exact"),
        ("url-only copy", OTHER, "https://example.org/a", "exact"),
        ("truncated to 40 %", truncated(ORIGINAL, 0.4), None, "near"),
        ("truncated to 90 %", truncated(ORIGINAL, 0.9), None, "near"),
        ("boilerplate added", f"{BOILERPLATE}\n{ORIGINAL}\n{BOILERPLATE}", None, "near"),
        ("headline changed", "A Completely New Headline Here\n" + ORIGINAL, None, "near"),
        ("byline and dateline changed", "By Someone Else, Wire\nCARACAS (Wire) — " + ORIGINAL, None, "near"),
        ("small word edits", edited(ORIGINAL), None, "near"),
        ("everything at once", "New headline\n" + edited(truncated(ORIGINAL, 0.5)) + BOILERPLATE, None, "near"),
    ],
)
def test_copies_point_to_the_original(name: str, copy_text: str, copy_url: str | None, kind: str) -> None:
    index, *_ = make_index()
    assert index.check_and_insert(make_fp("a", ORIGINAL), now=0).status == "unique"
    decision = index.check_and_insert(make_fp("b", copy_text, copy_url), now=60)
    assert (decision.status, decision.kind, decision.duplicate_of) == ("duplicate", kind, "a"), name
    assert decision.similarity is not None and decision.similarity >= DEFAULT_CONFIG.containment_threshold


def quote_of(text: str, start: int, length: int) -> str:
    return " ".join(text.split()[start : start + length])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("unrelated article", OTHER),
        ("shares a 60-word quote", make_text(3, 300) + " “" + quote_of(ORIGINAL, 100, 60) + "” " + make_text(4, 200)),
        ("shares a 40-word quote at its start", quote_of(ORIGINAL, 0, 40) + " " + make_text(5, 250)),
        ("quotes the original's lede in a short piece", quote_of(ORIGINAL, 0, 50) + " " + make_text(6, 120)),
    ],
)
def test_hard_negatives_are_unique(name: str, text: str) -> None:
    index, *_ = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=0)
    assert index.check_and_insert(make_fp("b", text), now=60).status == "unique", name


def test_replay_returns_the_first_decision_and_changes_nothing() -> None:
    index, buckets, docs, exact, times = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=0)
    first = index.check_and_insert(make_fp("b", truncated(ORIGINAL, 0.6)), now=60)
    state = repr((buckets, docs, exact, times))
    assert index.check_and_insert(make_fp("b", truncated(ORIGINAL, 0.6)), now=120) == first
    assert index.check_and_insert(make_fp("a", ORIGINAL), now=120).status == "unique"
    assert repr((buckets, docs, exact, times)) == state


def test_replay_of_a_different_text_under_the_same_id_keeps_the_decision() -> None:
    index, *_ = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=0)
    assert index.check_and_insert(make_fp("a", ORIGINAL), now=10).status == "unique"


def test_copy_of_a_copy_points_to_the_root() -> None:
    index, *_ = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=0)
    index.check_and_insert(make_fp("b", ORIGINAL + " " + BOILERPLATE), now=60)
    near = index.check_and_insert(make_fp("c", "New headline\n" + ORIGINAL + " " + BOILERPLATE), now=120)
    by_url = index.check_and_insert(make_fp("d", OTHER, "https://example.org/b"), now=180)
    assert (near.duplicate_of, by_url.duplicate_of, by_url.kind) == ("a", "a", "exact")


def test_expiry_removes_records_buckets_and_exact_keys() -> None:
    index, buckets, docs, exact, times = make_index()
    index.check_and_insert(make_fp("old", ORIGINAL), now=0)
    index.check_and_insert(make_fp("new", OTHER), now=3 * DAY)
    old_bands = set(make_fp("old", ORIGINAL).bands)
    assert index.expire(now=DEFAULT_CONFIG.retention_seconds + 2 * HOUR) == 1
    assert set(docs) == {"new"}
    assert not any("old" in ids for ids in buckets.values())
    assert not old_bands & set(buckets) - set(make_fp("new", OTHER).bands)
    assert "old" not in exact.values() and "old" not in str(times)
    # The original is forgotten, so a later copy is an original again.
    assert index.check_and_insert(make_fp("copy", ORIGINAL), now=8 * DAY).status == "unique"


def test_expiry_keeps_articles_inside_the_window_and_is_repeatable() -> None:
    index, _, docs, _, _ = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=10 * DAY)
    assert index.expire(now=10 * DAY + DEFAULT_CONFIG.retention_seconds - HOUR) == 0
    assert index.expire(now=10 * DAY + DEFAULT_CONFIG.retention_seconds - HOUR) == 0
    assert set(docs) == {"a"}
    assert index.expire(now=10 * DAY + DEFAULT_CONFIG.retention_seconds + 2 * HOUR) == 1


def test_late_article_older_than_the_window_still_expires() -> None:
    index, _, docs, _, times = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=30 * DAY)
    index.check_and_insert(make_fp("late", OTHER), now=1 * DAY)
    index.expire(now=30 * DAY + DEFAULT_CONFIG.retention_seconds + 2 * HOUR)
    assert docs == {} and times.get("floor") is not None


@pytest.mark.parametrize(
    ("name", "first", "second", "status"),
    [
        ("both empty", "", "", "unique"),
        ("punctuation only", "...", "!!!", "unique"),
        ("same short text", "Breaking: markets", "breaking markets", "duplicate"),
        ("different short texts", "Breaking: markets", "Breaking: weather", "unique"),
        ("short text contained in a long one", "w1 w2 w3", "w1 w2 w3 " + ORIGINAL, "unique"),
    ],
)
def test_short_texts_only_match_exactly(name: str, first: str, second: str, status: str) -> None:
    index, *_ = make_index()
    index.check_and_insert(make_fp("a", first), now=0)
    assert index.check_and_insert(make_fp("b", second), now=60).status == status, name


def test_state_values_are_json_friendly() -> None:
    import orjson

    index, buckets, docs, exact, times = make_index()
    index.check_and_insert(make_fp("a", ORIGINAL), now=0)
    index.check_and_insert(make_fp("b", truncated(ORIGINAL, 0.5)), now=60)
    for mapping in (buckets, docs, exact, times):
        # Tuples (which the garbage collector stops tracking) come back as JSON arrays.
        assert orjson.loads(orjson.dumps(mapping)) == orjson.loads(orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS))
    # State read back from JSON (as a Faust table returns it) decides as the state it came from.
    copies = [orjson.loads(orjson.dumps(m)) for m in (buckets, docs, exact, times)]
    restored = DedupIndex(*copies, DEFAULT_CONFIG)
    for name, text in (("c", truncated(ORIGINAL, 0.6)), ("d", OTHER)):
        assert restored.check_and_insert(make_fp(name, text), now=120) == index.check_and_insert(make_fp(name, text), now=120)
    assert restored.check_and_insert(make_fp("a", ORIGINAL), now=180).status == "unique"
    fp = make_fp("a", ORIGINAL)
    assert Fingerprint.from_dict(orjson.loads(orjson.dumps(fp.as_dict()))) == fp


def test_time_buckets_are_chunked_and_all_chunks_expire() -> None:
    from service.core.dedup.index import TIME_CHUNK

    index, _, docs, _, times = make_index()
    count = TIME_CHUNK * 2 + 5
    for i in range(count):
        index.check_and_insert(make_fp(f"a{i}", f"short {i}"), now=1000.0)
    assert max(len(v) for v in times.values() if isinstance(v, (list, tuple))) == TIME_CHUNK
    assert len(docs) == count
    assert index.expire(now=1000.0 + DEFAULT_CONFIG.retention_seconds + 2 * DEFAULT_CONFIG.time_bucket_seconds) == count
    assert docs == {} and set(times) == {"floor"}


def test_bucket_lists_are_capped_to_the_newest_originals() -> None:
    # An unreachable threshold keeps near-identical texts apart, so they pile into the same buckets.
    config = DedupConfig(bucket_capacity=3, containment_threshold=1.01)
    index, buckets, _, _, _ = make_index(config)
    for i in range(6):
        assert index.check_and_insert(make_fp(f"o{i}", ORIGINAL + f" extra{i}"), now=1000.0).status == "unique"
    assert max(len(v) for v in buckets.values()) == 3
    assert all(v[-1] == "o5" and "o0" not in v for v in buckets.values() if len(v) == 3)


def test_rebuild_from_docs_alone_gives_the_same_decisions() -> None:
    index, buckets, docs, exact, times = make_index()
    inserts = [("o1", ORIGINAL), ("c1", truncated(ORIGINAL, 0.6)), ("o2", OTHER), ("c2", OTHER)]
    for i, (article_id, text) in enumerate(inserts):
        index.check_and_insert(make_fp(article_id, text), now=1000.0 + i)
    rebuilt = DedupIndex({}, dict(docs), {}, {}, DEFAULT_CONFIG)
    assert rebuilt.rebuild_derived() == 4
    assert {k: sorted(v) for k, v in rebuilt.buckets.items()} == {k: sorted(v) for k, v in buckets.items()}
    assert {k: rebuilt._root_of(v) for k, v in rebuilt.exact.items()} == {k: index._root_of(v) for k, v in exact.items()}
    for probe in (truncated(ORIGINAL, 0.5), edited(OTHER), make_text(77)):
        assert rebuilt.check_and_insert(make_fp("p", probe), now=2000.0) == index.check_and_insert(
            make_fp("p", probe), now=2000.0
        )
    assert rebuilt.expire(now=1000.0 + DEFAULT_CONFIG.retention_seconds + 2 * HOUR) == 5
    assert not rebuilt.docs and not rebuilt.buckets and not rebuilt.exact


def _generated_decisions(monkeypatch, cache_size: int, retention_seconds: int) -> list:
    from service.core.dedup import index as index_module
    from service.generate import Generator

    monkeypatch.setattr(index_module, "SKETCH_CACHE", cache_size)
    config = DedupConfig(retention_seconds=retention_seconds)
    index = make_index(config)[0]
    decisions = []
    for n, message in enumerate(Generator(400, dup_rate=0.4, invalid_rate=0.0, seed=3).messages()):
        article = json.loads(message.value)
        fp = fingerprint(f"g{n}", article["body"], None, config)
        now = n * 600.0  # ten minutes apart: a short retention expires stories mid-run
        decisions.append(index.check_and_insert(fp, now))
        index.expire(now)
    return decisions


@pytest.mark.parametrize("retention_seconds", [30 * DAY, 12 * HOUR])
def test_the_sketch_cache_changes_no_decision(monkeypatch, retention_seconds):
    # With room for one sketch nearly every candidate is read from `docs`; with room for all,
    # none is after its insert; expiry must drop cached sketches with their records.
    few = _generated_decisions(monkeypatch, 1, retention_seconds)
    many = _generated_decisions(monkeypatch, 100_000, retention_seconds)
    assert few == many
    assert sum(d.status == "duplicate" for d in many) > 50


def test_the_sketch_cache_keeps_the_newest_originals(monkeypatch):
    """Oldest out first, however many were evicted before."""
    from service.core.dedup import index as index_module

    monkeypatch.setattr(index_module, "SKETCH_CACHE", 3)
    index = make_index(DEFAULT_CONFIG)[0]
    for n in range(8):
        assert index.check_and_insert(make_fp(f"o{n}", make_text(100 + n)), now=1000.0 + n).status == "unique"
    assert list(index._sketches.rows) == ["o5", "o6", "o7"]


def test_buckets_stored_under_a_larger_capacity_still_decide():
    """A restart with a smaller bucket_capacity finds fuller buckets than it writes: more
    candidates than its scratch rows (bands x capacity), each still verified."""
    index, buckets, docs, exact, times = make_index()
    for n in range(40):
        index.check_and_insert(make_fp(f"o{n}", make_text(300 + n)), now=1000.0 + n)
    original = make_text(300 + 39)
    probe = make_fp("copy", truncated(original, 0.6))
    everyone = tuple(f"o{n}" for n in range(40))
    for key in probe.bands:
        buckets[key] = everyone
    small = DedupIndex(buckets, docs, exact, times, DedupConfig(bucket_capacity=1))
    small.rebuild_derived()
    for key in probe.bands:
        buckets[key] = everyone  # rebuild_derived trimmed them to the new capacity
    assert small.check_and_insert(probe, now=2000.0) == Decision("duplicate", "near", "o39", small.docs["copy"]["d"][3])
    assert small.docs["copy"]["d"][3] > 0.9


class CountingDocs(dict):
    """docs that count single and many-key reads, as a RocksDB-backed view would serve them."""

    def __init__(self) -> None:
        super().__init__()
        self.single_reads, self.many_calls = [], []

    def get(self, key, default=None):
        self.single_reads.append(key)
        return super().get(key, default)

    def get_many(self, keys, default=None):
        self.many_calls.append(list(keys))
        return [super(CountingDocs, self).get(key, default) for key in keys]


def test_candidates_the_cache_lost_are_read_in_one_call(monkeypatch):
    from service.core.dedup import index as index_module

    monkeypatch.setattr(index_module, "SKETCH_CACHE", 1)
    docs = CountingDocs()
    index = DedupIndex({}, docs, {}, {}, DEFAULT_CONFIG)
    base = ORIGINAL.split()
    # Three originals that share the copy's opening: all three are its candidates.
    for n in range(3):
        text = " ".join(base[:150] + make_text(500 + n).split()[:250])
        assert index.check_and_insert(make_fp(f"o{n}", text), now=1000.0 + n).status == "unique"
    docs.single_reads.clear(), docs.many_calls.clear()
    decision = index.check_and_insert(make_fp("copy", " ".join(base[:150])), now=2000.0)
    assert decision.status == "duplicate" and decision.duplicate_of in {"o0", "o1", "o2"}
    # o2 is the one cached sketch; o0 and o1 come back from docs in one call.
    assert [sorted(call) for call in docs.many_calls] == [["o0", "o1"]]
    assert "o0" not in docs.single_reads and "o1" not in docs.single_reads
