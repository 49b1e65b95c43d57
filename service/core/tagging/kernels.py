"""The tagger's compiled loops: building the automaton, and tagging one article in one call.

The automaton is Aho-Corasick over symbols: 0 is a separator (a folded space), 1 any word
character no key contains, 2 and up each character the keys contain. States are numbered
breadth first. The shallow ones, where a scan spends nearly all its steps, have dense rows
up to a fixed memory budget: `table[row + symbol]` is the next state's code, its row offset
shifted left once, plus 1 when a key ends there. Deeper states' codes point past the dense
rows, where a row of -1 sends the scan to the slow path: they keep their children in one
window of `cells` (`nodes[s] = lo, hi, base, fail`) and follow failure links on a miss, so
memory stays linear in the number of states whatever the alphabet. Keys are " words ", so
every match ends on a separator and starts at a word.

They all live in this one module because numba's cache only notices edits to the file that
defines a cached function, not to the kernels it calls (see service/core/dedup/mix.py).
"""

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba.cpython.unicode import _get_code_point

from service.core.jit import compiled

STRONG, WEAK, SURNAME, STOP, CONTEXT, THEME = range(6)
MAX_UNLINKED = 20
SEP, OTHER = 0, 1
# A symbol table's answer for a character whose fold depends on its context: fold in Python.
NEEDS_FOLD = -1
_LO, _HI, _BASE, _FAIL = range(4)
_LANES = 8
_RUN = 32  # sorts: runs this long are insertion-sorted first

# Particles allowed between capitalised words, each followed by a space.
_PARTICLES = ("de", "del", "la", "las", "los", "y", "of", "the", "al")
# Character classes for the unlinked-name scan, one bit each: the pattern's capitals and
# lower-case letters (Latin, with Spanish accents), the space, "folds to a separator" (not a
# letter or digit), and the first letter of a particle.
_UPPER, _LOWER, _SPACE, SEPARATOR, _PARTICLE_START = 1, 2, 4, 8, 16
LATIN1_CLASSES = np.array(
    [(_UPPER if chr(c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZÁÉÍÓÚÑÜ" else
      _LOWER if chr(c) in "abcdefghijklmnopqrstuvwxyzáéíóúñü" else
      _SPACE if c == 32 else 0) | (_PARTICLE_START if chr(c) in {p[0] for p in _PARTICLES} else 0)
     for c in range(256)],
    dtype=np.uint8,
)
CLASS_SHIFT = 24
_SYMBOL_MASK = (1 << CLASS_SHIFT) - 1
_PARTICLE_CHARS = np.array([[ord(c) for c in p.ljust(3, "\0")] for p in _PARTICLES], dtype=np.int32)
_PARTICLE_LENGTHS = np.array([len(p) for p in _PARTICLES], dtype=np.int32)


def _inlined(func: Callable[..., Any]) -> Callable[..., Any]:
    # For helpers of hot loops: a call that is not inlined increments and decrements the
    # reference count of every array argument, which costs more than these functions do.
    try:
        return numba.njit(cache=True, inline="always")(func)
    except RuntimeError:
        return numba.njit(inline="always")(func)


def direct(dispatcher: Any, *example: Any) -> Callable[..., Any]:
    """`dispatcher`'s compiled function for the types of `example`, without numba's per-call
    type dispatch (microseconds with str arguments). Callers must pass exactly these types:
    another type is not converted, and may be misread."""
    dispatcher(*example)  # compiles, or loads from the cache
    try:
        return dispatcher.overloads[tuple(numba.typeof(a) for a in example)].entry_point
    except (AttributeError, KeyError):
        return dispatcher


@compiled
def _step(nodes: np.ndarray, cells: np.ndarray, state: int, sym: int) -> int:
    while True:
        lo = nodes[state, _LO]
        if lo <= sym <= nodes[state, _HI]:
            child = cells[nodes[state, _BASE] + sym - lo]
            if child >= 0:
                return child
        if state == 0:
            return 0
        state = nodes[state, _FAIL]


@compiled
def build_trie(key_syms: np.ndarray, key_ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trie of keys sorted by symbols (key k is `key_syms[key_ptr[k]:key_ptr[k + 1]]`): each
    node's parent, symbol from its parent and depth, and the key ending there (or -1)."""
    cap = key_syms.size + 1
    parent = np.full(cap, -1, np.int32)
    sym = np.zeros(cap, np.int32)
    depth = np.zeros(cap, np.int32)
    term = np.full(cap, -1, np.int32)
    longest = 0
    for k in range(key_ptr.size - 1):
        longest = max(longest, key_ptr[k + 1] - key_ptr[k])
    path = np.zeros(longest + 1, np.int32)
    count = 1
    previous, previous_length = 0, 0
    for k in range(key_ptr.size - 1):
        first, length = key_ptr[k], key_ptr[k + 1] - key_ptr[k]
        shared = 0
        while shared < min(length, previous_length) and key_syms[first + shared] == key_syms[previous + shared]:
            shared += 1
        node = path[shared]
        for d in range(shared, length):
            parent[count], sym[count], depth[count] = node, key_syms[first + d], d + 1
            node = count
            path[d + 1] = node
            count += 1
        term[path[length]] = k
        previous, previous_length = first, length
    return parent[:count], sym[:count], depth[:count], term[:count]


@compiled
def build_automaton(parent: np.ndarray, sym: np.ndarray, depth: np.ndarray, term: np.ndarray,
                    dense_states: int, n_syms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From `build_trie`, states renumbered breadth first: the encoded `table` of dense rows
    for the first `dense_states`, `nodes` (lo, hi, base, fail) and `cells` for all, the key
    ending at each state (`term`, -1 for none), the first state on its failure chain where a
    key ends (`out`, -1 for none) and, for such a state, the next one (`next_out`)."""
    n = parent.size
    # Breadth first: a counting sort of the states by depth.
    at_depth = np.zeros(depth.max() + 2, np.int64)
    for v in range(n):
        at_depth[depth[v] + 1] += 1
    at_depth = np.cumsum(at_depth)
    order = np.empty(n, np.int64)
    renumber = np.empty(n, np.int32)
    for v in range(n):
        order[at_depth[depth[v]]] = v
        renumber[v] = at_depth[depth[v]]
        at_depth[depth[v]] += 1
    nodes = np.zeros((n, 4), np.int32)
    nodes[:, _LO] = 1  # an empty window: lo > hi
    for old in range(1, n):
        p = renumber[parent[old]]
        if nodes[p, _LO] > nodes[p, _HI]:
            nodes[p, _LO], nodes[p, _HI] = sym[old], sym[old]
        else:
            nodes[p, _LO] = min(nodes[p, _LO], sym[old])
            nodes[p, _HI] = max(nodes[p, _HI], sym[old])
    size = 0
    for s in range(n):
        if nodes[s, _LO] <= nodes[s, _HI]:
            nodes[s, _BASE] = size
            size += nodes[s, _HI] - nodes[s, _LO] + 1
    cells = np.full(size, -1, np.int32)
    for old in range(1, n):
        p = renumber[parent[old]]
        cells[nodes[p, _BASE] + sym[old] - nodes[p, _LO]] = renumber[old]
    new_term = np.full(n, -1, np.int32)
    out = np.full(n, -1, np.int32)
    next_out = np.full(n, -1, np.int32)
    n_dense = min(dense_states, n)
    # Next states first, encoded below; then a row of -1 where deeper states' codes point.
    table = np.zeros((n_dense + 1) * n_syms, np.int32)
    for v in range(n):
        old = order[v]
        new_term[v] = term[old]
        # Breadth first: each failure link points at a state already done.
        if v:
            p = renumber[parent[old]]
            fail = 0 if p == 0 else _step(nodes, cells, nodes[p, _FAIL], sym[old])
            nodes[v, _FAIL] = fail
            next_out[v] = out[fail]
            out[v] = v if new_term[v] >= 0 else out[fail]
        if v < n_dense:
            row = v * n_syms
            if v:
                fail_row = nodes[v, _FAIL] * n_syms
                table[row:row + n_syms] = table[fail_row:fail_row + n_syms]
            for a in range(nodes[v, _LO], nodes[v, _HI] + 1):
                child = cells[nodes[v, _BASE] + a - nodes[v, _LO]]
                if child >= 0:
                    table[row + a] = child
    for k in range(n_dense * n_syms):
        table[k] = _encode(table[k], n_dense, n_syms, out)
    table[n_dense * n_syms:] = -1
    return table, nodes, cells, new_term, out, next_out


@_inlined
def _encode(state: int, n_dense: int, n_syms: int, out: np.ndarray) -> int:
    base = state * n_syms if state < n_dense else n_dense * n_syms + state - n_dense
    return (base << 1) | (1 if out[state] >= 0 else 0)


@_inlined
def _decode(code: int, n_dense: int, n_syms: int) -> int:
    base = code >> 1
    return base // n_syms if base < n_dense * n_syms else base - n_dense * n_syms + n_dense


@compiled
def _next(table: np.ndarray, n_syms: int, nodes: np.ndarray, cells: np.ndarray, out: np.ndarray, code: int,
          sym: int) -> int:
    """The code of the state after the state coded `code` reads `sym`."""
    n_dense = table.size // n_syms - 1
    state = _decode(code, n_dense, n_syms)
    if sym == OTHER:
        return 0
    while state >= n_dense:
        lo = nodes[state, _LO]
        if lo <= sym <= nodes[state, _HI]:
            child = cells[nodes[state, _BASE] + sym - lo]
            if child >= 0:
                return _encode(child, n_dense, n_syms, out)
        state = nodes[state, _FAIL]
    return table[state * n_syms + sym]


@compiled
def _symbols(folded: str, prefolded: bool, text: str, syms: np.ndarray, classes: np.ndarray, capitals: np.ndarray,
             info_bmp: np.ndarray, key_sym_bmp: np.ndarray, astral_chars: np.ndarray, astral_syms: np.ndarray) -> int:
    """Fills the start of `syms` with each character's symbol and, when `classes` is not
    empty, `classes` with its class bits and `capitals` with the positions of the pattern's
    capitals. `folded` is `text`, or its `fold` when `prefolded`. Returns how many capitals
    there are, or -1 when `text` needs `fold` in Python first.

    `info_bmp[c]` is the symbol of `text` character `c` plus its class bits shifted left by
    `CLASS_SHIFT`, or NEEDS_FOLD; `key_sym_bmp[c]` the symbol of folded character `c`."""
    n_capitals = 0
    if not prefolded:
        for i in range(len(text)):
            c = _get_code_point(text, i)
            info = info_bmp[c] if c < 0x10000 else NEEDS_FOLD
            if info < 0:
                return -1
            syms[i] = info & _SYMBOL_MASK
            if classes.size:
                bits = info >> CLASS_SHIFT
                classes[i] = bits
                capitals[n_capitals] = i
                n_capitals += bits & _UPPER
        return n_capitals
    for i in range(len(folded)):
        c = _get_code_point(folded, i)
        if c < 0x10000:
            sym = key_sym_bmp[c]
        else:
            k = np.searchsorted(astral_chars, c)
            sym = astral_syms[k] if k < astral_chars.size and astral_chars[k] == c else OTHER
        syms[i] = sym
        if classes.size:
            c = _get_code_point(text, i)
            bits = (LATIN1_CLASSES[c] if c < 256 else 0) | (SEPARATOR if sym == SEP else 0)
            classes[i] = bits
            capitals[n_capitals] = i
            n_capitals += bits & _UPPER
    return n_capitals


@_inlined
def _emit(found: np.ndarray, lane: int, count: int, code: int, i: int, n_syms: int, n_dense: int, out: np.ndarray,
          next_out: np.ndarray, term: np.ndarray, key_len: np.ndarray) -> int:
    room = found.shape[0] // _LANES
    ending = out[_decode(code, n_dense, n_syms)]
    while ending >= 0:
        if count < room:
            key = term[ending]
            row = lane * room + count
            found[row, 0], found[row, 1], found[row, 2] = i - key_len[key] + 2, i, key
        count += 1
        ending = next_out[ending]
    return count


@compiled
def _scan(syms: np.ndarray, n: int, found: np.ndarray, counts: np.ndarray, lookback: int, table: np.ndarray,
          n_syms: int, nodes: np.ndarray, cells: np.ndarray, out: np.ndarray, next_out: np.ndarray,
          term: np.ndarray, key_len: np.ndarray) -> None:
    """(start, stop, key) of every whole-word occurrence of every key in the text whose
    symbols are `syms[:n]`; `syms[n]` is a separator and the rest of `syms` OTHER padding.
    Lane j writes its `counts[j]` occurrences (by stop, then longest first) from row
    `j * len(found) // _LANES` of `found`; a count beyond that room means: call again with more.

    Each step waits for the table load of the step before, so eight lanes scan as many
    segments in lockstep and their loads overlap; each lane's code is its own variable, so
    that it stays in a register. A lane starts `lookback` (the longest key) symbols before
    its segment: the automaton's state depends on no more, so it is exact by the time the
    segment begins. Lanes read past their segment's end into the next one or the padding;
    only the rare emissions check whose position it is.
    """
    first = np.empty(_LANES + 1, np.int64)  # where each lane's segment starts; positions run to n
    begin = np.empty(_LANES, np.int64)  # where it starts reading
    for j in range(_LANES + 1):
        first[j] = j * (n + 1) // _LANES
    steps = 0
    for j in range(_LANES):
        begin[j] = max(0, first[j] - lookback)
        steps = max(steps, first[j + 1] - begin[j])
    if begin.max() + steps > syms.size:
        raise ValueError("symbols need more padding")
    f0, f1, f2, f3, f4, f5, f6, f7, f8 = first[0], first[1], first[2], first[3], first[4], first[5], first[6], first[7], n + 1
    b0, b1, b2, b3, b4, b5, b6, b7 = begin[0], begin[1], begin[2], begin[3], begin[4], begin[5], begin[6], begin[7]
    # Position -1 is the separator before the text.
    start = table[SEP]
    c0, c1, c2, c3 = start, start if b1 == 0 else 0, start if b2 == 0 else 0, start if b3 == 0 else 0
    c4, c5, c6, c7 = start if b4 == 0 else 0, start if b5 == 0 else 0, start if b6 == 0 else 0, start if b7 == 0 else 0
    trap = table.size - n_syms  # the row of -1, where codes of states without a dense row point
    n_dense = trap // n_syms
    counts[:] = 0
    for t in range(steps):
        n0 = table[min(c0 >> 1, trap) + syms[b0 + t]]
        n1 = table[min(c1 >> 1, trap) + syms[b1 + t]]
        n2 = table[min(c2 >> 1, trap) + syms[b2 + t]]
        n3 = table[min(c3 >> 1, trap) + syms[b3 + t]]
        n4 = table[min(c4 >> 1, trap) + syms[b4 + t]]
        n5 = table[min(c5 >> 1, trap) + syms[b5 + t]]
        n6 = table[min(c6 >> 1, trap) + syms[b6 + t]]
        n7 = table[min(c7 >> 1, trap) + syms[b7 + t]]
        if (n0 | n1 | n2 | n3 | n4 | n5 | n6 | n7) < 0:
            n0 = n0 if n0 >= 0 else _next(table, n_syms, nodes, cells, out, c0, syms[b0 + t])
            n1 = n1 if n1 >= 0 else _next(table, n_syms, nodes, cells, out, c1, syms[b1 + t])
            n2 = n2 if n2 >= 0 else _next(table, n_syms, nodes, cells, out, c2, syms[b2 + t])
            n3 = n3 if n3 >= 0 else _next(table, n_syms, nodes, cells, out, c3, syms[b3 + t])
            n4 = n4 if n4 >= 0 else _next(table, n_syms, nodes, cells, out, c4, syms[b4 + t])
            n5 = n5 if n5 >= 0 else _next(table, n_syms, nodes, cells, out, c5, syms[b5 + t])
            n6 = n6 if n6 >= 0 else _next(table, n_syms, nodes, cells, out, c6, syms[b6 + t])
            n7 = n7 if n7 >= 0 else _next(table, n_syms, nodes, cells, out, c7, syms[b7 + t])
        c0, c1, c2, c3, c4, c5, c6, c7 = n0, n1, n2, n3, n4, n5, n6, n7
        if (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) & 1:
            if c0 & 1 and f0 <= b0 + t < f1:
                counts[0] = _emit(found, 0, counts[0], c0, b0 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c1 & 1 and f1 <= b1 + t < f2:
                counts[1] = _emit(found, 1, counts[1], c1, b1 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c2 & 1 and f2 <= b2 + t < f3:
                counts[2] = _emit(found, 2, counts[2], c2, b2 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c3 & 1 and f3 <= b3 + t < f4:
                counts[3] = _emit(found, 3, counts[3], c3, b3 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c4 & 1 and f4 <= b4 + t < f5:
                counts[4] = _emit(found, 4, counts[4], c4, b4 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c5 & 1 and f5 <= b5 + t < f6:
                counts[5] = _emit(found, 5, counts[5], c5, b5 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c6 & 1 and f6 <= b6 + t < f7:
                counts[6] = _emit(found, 6, counts[6], c6, b6 + t, n_syms, n_dense, out, next_out, term, key_len)
            if c7 & 1 and f7 <= b7 + t < f8:
                counts[7] = _emit(found, 7, counts[7], c7, b7 + t, n_syms, n_dense, out, next_out, term, key_len)


@compiled
def _scan_one(syms: np.ndarray, n: int, found: np.ndarray, counts: np.ndarray, table: np.ndarray, n_syms: int,
              nodes: np.ndarray, cells: np.ndarray, out: np.ndarray, next_out: np.ndarray, term: np.ndarray,
              key_len: np.ndarray) -> None:
    """`_scan` in one lane, for short texts (a title), where lanes would mostly re-read."""
    trap = table.size - n_syms
    n_dense = trap // n_syms
    code = table[SEP]  # after the separator before the text
    counts[:] = 0
    for i in range(n + 1):
        step = table[min(code >> 1, trap) + syms[i]]
        code = step if step >= 0 else _next(table, n_syms, nodes, cells, out, code, syms[i])
        if code & 1:
            counts[0] = _emit(found, 0, counts[0], code, i, n_syms, n_dense, out, next_out, term, key_len)


@compiled
def _occurrences(syms: np.ndarray, n: int, lookback: int, table: np.ndarray, n_syms: int, nodes: np.ndarray,
                 cells: np.ndarray, out: np.ndarray, next_out: np.ndarray, term: np.ndarray,
                 key_len: np.ndarray) -> np.ndarray:
    """`_scan`'s occurrences, ordered by stop then longest first."""
    room = 4 + n // 64
    found = np.empty((_LANES * room, 3), np.int32)
    counts = np.empty(_LANES, np.int64)
    short = n < 4 * lookback  # where eight lanes stop paying for their re-reading
    for _ in range(2):
        if short:
            _scan_one(syms, n, found, counts, table, n_syms, nodes, cells, out, next_out, term, key_len)
        else:
            _scan(syms, n, found, counts, lookback, table, n_syms, nodes, cells, out, next_out, term, key_len)
        if counts.max() <= room:
            break
        room = counts.max()
        found = np.empty((_LANES * room, 3), np.int32)
    ordered = np.empty((counts.sum(), 3), np.int32)
    at = 0
    for lane in range(_LANES):
        ordered[at:at + counts[lane]] = found[lane * room:lane * room + counts[lane]]
        at += counts[lane]
    return ordered


@compiled
def _padded(n: int, lookback: int) -> np.ndarray:
    """Room for `n` symbols, the separator after them, and OTHER padding for `_scan`'s lanes,
    which all take as many steps as the longest and so read a little past it (it checks)."""
    syms = np.full(n + lookback + 3, OTHER, np.int32)
    syms[n] = SEP
    return syms


@_inlined
def _same_text(text: str, start: int, stop: int, chars: np.ndarray, first: int, last: int) -> bool:
    if stop - start != last - first:
        return False
    for k in range(stop - start):
        if _get_code_point(text, start + k) != chars[first + k]:
            return False
    return True


@_inlined
def _before(spans: np.ndarray, a: int, b: int) -> bool:
    """Whether span `a` starts before span `b`, or at the same place and is longer."""
    return spans[a, 0] < spans[b, 0] or (spans[a, 0] == spans[b, 0] and spans[a, 1] > spans[b, 1])


@compiled
def _spans(text: str, found: np.ndarray, column: int, theme_hits: np.ndarray, entry_ptr: np.ndarray,
           e_kind: np.ndarray, e_index: np.ndarray, e_exact: np.ndarray, exact_ptr: np.ndarray,
           exact_chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leftmost-longest spans (start, stop, first, last) whose link entries (entity aliases
    and stop phrases whose case matches) are `entries[first:last]`, plus the entities whose
    context phrases occur; counts theme phrases into `theme_hits[:, column]`."""
    total = 0
    for m in range(found.shape[0]):
        total += entry_ptr[found[m, 2] + 1] - entry_ptr[found[m, 2]]
    entries = np.empty(total, np.int32)
    context = np.empty(total, np.int32)
    spans = np.empty((found.shape[0], 4), np.int32)
    n_entries = n_context = n_spans = 0
    for m in range(found.shape[0]):
        start, stop, key = found[m, 0], found[m, 1], found[m, 2]
        first = n_entries
        for e in range(entry_ptr[key], entry_ptr[key + 1]):
            x = e_exact[e]
            if x >= 0 and not _same_text(text, start, stop, exact_chars, exact_ptr[x], exact_ptr[x + 1]):
                continue
            kind = e_kind[e]
            if kind <= STOP:
                entries[n_entries] = e
                n_entries += 1
            elif kind == CONTEXT:
                context[n_context] = e_index[e]
                n_context += 1
            else:
                theme_hits[e_index[e], column] += 1
        if n_entries > first:
            spans[n_spans, 0], spans[n_spans, 1], spans[n_spans, 2], spans[n_spans, 3] = start, stop, first, n_entries
            n_spans += 1
    # Leftmost first, then longest: `Sinaloa Cartel` wins over `Sinaloa`. The spans come by
    # stop, so only spans within a key's length of each other are out of order: an insertion
    # sort does little work.
    order = np.arange(n_spans)
    for j in range(1, n_spans):
        moving = order[j]
        k = j
        while k > 0 and _before(spans, moving, order[k - 1]):
            order[k] = order[k - 1]
            k -= 1
        order[k] = moving
    chosen = np.empty((n_spans, 4), np.int32)
    n_chosen, last_end = 0, -1
    for j in order:
        if spans[j, 0] >= last_end:
            for col in range(4):
                chosen[n_chosen, col] = spans[j, col]
            n_chosen += 1
            last_end = spans[j, 1]
    return chosen[:n_chosen], entries[:n_entries], context[:n_context]


@_inlined
def _same_span(text: str, start: int, stop: int, other: int, other_stop: int) -> bool:
    if stop - start != other_stop - other:
        return False
    for k in range(stop - start):
        if _get_code_point(text, start + k) != _get_code_point(text, other + k):
            return False
    return True


@compiled
def _empty_set(room: int) -> np.ndarray:
    """An open-addressing hash set of non-negative numbers with room for `room`: -1 marks a
    free slot."""
    size = 16
    while size < 2 * room:
        size *= 2
    return np.full(size, -1, np.int64)


@compiled
def _set_of(values: np.ndarray) -> np.ndarray:
    slots = _empty_set(values.size)
    for value in values:
        slots[_slot(slots, value)] = value
    return slots


@_inlined
def _slot(slots: np.ndarray, value: int) -> int:
    """Where `value` is in the hash set `slots`, or the free slot where it would go."""
    mask = slots.size - 1
    k = (value * 0x9E3779B1) & mask
    while slots[k] != -1 and slots[k] != value:
        k = (k + 1) & mask
    return k


@_inlined
def _has(slots: np.ndarray, value: int) -> bool:
    return slots[_slot(slots, value)] == value


@compiled
def _resolve(spans: np.ndarray, entries: np.ndarray, e_kind: np.ndarray, e_index: np.ndarray,
             strong: np.ndarray, context: np.ndarray) -> np.ndarray:
    """(start, stop, entity) per linked span: strong aliases always; weak aliases when the
    entity is named in full or its context appears; surnames when the person is named in full.
    A span's entries are sorted by (kind, entity), so the first that qualifies links."""
    links = np.empty((spans.shape[0], 3), np.int32)
    count = 0
    for j in range(spans.shape[0]):
        for p in range(spans[j, 2], spans[j, 3]):
            kind, index = e_kind[entries[p]], e_index[entries[p]]
            if kind == STRONG or (kind == WEAK and (_has(strong, index) or _has(context, index))) or (
                kind == SURNAME and _has(strong, index)
            ):
                links[count, 0], links[count, 1], links[count, 2] = spans[j, 0], spans[j, 1], index
                count += 1
                break
    return links[:count]


@compiled
def _strong(spans: np.ndarray, entries: np.ndarray, e_kind: np.ndarray, e_index: np.ndarray, into: np.ndarray, count: int) -> int:
    for j in range(spans.shape[0]):
        for p in range(spans[j, 2], spans[j, 3]):
            if e_kind[entries[p]] == STRONG:
                into[count] = e_index[entries[p]]
                count += 1
    return count


@_inlined
def _word_end(classes: np.ndarray, i: int) -> int:
    """End of a capitalised word (`[A-ZÁ…][a-zá…]+`, as long as it goes) at `i`, else -1."""
    n = classes.size
    if i + 1 >= n or not classes[i] & _UPPER or not classes[i + 1] & _LOWER:
        return -1
    j = i + 2
    while j < n and classes[j] & _LOWER:
        j += 1
    return j


@_inlined
def _particle_end(text: str, classes: np.ndarray, i: int) -> int:
    """End of a particle and its space at `i`, else -1."""
    if i >= classes.size or not classes[i] & _PARTICLE_START:
        return -1
    initial = _get_code_point(text, i)
    for p in range(_PARTICLE_LENGTHS.size):
        m = _PARTICLE_LENGTHS[p]
        if _PARTICLE_CHARS[p, 0] == initial and i + m < classes.size and classes[i + m] & _SPACE:
            k = 1
            while k < m and _get_code_point(text, i + k) == _PARTICLE_CHARS[p, k]:
                k += 1
            if k == m:
                return i + m + 1
    return -1


@compiled
def _unlinked(text: str, classes: np.ndarray, capitals: np.ndarray, links: np.ndarray) -> np.ndarray:
    """(start, stop) of each capitalised multi-word name in `text` that is not glued to a
    letter or digit before it and that no link overlaps. The same matches as finding, left to
    right without overlaps, the regex `W(?: (?:P )*W)+` where `W` is `_word_end`'s word and
    `P` a particle (whose words start lower case, so backtracking never finds another).
    `capitals` holds the positions where a match can start, in order."""
    n = classes.size
    names = np.empty((capitals.size, 2), np.int32)
    count = 0
    before = 0  # links that start before the current name ends
    done = 0  # where the last match ended
    for i in capitals:
        if i < done:
            continue
        end = _word_end(classes, i)
        if end < 0:
            continue
        words = 1
        while end < n and classes[end] & _SPACE:
            k = end + 1
            after = _particle_end(text, classes, k)
            while after >= 0:
                k = after
                after = _particle_end(text, classes, k)
            k = _word_end(classes, k)
            if k < 0:
                break
            end = k
            words += 1
        if words == 1:
            continue
        inside_word = i > 0 and not classes[i - 1] & SEPARATOR
        while before < links.shape[0] and links[before, 0] < end:
            before += 1
        covered = before > 0 and links[before - 1, 1] > i
        if not inside_word and not covered:
            names[count, 0], names[count, 1] = i, end
            count += 1
        done = end
    return names[:count]


@compiled
def _most_common(text: str, names: np.ndarray, limit: int) -> np.ndarray:
    """The first occurrence (start, stop) of each distinct text among `names`, most frequent
    first, ties in order of first occurrence (as `Counter.most_common`), at most `limit`."""
    m = names.shape[0]
    hashes = np.empty(m, np.uint64)
    for j in range(m):
        h = np.uint64(0xCBF29CE484222325)
        for p in range(names[j, 0], names[j, 1]):
            h = (h ^ np.uint64(_get_code_point(text, p))) * np.uint64(0x100000001B3)
        hashes[j] = h
    # Each name's first occurrence with the same text, through a hash table of first occurrences.
    firsts = _empty_set(m)
    mask = np.uint64(firsts.size - 1)
    counts = np.zeros(m, np.int64)
    for j in range(m):
        k = hashes[j] & mask
        while firsts[k] != -1:
            f = firsts[k]
            if hashes[f] == hashes[j] and _same_span(text, names[j, 0], names[j, 1], names[f, 0], names[f, 1]):
                break
            k = (k + np.uint64(1)) & mask
        if firsts[k] == -1:
            firsts[k] = j
        counts[firsts[k]] += 1
    ranked = _sorted_order((m - counts) * (m + 1) + np.arange(m))  # names that are no first occurrence last
    kept = 0
    while kept < min(limit, m) and counts[ranked[kept]]:
        kept += 1
    out = np.empty((kept, 2), np.int32)
    for r in range(kept):
        out[r, 0], out[r, 1] = names[ranked[r], 0], names[ranked[r], 1]
    return out


@compiled
def _sorted_order(keys: np.ndarray) -> np.ndarray:
    """Indexes that sort `keys`, equal keys in index order: a merge sort of insertion-sorted
    runs (usually a handful of keys, so usually just the insertion sort)."""
    n = keys.size
    order = np.arange(n)
    for j in range(1, n):
        if j % _RUN == 0:
            continue
        moving = order[j]
        k = j
        while k % _RUN and keys[order[k - 1]] > keys[moving]:
            order[k] = order[k - 1]
            k -= 1
        order[k] = moving
    other = np.empty(n, np.int64)
    width = _RUN
    while width < n:
        for low in range(0, n, 2 * width):
            middle, high = min(low + width, n), min(low + 2 * width, n)
            i, j = low, middle
            for k in range(low, high):
                if j >= high or (i < middle and keys[order[i]] <= keys[order[j]]):
                    other[k] = order[i]
                    i += 1
                else:
                    other[k] = order[j]
                    j += 1
        order, other = other, order
        width *= 2
    return order


# The compiled tables travel as one int32 array, one argument to unbox instead of many: a
# header (symbol count, theme count, longest key, where each part starts, where the last
# ends), then these.
PARTS = ("table", "info_bmp", "key_sym_bmp", "astral_chars", "astral_syms", "nodes", "cells", "out",
         "next_out", "term", "key_len", "entry_ptr", "e_kind", "e_index", "e_exact", "exact_ptr",
         "exact_chars", "id_rank")
(_TABLE, _INFO_BMP, _KEY_SYM_BMP, _ASTRAL_CHARS, _ASTRAL_SYMS, _NODES, _CELLS, _OUT, _NEXT_OUT, _TERM, _KEY_LEN,
 _ENTRY_PTR, _E_KIND, _E_INDEX, _E_EXACT, _EXACT_PTR, _EXACT_CHARS, _ID_RANK) = range(len(PARTS))
_HEADER = 3 + len(PARTS) + 1
# The parts start after the header rounded up to a cache line (16 int32s), the automaton's
# table first: its rows are whole lines, so each row's first line holds the commonest symbols.
_FIRST_PART = -(-_HEADER // 16) * 16


def pack(n_syms: int, n_themes: int, parts: dict[str, np.ndarray]) -> np.ndarray:
    """`PARTS` (int32 arrays, `nodes` flattened) and the counts, as `tag`'s `tables`. Empties
    `parts` as it goes, so that the largest tables are not held twice."""
    sizes = [parts[name].size for name in PARTS]
    if _FIRST_PART + sum(sizes) > np.iinfo(np.int32).max:
        raise ValueError("the tagger's tables exceed 2**31 entries")
    blob = aligned(_FIRST_PART + sum(sizes))
    blob[:_FIRST_PART] = 0
    blob[0], blob[1], blob[2] = n_syms, n_themes, parts["key_len"].max(initial=0)
    blob[3:_HEADER] = _FIRST_PART + np.concatenate(([0], np.cumsum(sizes)))
    for k, name in enumerate(PARTS):
        blob[blob[3 + k]:blob[4 + k]] = parts.pop(name).ravel()
    return blob


def aligned(size: int) -> np.ndarray:
    """An int32 array of `size` whose data starts on a 64-byte cache line."""
    room = np.empty(size + 16, np.int32)
    skip = (-room.ctypes.data % 64) // 4
    return room[skip:skip + size]


@_inlined
def _part(tables: np.ndarray, k: int) -> np.ndarray:
    return tables[tables[3 + k]:tables[4 + k]]


@compiled
def tag(title: str, title_folded: str, title_prefolded: bool, body: str, body_folded: str, body_prefolded: bool,
        tables: np.ndarray) -> np.ndarray:
    """One article, packed in one int64 array (the caller builds the records):

    `[status, entities, themes, mentions, names]`, then per entity in output order (count
    descending, then id) `index, count, in_title, mentions`; per theme hit `index,
    title hits, body hits`; per mention, grouped by entity, `start, stop` in `body`; per
    unlinked name, most frequent first, `start, stop` of its first occurrence. A non-zero
    status (bit 1 the title, bit 2 the body) means that text holds a character whose fold
    depends on its context: call again with that text folded in Python and `*_prefolded` set.
    `tables` is `pack`'s.
    """
    n_syms, n_themes, lookback = tables[0], tables[1], tables[2]
    info_bmp, key_sym_bmp = _part(tables, _INFO_BMP), _part(tables, _KEY_SYM_BMP)
    astral_chars, astral_syms = _part(tables, _ASTRAL_CHARS), _part(tables, _ASTRAL_SYMS)
    table, nodes, cells = _part(tables, _TABLE), _part(tables, _NODES).reshape((-1, 4)), _part(tables, _CELLS)
    out, next_out, term = _part(tables, _OUT), _part(tables, _NEXT_OUT), _part(tables, _TERM)
    key_len, entry_ptr, e_kind = _part(tables, _KEY_LEN), _part(tables, _ENTRY_PTR), _part(tables, _E_KIND)
    e_index, e_exact, exact_ptr = _part(tables, _E_INDEX), _part(tables, _E_EXACT), _part(tables, _EXACT_PTR)
    exact_chars, id_rank = _part(tables, _EXACT_CHARS), _part(tables, _ID_RANK)
    title_syms = _padded(len(title), lookback)
    body_syms = _padded(len(body), lookback)
    body_classes = np.empty(len(body), np.uint8)
    capitals = np.empty(len(body), np.int32)
    title_ok = _symbols(title_folded, title_prefolded, title, title_syms, body_classes[:0], capitals, info_bmp,
                        key_sym_bmp, astral_chars, astral_syms) >= 0
    n_capitals = _symbols(body_folded, body_prefolded, body, body_syms, body_classes, capitals, info_bmp, key_sym_bmp,
                          astral_chars, astral_syms)
    body_ok = n_capitals >= 0
    if not (title_ok and body_ok):
        return np.array([(0 if title_ok else 1) | (0 if body_ok else 2)], np.int64)
    title_found = _occurrences(title_syms, len(title), lookback, table, n_syms, nodes, cells, out, next_out, term,
                               key_len)
    body_found = _occurrences(body_syms, len(body), lookback, table, n_syms, nodes, cells, out, next_out, term,
                              key_len)
    theme_hits = np.zeros((n_themes, 2), np.int64)
    title_spans, title_entries, title_context = _spans(
        title, title_found, 0, theme_hits, entry_ptr, e_kind, e_index, e_exact, exact_ptr, exact_chars)
    body_spans, body_entries, body_context = _spans(
        body, body_found, 1, theme_hits, entry_ptr, e_kind, e_index, e_exact, exact_ptr, exact_chars)
    context = _set_of(np.concatenate((title_context, body_context)))
    strong = np.empty(title_entries.size + body_entries.size, np.int32)
    n_strong = _strong(title_spans, title_entries, e_kind, e_index, strong, 0)
    n_strong = _strong(body_spans, body_entries, e_kind, e_index, strong, n_strong)
    strong = _set_of(strong[:n_strong])
    title_links = _resolve(title_spans, title_entries, e_kind, e_index, strong, context)
    body_links = _resolve(body_spans, body_entries, e_kind, e_index, strong, context)

    # The linked entities in first-seen order, and each link's place among them.
    links = np.concatenate((title_links[:, 2], body_links[:, 2]))
    seen = _empty_set(links.size)
    seen_slot = np.empty(seen.size, np.int64)
    found = np.empty(links.size, np.int64)
    slot = np.empty(links.size, np.int64)
    n_found = 0
    for j in range(links.size):
        k = _slot(seen, links[j])
        if seen[k] == -1:
            seen[k], seen_slot[k], found[n_found] = links[j], n_found, links[j]
            n_found += 1
        slot[j] = seen_slot[k]
    found = found[:n_found]
    in_title = np.zeros(n_found, np.int64)
    count = np.zeros(n_found, np.int64)  # mentions in the body, plus one when in the title
    n_title = title_links.shape[0]
    for j in range(n_title):
        in_title[slot[j]] = 1
    slot = slot[n_title:]
    for j in range(slot.size):
        count[slot[j]] += 1
    most = 0
    for s in range(found.size):
        count[s] += in_title[s]
        most = max(most, count[s])
    keys = np.empty(found.size, np.int64)
    for s in range(found.size):
        keys[s] = (most - count[s]) * id_rank.size + id_rank[found[s]]
    order = _sorted_order(keys)

    names = _most_common(body, _unlinked(body, body_classes, capitals[:n_capitals], body_links), MAX_UNLINKED)
    n_hit = 0
    for t in range(n_themes):
        if theme_hits[t, 0] or theme_hits[t, 1]:
            n_hit += 1
    n_links = body_links.shape[0]
    packed = np.empty(5 + 4 * found.size + 3 * n_hit + 2 * n_links + 2 * names.shape[0], np.int64)
    packed[0], packed[1], packed[2], packed[3], packed[4] = 0, found.size, n_hit, n_links, names.shape[0]
    at = 5
    # Where each entity's mentions go: grouped by entity in output order, each in body order.
    mentions_at = 5 + 4 * found.size + 3 * n_hit
    fill = keys  # reused: by slot, the next place for that entity's mention
    for r in range(found.size):
        s = order[r]
        mentions = count[s] - in_title[s]
        packed[at], packed[at + 1], packed[at + 2], packed[at + 3] = found[s], count[s], in_title[s], mentions
        at += 4
        fill[s] = mentions_at
        mentions_at += 2 * mentions
    for t in range(n_themes):
        if theme_hits[t, 0] or theme_hits[t, 1]:
            packed[at], packed[at + 1], packed[at + 2] = t, theme_hits[t, 0], theme_hits[t, 1]
            at += 3
    for j in range(n_links):
        packed[fill[slot[j]]], packed[fill[slot[j]] + 1] = body_links[j, 0], body_links[j, 1]
        fill[slot[j]] += 2
    at = mentions_at
    for r in range(names.shape[0]):
        packed[at], packed[at + 1] = names[r, 0], names[r, 1]
        at += 2
    return packed
