"""The arrays `kernels.tag` runs on, compiled from the tagger's keys."""

from dataclasses import dataclass

import numpy as np

from . import kernels
from .fold import CONTEXTUAL, bmp_table
from .kernels import OTHER, SEP

# Dense rows for the shallow states, where a scan spends nearly all its steps, up to this size.
DENSE_BYTES = 64 << 20
# Letters and digits, most used in English and Spanish news text first.
_COMMON = "etaoinsrhldcumfpgwybvkxjqzéáíóñú0123456789"
Entry = tuple[int, int, str | None]  # kind, entity or theme index, exact text or None


@dataclass(frozen=True)
class Tables:
    """`kernels.pack`ed symbol tables, automaton and key entries, and the number of states."""

    packed: np.ndarray
    states: int


def _utf32(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def compile_tables(keys: dict[str, list[Entry]], entity_ids: list[str], n_themes: int) -> Tables:
    """`keys`: " folded words " → entries; `entity_ids` ranks the entities for output order."""
    # Symbols in the order of how often text has them, so that a state's next states for the
    # common letters share a cache line or two of its row.
    by_use = sorted(set("".join(keys)) - {" "},
                    key=lambda c: (_COMMON.index(c) if c in _COMMON else len(_COMMON), c))
    rank = {c: 2 + n for n, c in enumerate(by_use)} | {" ": SEP}
    ordered = sorted(keys, key=lambda key: [rank[c] for c in key])  # build_trie wants symbol order
    chars = _utf32("".join(by_use))
    syms = np.arange(2, 2 + chars.size, dtype=np.int32)
    n_syms = -(-(2 + chars.size) // 16) * 16  # rows of whole cache lines
    key_sym_bmp = np.full(0x10000, OTHER, np.int32)
    key_sym_bmp[ord(" ")] = SEP
    in_bmp = chars < 0x10000
    key_sym_bmp[chars[in_bmp]] = syms[in_bmp]
    # By code point, as `_symbols` searches them: `by_use` keeps that order past `_COMMON`.
    astral_chars, astral_syms = chars[~in_bmp], syms[~in_bmp]
    # Each text character's symbol, with its class bits for the unlinked-name scan on top.
    sym_bmp = key_sym_bmp[bmp_table()]
    classes = np.where(sym_bmp == SEP, kernels.SEPARATOR, 0)
    classes[:256] |= kernels.LATIN1_CLASSES
    info_bmp = (sym_bmp | (classes << kernels.CLASS_SHIFT)).astype(np.int32)
    info_bmp[[ord(c) for c in CONTEXTUAL]] = kernels.NEEDS_FOLD

    codes = _utf32("".join(ordered))
    key_syms = np.empty(codes.size, np.int32)
    small = codes < 0x10000
    key_syms[small] = key_sym_bmp[codes[small]]
    key_syms[~small] = astral_syms[np.searchsorted(astral_chars, codes[~small])]
    key_len = np.fromiter(map(len, ordered), np.int32, len(ordered))
    key_ptr = np.zeros(len(ordered) + 1, np.int32)
    np.cumsum(key_len, out=key_ptr[1:])
    # Kept in `parts` only, so that packing can free each as it copies it.
    parts = dict(zip(("table", "nodes", "cells", "term", "out", "next_out"), kernels.build_automaton(
        *kernels.build_trie(key_syms, key_ptr), max(1, DENSE_BYTES // (4 * n_syms)), n_syms)))
    states = parts["nodes"].shape[0]

    entry_ptr, kinds, indexes, exacts = [0], [], [], []
    exact_ids: dict[str, int] = {}
    for key in ordered:
        # A span's link entries sorted by (kind, index): the first that qualifies links.
        for kind, index, exact in sorted(dict.fromkeys(keys[key]), key=lambda e: (e[0], e[1])):
            kinds.append(kind)
            indexes.append(index)
            exacts.append(-1 if exact is None else exact_ids.setdefault(exact, len(exact_ids)))
        entry_ptr.append(len(kinds))
    exact_chars = _utf32("".join(exact_ids))
    exact_ptr = np.zeros(len(exact_ids) + 1, np.int32)
    np.cumsum([len(e) for e in exact_ids], out=exact_ptr[1:])
    id_rank = np.empty(len(entity_ids), np.int32)
    id_rank[sorted(range(len(entity_ids)), key=entity_ids.__getitem__)] = np.arange(len(entity_ids))
    parts.update({
        "info_bmp": info_bmp, "key_sym_bmp": key_sym_bmp, "astral_chars": astral_chars, "astral_syms": astral_syms,
        "key_len": key_len, "entry_ptr": np.array(entry_ptr), "e_kind": np.array(kinds), "e_index": np.array(indexes),
        "e_exact": np.array(exacts), "exact_ptr": exact_ptr, "exact_chars": exact_chars, "id_rank": id_rank,
    })
    return Tables(kernels.pack(n_syms, n_themes, parts), states)
