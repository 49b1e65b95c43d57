"""Fingerprint text preparation: the words of a text, hashed in order.

A word is a run of lowercase letters, digits and non-ASCII characters. Every other
ASCII character separates words, and so do the non-ASCII separators U+00A0-U+00BF
(no-break space, « » © ·), U+2000-U+206F (typographic quotes, dashes, ellipsis, thin
spaces) and U+3000-U+303F (CJK punctuation), which separate words in every script.
"""

import numpy as np

from . import mix


def token_hashes(text: str) -> np.ndarray:
    """Hash every word of `text` to a uint64, in order; an empty array if no words.

    Text is lowercased first. A word's hash is a polynomial over its UTF-8 bytes mixed
    with its length, so equal words get equal hashes in every process and on every
    machine; the hash is not cryptographic.
    """
    return mix.word_hashes(np.frombuffer(text.lower().encode("utf-8"), dtype=np.uint8))
