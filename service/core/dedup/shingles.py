"""Word k-shingles: one hash per run of k consecutive words."""

import numpy as np

from . import mix


def shingle_hashes(words: np.ndarray, size: int) -> np.ndarray:
    """Distinct uint64 hashes of the word `size`-shingles of `words`, sorted ascending.

    `words` is the uint64 array from text.token_hashes. Each word position has its own
    multiplier, so the hash depends on word order. Fewer than `size` words give an
    empty array: such texts can only match exactly.
    """
    if not 1 <= size <= mix.SHINGLE_MULTIPLIERS.size:
        raise ValueError(f"shingle size must be between 1 and {mix.SHINGLE_MULTIPLIERS.size}")
    # numpy's vectorised sort is several times faster than numba's on these sizes.
    return mix.distinct(np.sort(mix.shingle_hashes(words, size)))
