"""One-permutation MinHash signatures and their LSH band keys.

A classic MinHash applies num_perm universal hashes to every shingle (an n x num_perm
matrix); one-permutation hashing (Li, Owen and Zhang, 2012) splits one hash range into
num_bins bins and keeps each bin's minimum, so a signature costs one pass over the
sorted shingle hashes. Empty bins are filled by rotation densification (Shrivastava and
Li, 2014) so that short texts still produce every band. docs/dedup-eval.md compares the
two.
"""

import numpy as np

from . import mix


def signature(shingles: np.ndarray, num_bins: int) -> np.ndarray:
    """One-permutation MinHash of sorted distinct uint64 shingle hashes.

    Returns `num_bins` uint32 values (empty array if there are no shingles): the 32 bits
    below the bin number of each bin's smallest hash; an empty bin borrows the next
    filled bin's value plus a constant per bin borrowed across. Two sets agree in a given bin with probability
    close to their Jaccard similarity. `num_bins` must be a power of two.
    """
    if num_bins < 1 or num_bins & (num_bins - 1):
        raise ValueError("num_bins must be a power of two")
    if shingles.size == 0:
        return np.empty(0, dtype=np.uint32)
    return mix.signature(shingles, num_bins)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[str]:
    """LSH bucket keys, one per band of `rows` signature values; [] for an empty signature.

    Keys are 12 hex digits: the band number is mixed into the hash, so a 48-bit key
    keeps accidental collisions far rarer than real candidates.
    """
    if sig.size == 0:
        return []
    if sig.size < bands * rows:
        raise ValueError(f"a signature of {sig.size} values has fewer than {bands} bands of {rows}")
    return mix.band_key_bytes(sig, bands, rows).tobytes().hex(" ", mix.BAND_KEY_BYTES).split()
