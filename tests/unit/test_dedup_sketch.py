"""Hashing, signatures and similarity estimates of the dedup core."""

import numpy as np
import orjson
import pytest
import xxhash

from service.core.dedup import fingerprint, mix
from service.core.dedup.fingerprint import decode_uint32
from service.core.dedup.minhash import band_keys, signature
from service.core.dedup.shingles import shingle_hashes
from service.core.dedup.sketch import bottom_k, similarity
from service.core.dedup.text import token_hashes


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("The cat sat", "the  CAT, sat!", True),
        ("they’re “here” — now…", "they re here now", True),
        ("Nicolás\u00a0Maduro", "nicolás maduro", True),
        ("Nicolás\u00a0Maduro", "nicolásmaduro", False),
        ("«Paris» · 東京、大阪", "paris 東京 大阪", True),
        ("ÉLYSÉE Ölz ΣΟΦΟΣ", "élysée ölz σοφος", True),
        ("İstanbul 😀 Ünal", "i̇stanbul 😀 ünal", True),
        ("stop pots", "pots stop", False),
        ("ab", "ba", False),
        ("a" * 100, "a" * 101, False),
        ("", " ,.!", True),
    ],
)
def test_token_hashes_follow_lowercase_words(a: str, b: str, equal: bool) -> None:
    assert np.array_equal(token_hashes(a), token_hashes(b)) is equal


def test_token_hashes_one_per_word() -> None:
    hashes = token_hashes("one two one three")
    assert hashes.size == 4 and hashes[0] == hashes[2] and len(set(hashes.tolist())) == 3


@pytest.mark.parametrize(("words", "size", "count"), [(0, 5, 0), (4, 5, 0), (5, 5, 1), (10, 3, 8)])
def test_shingle_counts(words: int, size: int, count: int) -> None:
    text = " ".join(f"w{n}" for n in range(words))
    assert shingle_hashes(token_hashes(text), size).size == count


def random_set(seed: int, size: int) -> np.ndarray:
    values = np.random.default_rng(seed).integers(0, 2**64, size, dtype=np.uint64)
    return np.sort(np.unique(values))


@pytest.mark.parametrize(
    ("shared", "only_a", "only_b", "containment", "jaccard"),
    [
        (1000, 0, 0, 1.0, 1.0),
        (400, 600, 0, 1.0, 0.4),
        (100, 900, 900, 0.1, 100 / 1900),
        (0, 500, 500, 0.0, 0.0),
        (50, 0, 30, 1.0, 50 / 80),
    ],
)
def test_similarity_estimates(shared: int, only_a: int, only_b: int, containment: float, jaccard: float) -> None:
    common, a_rest, b_rest = random_set(1, shared), random_set(2, only_a), random_set(3, only_b)
    a = np.sort(np.concatenate((common, a_rest)))
    b = np.sort(np.concatenate((common, b_rest)))
    sim = similarity(bottom_k(a, 256), a.size, bottom_k(b, 256), b.size, 256)
    assert sim.containment == pytest.approx(containment, abs=0.12)
    assert sim.jaccard == pytest.approx(jaccard, abs=0.12)


def test_signature_agreement_tracks_jaccard() -> None:
    a = random_set(4, 2000)
    kept = np.random.default_rng(8).permutation(a)[:1000]
    b = np.sort(np.concatenate((kept, random_set(5, 1000))))
    agree = np.mean(signature(a, 256) == signature(b, 256))
    assert agree == pytest.approx(1 / 3, abs=0.1)


def test_signature_of_short_set_is_dense_and_deterministic() -> None:
    shingles = random_set(6, 3)
    sig = signature(shingles, 64)
    assert sig.size == 64 and np.array_equal(sig, signature(shingles.copy(), 64))
    assert signature(shingles[:0], 64).size == 0


def test_band_keys() -> None:
    sig = signature(random_set(7, 500), 64)
    keys = band_keys(sig, 32, 2)
    assert len(keys) == 32 and len(set(keys)) == 32 and all(len(k) == 12 for k in keys)
    changed = sig.copy()
    changed[0] ^= 1
    assert band_keys(changed, 32, 2)[1:] == keys[1:] and band_keys(changed, 32, 2)[0] != keys[0]
    assert band_keys(sig[:0], 32, 2) == []
    with pytest.raises(ValueError):
        band_keys(sig[:63], 32, 2)


def test_fingerprint_is_pinned() -> None:
    # Fingerprints are stored in durable state: a change here makes stored articles
    # unmatchable, so change it only together with a migration of that state.
    text = "Élysée Talks: Nicolás Maduro’s “speech” — in\u00a0Caracas… 2026 results were MIXED, officials said. "
    fp = fingerprint("a1", text * 2 + "The quick brown fox jumps over the lazy dog", "https://example.com/a")
    assert (fp.url_key, fp.content_hash, fp.shingle_count) == (
        "139891b52b3701c7", "cf1e2465f104e45c6022ab08afd6ddd4", 23,
    )
    assert fp.bands[:2] == ("1ab528c347d2", "7c0c06d748d2")
    assert xxhash.xxh3_64_hexdigest(orjson.dumps(fp.as_dict(), option=orjson.OPT_SORT_KEYS)) == "e0c7fd230fd41632"
    assert band_keys(decode_uint32(fp.signature), 32, 2) == list(fp.bands)


def _hashes_of_lowered(text: str) -> np.ndarray:
    """The definition: the words of str.lower(), hashed without any lowercasing of their own."""
    return mix.word_hashes(np.frombuffer(text.lower().encode("utf-8"), dtype=np.uint8), True)[0]


def test_token_hashes_lowercase_every_bmp_character_as_str_lower_does() -> None:
    """The kernel lowercases through a table instead of calling str.lower(): for every character
    of the Basic Multilingual Plane, alone, inside a word and repeated, it must agree."""
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        c = chr(code)
        for text in (f"ab{c}cd ef", c, f"x {c}{c} Y{c}"):
            assert np.array_equal(token_hashes(text), _hashes_of_lowered(text)), (hex(code), text)


@pytest.mark.parametrize("text", ["ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ", "İSTANBUL", "KELVIN \u212a", "ÁLVARO URIBE", "𐐀𐐁 Deseret"])
def test_token_hashes_of_contextual_and_astral_capitals(text: str) -> None:
    assert np.array_equal(token_hashes(text), _hashes_of_lowered(text))


def _composed(words: np.ndarray, size: int = 5) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The stage functions one by one: the definition `mix.sketch_parts` must agree with."""
    shingles = shingle_hashes(words, size)
    sig = signature(shingles, 64)
    bands = mix.band_key_bytes(sig, 32, 2) if sig.size else np.empty(0, np.uint8)
    return shingles.size, bottom_k(shingles, 128), sig, bands


@pytest.mark.parametrize("words", [0, 3, 4, 5, 6, 40, 132, 133, 200, 3000])
def test_sketch_parts_agree_with_the_stage_functions(words: int) -> None:
    rng = np.random.default_rng(words)
    # A small vocabulary repeats shingles, so distinct counting and the bottom-k both matter.
    vocabulary = rng.integers(0, 2**64, 12, dtype=np.uint64)
    for draw in (rng.integers(0, 2**64, words, dtype=np.uint64), rng.choice(vocabulary, words)):
        count, sketch, sig, bands = mix.sketch_parts(draw, 5, 64, 128, 32, 2)
        expected = _composed(draw)
        assert count == expected[0]
        for got, want in zip((sketch, sig, bands), expected[1:]):
            assert np.array_equal(got, want)


def test_smallest_and_distinct_unordered() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    assert np.array_equal(mix.smallest(values, 128), np.sort(values)[:128])
    assert np.array_equal(mix.smallest(values[:100], 128), np.sort(values[:100]))
    # Crowded in one top byte: the count by top byte must still pick enough.
    crowded = values >> np.uint64(8)
    assert np.array_equal(mix.smallest(crowded, 128), np.sort(crowded)[:128])
    repeated = np.concatenate((values[:50], values[:50], values[10:70]))
    assert np.array_equal(mix.distinct_unordered(repeated), values[:70])


def _python_best(a, a_total, stored, size, min_containment, min_jaccard):
    """The candidate loop as the index wrote it in Python before `mix.best_match`."""
    best = None
    for position, (other, other_total) in enumerate(stored):
        containment, jaccard = mix.similarity(a, a_total, other, other_total, size)
        if containment >= min_containment and jaccard >= min_jaccard and (best is None or (containment, jaccard) > best[:2]):
            best = (containment, jaccard, position)
    return (-1, 0.0) if best is None else (best[2], best[0])


@pytest.mark.parametrize("seed", range(5))
def test_best_match_picks_what_the_candidate_loop_picked(seed):
    rng = np.random.default_rng(seed)
    size = 32
    pool = rng.choice(np.arange(1, 400, dtype=np.uint32), size=300, replace=False)
    a = np.sort(pool[:size])
    stored = []
    for _ in range(40):
        # Overlaps from none to all, short sketches (small sets) and exact repeats (ties).
        keep = rng.integers(0, size + 1)
        other = np.sort(np.concatenate([a[:keep], pool[size + rng.integers(0, 200):][: size - keep]]))[: rng.integers(1, size + 1)]
        stored.append((other, int(rng.integers(len(other), 3 * size))))
    stored += stored[:5]
    values = np.zeros((len(stored) + 3, size), dtype=np.uint32)
    lengths = np.zeros(len(stored) + 3, dtype=np.int64)
    totals = np.zeros(len(stored) + 3, dtype=np.int64)
    rows = rng.permutation(len(stored) + 3)[: len(stored)]  # candidates sit in any rows
    for row, (other, total) in zip(rows, stored):
        values[row, : len(other)], lengths[row], totals[row] = other, len(other), total
    for thresholds in ((0.45, 0.15), (0.0, 0.0), (0.9, 0.5), (1.01, 0.0)):
        for a_total in (size, 3 * size):
            expected = _python_best(a, a_total, stored, size, *thresholds)
            assert mix.best_match(a, a_total, values, lengths, totals, rows.astype(np.int64), size, *thresholds) == expected
    assert _python_best(a, size, stored, size, 0.0, 0.0)[0] >= 0 and _python_best(a, size, stored, size, 1.01, 0.0)[0] == -1


@pytest.mark.parametrize("count", [129, 130, 300, 700, 5000])
def test_smallest_picks_the_same_values_whether_spread_or_crowded_by_top_byte(count: int) -> None:
    rng = np.random.default_rng(count)
    spread = rng.integers(0, 2**64, count, dtype=np.uint64)
    # A few top bytes with many values each (past what the insertion sort takes), then one
    # top byte holding just one more than its limit.
    few_bytes = (rng.integers(0, 3, count, dtype=np.uint64) << np.uint64(56)) | (spread >> np.uint64(8))
    limit = mix._FEW_PER_BYTE + 1
    edge = np.concatenate((np.arange(limit, dtype=np.uint64), spread[limit:] | np.uint64(1 << 63)))
    for values in (spread, few_bytes, edge):
        assert np.array_equal(mix.smallest(values, 128), np.sort(values)[:128])
