"""The per-article fingerprint: everything the index needs, computed without state."""

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xxhash

from . import mix
from .config import DedupConfig
from .text import token_hashes

DEFAULT_CONFIG = DedupConfig()


@dataclass(frozen=True)
class Fingerprint:
    """JSON-friendly summary of one article (a few hundred bytes).

    `sketch` and `signature` are base64 little-endian uint32 arrays; `bands` are the
    LSH bucket keys derived from the signature. Texts shorter than the shingle size
    have no sketch, signature or bands and can only match exactly.
    """

    article_id: str
    url_key: str | None
    content_hash: str | None
    shingle_count: int
    sketch: str
    signature: str
    bands: tuple[str, ...]
    # The sketch as computed, for an index in the same process (it would decode `sketch`);
    # not serialised, so None after from_dict.
    sketch_values: np.ndarray | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON serialisation (bands become a list).

        Written out rather than `dataclasses.asdict`, whose deep copy cost ~10 % of the core
        pipeline's time per article."""
        return {
            "article_id": self.article_id,
            "url_key": self.url_key,
            "content_hash": self.content_hash,
            "shingle_count": self.shingle_count,
            "sketch": self.sketch,
            "signature": self.signature,
            "bands": list(self.bands),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fingerprint":
        """Inverse of as_dict."""
        return cls(**(data | {"bands": tuple(data["bands"])}))

    def decoded_sketch(self) -> np.ndarray:
        """The bottom-k sketch as uint32 values."""
        return self.sketch_values if self.sketch_values is not None else decode_uint32(self.sketch)


def encode_uint32(values: np.ndarray) -> str:
    """Base64 text of a uint32 array, little-endian."""
    # binascii without a copy of the array: base64.b64encode of a converted copy took 0.5 µs more.
    return binascii.b2a_base64(values.astype("<u4", copy=False).tobytes(), newline=False).decode("ascii")


def decode_uint32(text: str) -> np.ndarray:
    """Inverse of encode_uint32."""
    return np.frombuffer(base64.b64decode(text), dtype="<u4")


def fingerprint(
    article_id: str, text: str, canonical_url: str | None, config: DedupConfig = DEFAULT_CONFIG
) -> Fingerprint:
    """Fingerprint an article's text (headline and body) and canonical URL.

    Pure and CPU-bound, so callers may run it in parallel ahead of the index. Empty
    text gets no content hash, so empty articles are never duplicates by content.
    """
    words = token_hashes(text)
    count, sketch, sig, band_bytes = sketch_parts(words, config)
    url = (canonical_url or "").strip()
    return Fingerprint(
        article_id=article_id,
        url_key=xxhash.xxh3_64_hexdigest(url.encode()) if url else None,
        content_hash=xxhash.xxh3_128_hexdigest(words.tobytes()) if words.size else None,
        shingle_count=count,
        sketch=encode_uint32(sketch),
        signature=encode_uint32(sig),
        bands=tuple(band_bytes.tobytes().hex(" ", mix.BAND_KEY_BYTES).split()),
        sketch_values=sketch,
    )


def sketch_parts(words: np.ndarray, config: DedupConfig) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct shingle count, bottom-k sketch, signature, band key bytes) of `words`, from
    one compiled call: what `shingle_hashes`, `bottom_k`, `signature` and `band_keys` give."""
    if not 1 <= config.shingle_size <= mix.SHINGLE_MULTIPLIERS.size:
        raise ValueError(f"shingle size must be between 1 and {mix.SHINGLE_MULTIPLIERS.size}")
    return mix.sketch_parts(words, config.shingle_size, config.num_bins, config.sketch_size, config.bands, config.rows)
