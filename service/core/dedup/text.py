"""Fingerprint text preparation: normalise, tokenise and hash words in numpy.

Regex tokenising and hashing each word in Python cost more than the whole MinHash,
so punctuation is blanked with byte-level translate and one regex pass, and every word is
hashed by vectorised polynomial arithmetic over its UTF-8 bytes.
"""

import re

import numpy as np

from .mix import fmix64

_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789"
# Bytes >= 128 belong to UTF-8 characters; other ASCII bytes that are not letters or
# digits become a separator.
_ASCII_TABLE = bytes(b if (b >= 128 or b in _KEEP) else 32 for b in range(256))
_SPACE = 32
_UNICODE_SEPARATORS = re.compile(rb"\xc2[\xa0-\xbf]|\xe2\x80[\x80-\xbf]|\xe2\x81[\x80-\xaf]|\xe3\x80[\x80-\xbf]")
_MAX_TOKEN_POSITION = 64
_MULTIPLIER = 0x100000001B3
_POWERS = np.cumprod(
    np.full(_MAX_TOKEN_POSITION, _MULTIPLIER, dtype=np.uint64), dtype=np.uint64
)
_LENGTH_SALT = np.uint64(0x9E3779B97F4A7C15)


def normalise(text: str) -> bytes:
    """Lowercase `text` and turn punctuation and whitespace into spaces.

    Returns UTF-8 bytes whose runs of non-space bytes are the words of the text.
    Non-ASCII separators are U+00A0-U+00BF (no-break space, « » © ·), U+2000-U+206F
    (typographic quotes, dashes, ellipsis, thin spaces) and U+3000-U+303F (CJK
    punctuation), which separate words in every script.
    """
    raw = text.lower().encode("utf-8").translate(_ASCII_TABLE)
    return raw if raw.isascii() else _UNICODE_SEPARATORS.sub(b" ", raw)


def token_hashes(text: str) -> np.ndarray:
    """Hash every word of `text` to a uint64, in order; an empty array if no words.

    Equal words get equal hashes across documents; the hash is not cryptographic.
    """
    data = np.frombuffer(normalise(text), dtype=np.uint8)
    positions = np.flatnonzero(data != _SPACE)
    if positions.size == 0:
        return np.empty(0, dtype=np.uint64)
    starts_mask = np.empty(positions.size, dtype=bool)
    starts_mask[0] = True
    np.not_equal(np.diff(positions), 1, out=starts_mask[1:])
    starts = np.flatnonzero(starts_mask)
    ordinal = np.arange(positions.size)
    offset = ordinal - np.maximum.accumulate(np.where(starts_mask, ordinal, 0))
    # Bytes beyond the table share its last power: only pathological tokens collide.
    powers = _POWERS[np.minimum(offset, _MAX_TOKEN_POSITION - 1)]
    weighted = (data[positions].astype(np.uint64) + np.uint64(1)) * powers
    sums = np.add.reduceat(weighted, starts)
    lengths = np.diff(np.append(starts, positions.size)).astype(np.uint64)
    return fmix64(sums ^ (lengths * _LENGTH_SALT))
