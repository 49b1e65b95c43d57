"""One-permutation MinHash signatures and their LSH band keys.

A classic MinHash applies num_perm universal hashes to every shingle (an n x num_perm
matrix); one-permutation hashing (Li, Owen and Zhang, 2012) splits one hash range into
num_bins bins and keeps each bin's minimum, so a signature costs one sort of the shingle
hashes. Empty bins are filled by rotation densification (Shrivastava and Li, 2014) so
that short texts still produce every band. docs/dedup-eval.md compares the two.
"""

import numpy as np

from .mix import fmix64

_LOW32 = np.uint64(0xFFFFFFFF)
# Odd constant added per step of borrowing so a borrowed value differs from its donor's.
_ROTATION_STEP = np.uint64(0x7F4A7C15)
_ROW_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_BAND_SALT = np.uint64(0xD6E8FEB86659FD93)
_KEY_BITS = np.uint64(16)


def signature(shingles: np.ndarray, num_bins: int) -> np.ndarray:
    """One-permutation MinHash of sorted distinct uint64 shingle hashes.

    Returns `num_bins` uint32 values (empty array if there are no shingles). Two sets
    agree in a given bin with probability close to their Jaccard similarity.
    """
    if shingles.size == 0:
        return np.empty(0, dtype=np.uint32)
    bin_bits = num_bins.bit_length() - 1
    shift = np.uint64(64 - bin_bits)
    bins = np.arange(num_bins, dtype=np.uint64)
    first = np.searchsorted(shingles, bins << shift)
    candidates = shingles[np.minimum(first, shingles.size - 1)]
    filled = (first < shingles.size) & ((candidates >> shift) == bins)
    values = (candidates >> (shift - np.uint64(32))) & _LOW32
    donors = np.flatnonzero(filled)
    donor = donors[np.searchsorted(donors, np.arange(num_bins)) % donors.size]
    distance = ((donor - np.arange(num_bins)) % num_bins).astype(np.uint64)
    return ((values[donor] + distance * _ROTATION_STEP) & _LOW32).astype(np.uint32)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[str]:
    """LSH bucket keys, one per band of `rows` signature values; [] for an empty signature.

    Keys are 12 hex digits: the band number is mixed into the hash, so a 48-bit key
    keeps accidental collisions far rarer than real candidates.
    """
    if sig.size == 0:
        return []
    grid = sig[: bands * rows].astype(np.uint64).reshape(bands, rows)
    combined = np.arange(bands, dtype=np.uint64) * _BAND_SALT
    for row in range(rows):
        combined = fmix64(combined * _ROW_MULTIPLIER + grid[:, row])
    digits = (combined >> _KEY_BITS).astype(">u8").tobytes().hex()
    return [digits[start + 4 : start + 16] for start in range(0, len(digits), 16)]
