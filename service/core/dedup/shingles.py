"""Word k-shingles hashed from word hashes with numpy arithmetic."""

import numpy as np

from .mix import fmix64, sorted_distinct

# Distinct odd multipliers make the shingle hash depend on word order.
_POSITION_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xBF58476D1CE4E5B9,
    0x94D049BB133111EB,
    0xD6E8FEB86659FD93,
    0xA0761D6478BD642F,
    0xE7037ED1A0B428DB,
    0x8EBC6AF09C88C6E3,
    0x589965CC75374CC3,
)


def shingle_hashes(words: np.ndarray, size: int) -> np.ndarray:
    """Distinct uint64 hashes of the word `size`-shingles of `words`, sorted ascending.

    `words` is the uint64 array from text.token_hashes. Fewer than `size` words give
    an empty array: such texts can only match exactly.
    """
    if size > len(_POSITION_MULTIPLIERS):
        raise ValueError(f"shingle size above {len(_POSITION_MULTIPLIERS)} is not supported")
    count = words.size - size + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    combined = words[:count] * np.uint64(_POSITION_MULTIPLIERS[0])
    for offset in range(1, size):
        combined += words[offset : offset + count] * np.uint64(_POSITION_MULTIPLIERS[offset])
    return sorted_distinct(fmix64(combined))
