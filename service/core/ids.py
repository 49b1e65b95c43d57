"""Stable identifiers: the same input gives the same id on every machine and version."""

import xxhash


def content_hash(text: str) -> str:
    """xxh3-128 hex digest of UTF-8 text."""
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))


def bytes_hash(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def article_id(producer_id: str | None, canonical_url: str | None, body: str) -> tuple[str, str]:
    """The article id and how it was made: the producer's id, else URL hash, else body hash."""
    if producer_id:
        return producer_id, "producer"
    if canonical_url:
        return "u-" + content_hash(canonical_url), "url"
    return "c-" + content_hash(body), "content"


def dead_letter_id(raw: bytes) -> str:
    """Id for a message whose own id could not be read."""
    return "raw-" + bytes_hash(raw)
