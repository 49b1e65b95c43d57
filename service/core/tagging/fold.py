"""Length-preserving folding: lower case and no accents, one character for one character.

Keeping the length lets a match in the folded text point at the same offsets in the original,
and `str.translate` with a table runs at C speed.
"""

import unicodedata


def _fold_char(c: str) -> str:
    lowered = c.lower()
    if len(lowered) != 1:
        return c
    base = unicodedata.normalize("NFD", lowered)[0]
    return base if base.isalnum() or not lowered.isalnum() else lowered


# Latin, Greek, Cyrillic and general punctuation cover the domain's languages; the rest stays as is.
FOLD_TABLE = {cp: _fold_char(chr(cp)) for cp in range(0x2100) if _fold_char(chr(cp)) != chr(cp)}
# Typographic apostrophes and dashes behave like their ASCII forms in names ("O’Brien", "MS–13").
FOLD_TABLE.update({0x2019: "'", 0x2018: "'", 0x2013: "-", 0x2014: "-", 0x2010: "-", 0x2011: "-"})


def fold(text: str) -> str:
    """`text` lower-cased and without accents, with exactly the same length."""
    return text.translate(FOLD_TABLE)
