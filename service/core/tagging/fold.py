"""Length-preserving normalisation for matching: lower case, no accents, punctuation as spaces.

Keeping the length lets a match in the normalised text point at the same offsets in the
original. Turning every non-alphanumeric character into a space lets keys start with a space,
so the automaton only ever matches at the start of a word. The common case (text that is ASCII
once its accents and typographic marks are folded) runs in C: `str.lower`, one regex over the
few non-ASCII characters, and `bytes.translate`.
"""

import re
import unicodedata


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
