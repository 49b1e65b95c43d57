"""Raw message bytes in, a valid normalised article or a dead letter out.

`ingest` is the one function the agent, the tests and the benchmarks call.
"""

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from service import __version__, codec
from service.core.ids import article_id, content_hash, dead_letter_id
from service.core.normalize import (
    InvalidURL,
    canonical_url,
    normalize_body,
    normalize_title,
    title_from_body,
)
from service.schemas import SCHEMA_VERSION
from service.schemas.article import MAX_ID_CHARS, EnrichedArticle, RawArticle, SourceRef
from service.schemas.dead_letter import DeadLetter, ErrorDetail, FieldError, OriginalMessage


@dataclass(frozen=True)
class Limits:
    max_article_bytes: int = 2 * 1024 * 1024
    max_json_depth: int = 32
    dead_letter_max_original_bytes: int = 1024 * 1024


# Dead letters for internal errors carry their input in full up to the default limit.
LIMITS_FOR_BUGS = Limits()
# An id becomes a message key and shows up in logs, where a NUL or a newline does harm.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Rejected(Exception):
    """Raised inside ingest to turn into a dead letter; carries the error detail."""

    def __init__(self, detail: ErrorDetail, article_id: str | None = None) -> None:
        super().__init__(detail.message)
        self.detail = detail
        self.article_id = article_id


def _reject(code: str, message: str, fields: list[FieldError] | None = None, article_id: str | None = None) -> Rejected:
    return Rejected(ErrorDetail(code=code, message=message, fields=fields or []), article_id)


def json_depth(value: Any, limit: int) -> int:
    """Levels of nested objects/arrays in a parsed JSON value (a scalar is 0), stopping past `limit`."""
    depth = 0
    level = [value] if isinstance(value, (dict, list)) else []
    while level:
        depth += 1
        if depth > limit:
            return depth
        nxt: list[Any] = []
        for v in level:
            children = v.values() if isinstance(v, dict) else v
            nxt.extend(c for c in children if isinstance(c, (dict, list)))
        level = nxt
    return depth


def _usable_id(value: Any) -> str | None:
    """The producer's id for a dead letter, when it would pass as an article's id."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not 0 < len(value) <= MAX_ID_CHARS or _CONTROL_CHARS.search(value):
        return None
    return value


def _field_errors(err: ValidationError) -> list[FieldError]:
    return [
        FieldError(field=".".join(str(p) for p in e["loc"]) or "(root)", message=e["msg"], type=e["type"])
        for e in err.errors(include_url=False, include_input=False)
    ]


def _classify(fields: list[FieldError]) -> tuple[str, str]:
    body_errors = [f for f in fields if f.field == "body"]
    if body_errors and body_errors[0].type == "missing":
        return "missing_body", "the required field `body` is missing"
    if body_errors and body_errors[0].type == "string_too_short":
        return "empty_body", "`body` is empty"
    listed = "; ".join(f"`{f.field}`: {f.message}" for f in fields[:5])
    return "invalid_fields", f"{len(fields)} field(s) have the wrong type or value: {listed}"


def parse_raw(value: bytes | None, limits: Limits) -> RawArticle:
    """Validate raw bytes into a `RawArticle`; raises `Rejected` with a reason a person reads."""
    if not value:
        raise _reject("empty_message", "the message has no value")
    if len(value) > limits.max_article_bytes:
        raise _reject(
            "too_large",
            f"the message is {len(value):,} bytes, over the limit of {limits.max_article_bytes:,} "
            "(NEWSFLOW_MAX_ARTICLE_BYTES)",
        )
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _reject("not_utf8", f"the message is not UTF-8 text: invalid byte at position {e.start}") from e
    try:
        data = codec.loads(value)
    except codec.JSONDecodeError as e:
        if "depth limit" in str(e) or "recursion" in str(e):
            raise _reject("too_deeply_nested", "the JSON is nested too deeply") from e
        raise _reject("not_json", f"the message is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise _reject("not_an_object", f"the message must be a JSON object, got a JSON {type(data).__name__}")
    producer_id = _usable_id(data.get("id"))
    if json_depth(data, limits.max_json_depth) > limits.max_json_depth:
        raise _reject(
            "too_deeply_nested",
            f"the JSON is nested deeper than {limits.max_json_depth} levels (NEWSFLOW_MAX_JSON_DEPTH)",
            article_id=producer_id,
        )
    try:
        raw = RawArticle.model_validate(data)
    except ValidationError as e:
        fields = _field_errors(e)
        code, message = _classify(fields)
        raise _reject(code, message, fields, article_id=producer_id) from e
    if raw.id is not None and _CONTROL_CHARS.search(raw.id):
        field = FieldError(field="id", message="control characters (NUL, newline, ...) are not allowed", type="control_characters")
        raise _reject("invalid_fields", f"`id`: {field.message}", [field])
    return raw


def normalize_article(raw: RawArticle, source: SourceRef, received_at: datetime, limits: Limits) -> EnrichedArticle:
    """The normalised article; raises `Rejected` when nothing readable is left."""
    body, body_format = normalize_body(raw.body)
    if not body:
        raise _reject("empty_body", "`body` has no visible text after normalisation", article_id=raw.id)
    body_bytes = len(body.encode("utf-8", "surrogatepass"))
    if body_bytes > limits.max_article_bytes:
        # Unicode normalisation can expand text many times (one ligature → 18 letters).
        raise _reject(
            "too_large",
            f"the body grew to {body_bytes:,} bytes after Unicode normalisation, over the limit of "
            f"{limits.max_article_bytes:,} (NEWSFLOW_MAX_ARTICLE_BYTES)",
            article_id=raw.id,
        )
    url = None
    if raw.url:
        try:
            url = canonical_url(raw.url)
        except InvalidURL as e:
            field = FieldError(field="url", message=str(e), type="url_parsing")
            raise _reject("invalid_fields", f"`url`: {e}", [field], article_id=raw.id) from e
    title = normalize_title(raw.title) if raw.title else ""
    art_id, id_source = article_id(raw.id, url, body)
    return EnrichedArticle(
        schema_version=SCHEMA_VERSION,
        pipeline_version=__version__,
        id=art_id,
        id_source=id_source,
        url=url,
        original_url=raw.url,
        source=raw.source,
        title=title or title_from_body(body),
        title_from_body=not title,
        body=body,
        body_format=body_format,
        published_at=raw.published_at,
        language=raw.language,
        authors=[a for a in (normalize_title(a) for a in raw.authors) if a],
        metadata=raw.metadata,
        word_count=len(body.split()),
        content_hash=content_hash(body),
        received_at=received_at,
        raw=source,
    )


def _text_or_base64(data: bytes, limit: int) -> tuple[str, str, bool]:
    truncated = len(data) > limit
    data = data[:limit]
    try:
        return data.decode("utf-8"), "utf-8", truncated
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64", truncated


def dead_letter(
    rejected: Rejected, value: bytes | None, key: bytes | None, source: SourceRef, received_at: datetime, limits: Limits
) -> DeadLetter:
    """The dead letter for a rejected message, carrying (up to a limit) its original bytes."""
    value = value or b""
    data, encoding, truncated = _text_or_base64(value, limits.dead_letter_max_original_bytes)
    key_text, key_encoding = (None, None)
    if key is not None:
        key_text, key_encoding, _ = _text_or_base64(key, 4096)
    return DeadLetter(
        schema_version=SCHEMA_VERSION,
        pipeline_version=__version__,
        id=rejected.article_id or dead_letter_id(value),
        error=rejected.detail,
        original=OriginalMessage(
            encoding=encoding,
            data=data,
            size_bytes=len(value),
            truncated=truncated,
            key=key_text,
            key_encoding=key_encoding,
        ),
        raw=source,
        received_at=received_at,
    )


@dataclass(frozen=True)
class Outcome:
    """Where a raw message goes: `kind` is "enriched" or "invalid"."""

    kind: str
    article: EnrichedArticle | None = None
    dead: DeadLetter | None = None

    @property
    def id(self) -> str:
        return self.article.id if self.article else self.dead.id  # type: ignore[union-attr]


def ingest(
    value: bytes | None, key: bytes | None, source: SourceRef, received_at: datetime, limits: Limits
) -> Outcome:
    """Validate and normalise one raw message. Never raises for bad input."""
    try:
        article = normalize_article(parse_raw(value, limits), source, received_at, limits)
    except Rejected as r:
        return Outcome("invalid", dead=dead_letter(r, value, key, source, received_at, limits))
    return Outcome("enriched", article=article)
