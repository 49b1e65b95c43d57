"""The compiled hashing kernels of the dedup core, one loop each over one article's data.

Per-article arrays are a few thousand elements, so numpy's per-call overhead cost more
than the arithmetic; numba compiles these loops once and caches the machine code on disk.
They all live in this one module because numba's cache only notices edits to the file
that defines a cached function, not to the kernels it calls: a stale kernel would
silently change stored fingerprints. The stage modules document and wrap them.

All arithmetic is uint64 that wraps modulo 2**64. numba turns a mix of signed and
unsigned integers into float64, so every constant and operand is an np.uint64.
"""

import numpy as np

from service.core.jit import compiled


_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_ONE = np.uint64(1)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)

# Each ASCII byte as hashed in a word: letters lowercased, digits kept, 0 for the others,
# which separate words.
_ASCII_WORD_BYTE = np.array(
    [ord(chr(b).lower()) if chr(b).isalnum() else 0 for b in range(128)], dtype=np.uint64
)
# What str.lower() makes of each Basic Multilingual Plane character, when it makes one
# character of it whatever its neighbours; -1 where it does not: `İ` becomes two, and a final
# `Σ` becomes `ς` (those texts are lowercased by str.lower() and hashed again).
_LOWER = np.array([ord(chr(c).lower()) if len(chr(c).lower()) == 1 else -1 for c in range(0x10000)], dtype=np.int64)
_LOWER[0x3A3] = -1
_MAX_WORD_POSITION = 64
_WORD_POWERS = np.cumprod(np.full(_MAX_WORD_POSITION, 0x100000001B3, dtype=np.uint64), dtype=np.uint64)
_LENGTH_SALT = np.uint64(0x9E3779B97F4A7C15)

# Distinct odd multipliers make the shingle hash depend on word order.
SHINGLE_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xBF58476D1CE4E5B9,
        0x94D049BB133111EB,
        0xD6E8FEB86659FD93,
        0xA0761D6478BD642F,
        0xE7037ED1A0B428DB,
        0x8EBC6AF09C88C6E3,
        0x589965CC75374CC3,
    ],
    dtype=np.uint64,
)

# Odd constant added per step of borrowing so a borrowed value differs from its donor's.
_ROTATION_STEP = np.uint64(0x7F4A7C15)
_ROW_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_BAND_SALT = np.uint64(0xD6E8FEB86659FD93)
BAND_KEY_BYTES = 6
_TOP_BYTE_SHIFT = np.uint64(56)
# `smallest` insertion-sorts values placed by top byte while no byte holds more than this many.
_FEW_PER_BYTE = 16


@compiled
def _fmix64(x: np.uint64) -> np.uint64:
    # MurmurHash3's finaliser: every input bit affects every output bit.
    x ^= x >> _S33
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    x ^= x >> _S33
    return x


@compiled
def _is_separator(code: int) -> bool:
    # No-break space, « » © · and friends; typographic quotes, dashes, ellipsis, thin
    # spaces; CJK punctuation. They separate words in every script.
    return 0xA0 <= code <= 0xBF or 0x2000 <= code <= 0x206F or 0x3000 <= code <= 0x303F


@compiled
def _word_hash(total: np.uint64, length: int) -> np.uint64:
    return _fmix64(total ^ (np.uint64(length) * _LENGTH_SALT))


@compiled
def word_hashes(data: np.ndarray, lowered: bool) -> tuple[np.ndarray, bool]:
    """uint64 hash of every word of UTF-8 `data` (a uint8 array), in order, as the words of
    the text's str.lower() would hash.

    Letters are hashed lowercased as they come (ASCII and the Basic Multilingual Plane, through
    tables). Unless `lowered`, meeting a character whose lowercase depends on its neighbours or
    is not one character (or any beyond U+FFFF) stops the pass and returns (empty array, True):
    lowercase the text with str.lower() and hash it again, `lowered` set. Otherwise returns
    (hashes, False).
    """
    out = np.empty(data.size // 2 + 1, dtype=np.uint64)
    count = 0
    total = np.uint64(0)
    length = 0
    last = _MAX_WORD_POSITION - 1
    i = 0
    n = data.size
    while i < n:
        lead = data[i]
        if lead < 0x80:
            # The common case first: one table read per ASCII byte.
            value = _ASCII_WORD_BYTE[lead]
            if value:
                # Bytes beyond the table share its last power: only pathological words collide.
                total += (value + _ONE) * _WORD_POWERS[length if length < last else last]
                length += 1
            elif length:
                out[count] = _word_hash(total, length)
                count += 1
                total = np.uint64(0)
                length = 0
            i += 1
            continue
        step = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        step = min(step, n - i)
        code = lead & (0x3F >> (step - 1))
        for k in range(1, step):
            code = (code << 6) | (data[i + k] & 0x3F)
        if _is_separator(code):
            if length:
                out[count] = _word_hash(total, length)
                count += 1
                total = np.uint64(0)
                length = 0
            i += step
            continue
        lower = code
        if not lowered:
            lower = _LOWER[code] if code <= 0xFFFF else -1
            if lower < 0:
                return out[:0], True
        if lower == code:
            # Already lowercase: its own bytes.
            for k in range(step):
                total += (np.uint64(data[i + k]) + _ONE) * _WORD_POWERS[length if length < last else last]
                length += 1
        elif lower < 0x80:
            # Lowercased into ASCII (the Kelvin sign): one byte, as str.lower() would write it.
            total += (_ASCII_WORD_BYTE[lower] + _ONE) * _WORD_POWERS[length if length < last else last]
            length += 1
        else:
            # The UTF-8 bytes of the lowercase character.
            width = 2 if lower < 0x800 else 3
            for k in range(width):
                shift = 6 * (width - 1 - k)
                if k == 0:
                    byte = (0xC0 if width == 2 else 0xE0) | (lower >> shift)
                else:
                    byte = 0x80 | ((lower >> shift) & 0x3F)
                total += (np.uint64(byte) + _ONE) * _WORD_POWERS[length if length < last else last]
                length += 1
        i += step
    if length:
        out[count] = _word_hash(total, length)
        count += 1
    return out[:count], False


@compiled
def shingle_hashes(words: np.ndarray, size: int) -> np.ndarray:
    """uint64 hash of each `size`-word shingle of `words`, in text order, repeats kept."""
    count = max(words.size - size + 1, 0)
    out = np.empty(count, dtype=np.uint64)
    for start in range(count):
        combined = np.uint64(0)
        for offset in range(size):
            combined += words[start + offset] * SHINGLE_MULTIPLIERS[offset]
        out[start] = _fmix64(combined)
    return out


@compiled
def distinct(ordered: np.ndarray) -> np.ndarray:
    """The distinct values of sorted `ordered`, as a new array."""
    out = np.empty_like(ordered)
    count = 0
    for value in ordered:
        if count == 0 or out[count - 1] != value:
            out[count] = value
            count += 1
    return out[:count]


@compiled
def bottom_k(shingles: np.ndarray, size: int) -> np.ndarray:
    """Distinct high 32 bits of the first `size` of sorted uint64 `shingles`, as uint32."""
    return distinct((shingles[:size] >> _SHIFT32).astype(np.uint32))


@compiled
def signature(shingles: np.ndarray, num_bins: int) -> np.ndarray:
    """One-permutation MinHash (uint32 x num_bins) of distinct non-empty `shingles`, in any order."""
    bin_bits = 0
    while (1 << bin_bits) < num_bins:
        bin_bits += 1
    shift = np.uint64(64 - bin_bits)
    values = np.zeros(num_bins, dtype=np.uint64)
    filled = np.zeros(num_bins, dtype=np.bool_)
    # A bin keeps its smallest shingle's 32 bits below the bin number: among shingles of one
    # bin those bits order them, so the smallest bits are the smallest shingle's.
    for shingle in shingles:
        number = shingle >> shift if bin_bits else np.uint64(0)
        bits = (shingle >> (shift - _SHIFT32)) & _LOW32
        if not filled[number] or bits < values[number]:
            filled[number] = True
            values[number] = bits
    first = 0
    while not filled[first]:
        first += 1
    # Each empty bin borrows from the next filled bin, wrapping around to the first.
    donor = first + num_bins
    out = np.empty(num_bins, dtype=np.uint32)
    for number in range(num_bins - 1, -1, -1):
        if filled[number]:
            donor = number
        distance = np.uint64(donor - number)
        out[number] = (values[donor % num_bins] + distance * _ROTATION_STEP) & _LOW32
    return out


@compiled
def distinct_unordered(values: np.ndarray) -> np.ndarray:
    """The distinct values of uint64 `values` (hashes: their low bits are uniform), first
    occurrence order, through an open-addressing set: no sort."""
    bits = 1
    while (1 << bits) < 2 * values.size:
        bits += 1
    mask = np.uint64((1 << bits) - 1)
    slots = np.empty(1 << bits, dtype=np.uint64)
    used = np.zeros(1 << bits, dtype=np.bool_)
    out = np.empty_like(values)
    count = 0
    for value in values:
        k = value & mask
        while used[k] and slots[k] != value:
            k = (k + _ONE) & mask
        if not used[k]:
            used[k] = True
            slots[k] = value
            out[count] = value
            count += 1
    return out[:count]


@compiled
def smallest(values: np.ndarray, size: int) -> np.ndarray:
    """The `size` smallest of distinct uint64 `values` (all of them if fewer), sorted.

    Counts the values by their top byte and keeps only those below the first top byte that
    brings the count to `size` (about `size` of them for hashes, not all), placed by top
    byte as a counting sort would. Within a top byte only two or three are out of order,
    which an insertion sort puts right with few moves; a general sort of the same ~130
    values spent more time mispredicting which of two hashes is smaller (5.5 -> 2.8 µs)."""
    if values.size <= size:
        return np.sort(values)
    counts = np.zeros(257, dtype=np.int64)  # counts[b + 1]: values whose top byte is b
    for value in values:
        counts[(value >> _TOP_BYTE_SHIFT) + _ONE] += 1
    total = 0
    top = 0
    while total < size:
        top += 1
        total += counts[top]
    starts = np.empty(top, dtype=np.int64)
    run = 0
    crowded = 0
    for byte in range(top):
        starts[byte] = run
        run += counts[byte + 1]
        crowded = max(crowded, counts[byte + 1])
    picked = np.empty(total, dtype=np.uint64)
    below = np.uint64(top)
    for value in values:
        byte = value >> _TOP_BYTE_SHIFT
        if byte < below:
            picked[starts[byte]] = value
            starts[byte] += 1
    if crowded > _FEW_PER_BYTE:
        # Not hashes as they come (crafted text, or tests): an insertion sort would be quadratic.
        picked.sort()
        return picked[:size]
    for j in range(1, total):
        moving = picked[j]
        k = j
        while k > 0 and picked[k - 1] > moving:
            picked[k] = picked[k - 1]
            k -= 1
        picked[k] = moving
    return picked[:size]


@compiled
def band_key_bytes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 48-bit hash of each band of `rows` consecutive values of `sig`, as 6 big-endian
    bytes per band (uint8 array)."""
    out = np.empty(bands * BAND_KEY_BYTES, dtype=np.uint8)
    for band in range(bands):
        combined = np.uint64(band) * _BAND_SALT
        for row in range(rows):
            combined = _fmix64(combined * _ROW_MULTIPLIER + np.uint64(sig[band * rows + row]))
        # The top 48 bits, most significant byte first.
        for k in range(BAND_KEY_BYTES):
            out[band * BAND_KEY_BYTES + k] = (combined >> np.uint64(56 - 8 * k)) & np.uint64(0xFF)
    return out


@compiled
def sketch_parts(words: np.ndarray, size: int, num_bins: int, sketch_size: int, bands: int,
                 rows: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct shingle count, bottom-k sketch, signature, band key bytes) of the word hashes
    `words`, in one call: the values `shingles.shingle_hashes` then `sketch.bottom_k`,
    `minhash.signature` and `band_key_bytes` give, without sorting every shingle."""
    shingles = distinct_unordered(shingle_hashes(words, size))
    if shingles.size == 0:
        return 0, np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint8)
    sig = signature(shingles, num_bins)
    return shingles.size, bottom_k(smallest(shingles, sketch_size), sketch_size), sig, band_key_bytes(sig, bands, rows)


@compiled
def similarity(a: np.ndarray, a_total: int, b: np.ndarray, b_total: int, size: int) -> tuple[float, float]:
    """(containment, Jaccard) of two sets estimated from their sorted bottom-`size` uint32
    sketches; `a_total` and `b_total` are the distinct shingles each came from."""
    # Only hashes below both sketches' maxima are a uniform sample of both sets; a sketch of
    # a set with at most `size` shingles holds all of it and sets no limit.
    limit = np.uint32(0xFFFFFFFF)
    if a_total > size and a.size and a[-1] < limit:
        limit = a[-1]
    if b_total > size and b.size and b[-1] < limit:
        limit = b[-1]
    kept_a = np.searchsorted(a, limit, side="right")
    kept_b = np.searchsorted(b, limit, side="right")
    if kept_a == 0 or kept_b == 0:
        return 0.0, 0.0
    # One merge step per value, without branches on the data: the order of two hash values
    # is a coin toss, which branches mispredict half the time (0.78 -> 0.54 µs a candidate).
    shared = 0
    i = 0
    j = 0
    while i < kept_a and j < kept_b:
        x = a[i]
        y = b[j]
        shared += x == y
        i += x <= y
        j += y <= x
    return shared / min(kept_a, kept_b), shared / (kept_a + kept_b - shared)


@compiled
def best_match(a: np.ndarray, a_total: int, values: np.ndarray, lengths: np.ndarray, totals: np.ndarray,
               rows: np.ndarray, size: int, min_containment: float, min_jaccard: float) -> tuple[int, float]:
    """(position in `rows`, containment) of the stored sketch most like `a`, or (-1, 0.0) when
    none reaches both thresholds. Row r of `values` holds a sorted sketch of `lengths[r]`
    values from `totals[r]` distinct shingles. Highest containment wins, then highest Jaccard,
    then the earliest in `rows`: the candidate loop's order, so a decision never depends on it."""
    best, best_containment, best_jaccard = -1, 0.0, 0.0
    for k in range(rows.size):
        r = rows[k]
        containment, jaccard = similarity(a, a_total, values[r, : lengths[r]], totals[r], size)
        if containment >= min_containment and jaccard >= min_jaccard and (
            best < 0 or containment > best_containment or (containment == best_containment and jaccard > best_jaccard)
        ):
            best, best_containment, best_jaccard = k, containment, jaccard
    return best, best_containment
