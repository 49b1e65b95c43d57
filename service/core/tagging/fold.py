"""Length-preserving normalisation for matching: lower case, no accents, punctuation as spaces.

Keeping the length lets a match in the normalised text point at the same offsets in the
original. Turning every non-alphanumeric character into a space lets keys start with a space,
so the automaton only ever matches at the start of a word. The common case (text that is ASCII
once its accents and typographic marks are folded) runs in C: `str.lower`, one regex over the
few non-ASCII characters, and `bytes.translate`.

`bmp_table` gives the same folding one character at a time, for the tagger's compiled scan.
Only two characters fold differently in context: `İ` (its lower case is two characters, which
sends the whole text down another path) and `Σ` (`str.lower` writes `ς` at the end of a word).
"""

import re
import unicodedata
from functools import lru_cache

import numpy as np


def _fold_char(c: str) -> str:
    lowered = c.lower()
    if len(lowered) != 1:
        return c
    if not lowered.isalnum():
        return " "
    base = unicodedata.normalize("NFD", lowered)[0]
    return base if base.isalnum() else lowered


# Latin, Greek, Cyrillic and general punctuation cover the domain's languages.
_FOLD = {chr(cp): _fold_char(chr(cp)) for cp in range(0x80, 0x2100)}
_LOWER_1TO1 = {cp: c.lower() for cp in range(0x2100) if len((c := chr(cp)).lower()) == 1 and c.lower() != c}
_FOLD_ORD = {ord(c): f for c, f in _FOLD.items()}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_SPACES = bytes(b if chr(b).isalnum() and b < 128 else 32 for b in range(256))
_NOT_WORD = re.compile(r"[\W_]")


def _fold_match(m: re.Match) -> str:
    return _FOLD.get(m.group(), m.group())


def fold(text: str) -> str:
    """`text` lower-cased, without accents, non-alphanumerics as spaces; same length."""
    low = text.lower()
    if len(low) != len(text):
        low = text.translate(_LOWER_1TO1)
    if not low.isascii():
        low = _NON_ASCII.sub(_fold_match, low)
    if low.isascii():
        return low.encode("ascii").translate(_ASCII_SPACES).decode("ascii")
    return _NOT_WORD.sub(" ", low)


# Characters whose fold depends on the rest of the text; see the module docstring.
CONTEXTUAL = "\u0130\u03a3"


@lru_cache(maxsize=1)
def bmp_table() -> np.ndarray:
    """`fold(c)` as a code point for each Basic Multilingual Plane character `c` (int32,
    65,536 entries), exact for texts without `CONTEXTUAL` characters or characters beyond
    U+FFFF. Vectorised: about 15 ms, once per process."""
    every = np.arange(0x10000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    # Stand-ins keep one character per character; callers never use these two entries.
    low = every.translate({ord(c): "a" for c in CONTEXTUAL}).lower()
    low = low.translate(_FOLD_ORD)
    folded = _NOT_WORD.sub(" ", low)
    return np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int32)
