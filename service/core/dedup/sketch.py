"""Bottom-k sketches and the similarity estimates used to verify LSH candidates.

A bottom-k sketch keeps the k smallest shingle hashes. Hashes below the smaller of two
sketches' maxima are a uniform sample of both sets, so their overlap estimates
containment (copy kept only part of the original) as well as Jaccard; sets with at
most k shingles are stored whole and compared exactly.
"""

from typing import NamedTuple

import numpy as np

from . import mix

class Similarity(NamedTuple):
    """Containment |A∩B| / min(|A|, |B|) and Jaccard |A∩B| / |A∪B|, both in [0, 1]."""

    containment: float
    jaccard: float


def bottom_k(shingles: np.ndarray, size: int) -> np.ndarray:
    """The `size` smallest of sorted distinct uint64 shingle hashes, as sorted uint32.

    Keeping the high 32 bits preserves the order the estimator relies on and halves
    the stored bytes.
    """
    return mix.bottom_k(shingles, size)


def similarity(a: np.ndarray, a_total: int, b: np.ndarray, b_total: int, size: int) -> Similarity:
    """Estimate containment and Jaccard of two sets from their bottom-`size` sketches.

    `a_total` and `b_total` are the numbers of distinct shingles the sketches came from.
    """
    return Similarity(*mix.similarity(a, a_total, b, b_total, size))
