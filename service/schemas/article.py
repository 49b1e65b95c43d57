"""Articles as producers send them (`articles.raw`) and as newsflow publishes them."""

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ID_CHARS = 256
MAX_URL_CHARS = 4096
MAX_TITLE_CHARS = 2000
MAX_AUTHORS = 100


class RawArticle(BaseModel):
    """What a producer pushes onto `articles.raw`. Only `body` is required.

    Unknown top-level fields are ignored; put free-form data in `metadata`.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    body: str = Field(min_length=1, description="Article text, plain or HTML. Required.")
    id: str | None = Field(
        None, min_length=1, max_length=MAX_ID_CHARS, description="Producer's stable article id."
    )
    url: str | None = Field(None, min_length=1, max_length=MAX_URL_CHARS)
    source: str | None = Field(None, min_length=1, max_length=512)
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    published_at: datetime | None = Field(
        None, description="ISO 8601; a time without offset is taken as UTC."
    )
    language: str | None = Field(None, min_length=2, max_length=35, description="BCP 47 tag.")
    authors: list[str] = Field(default_factory=list, max_length=MAX_AUTHORS)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("published_at", mode="before")
    @classmethod
    def _iso_string_only(cls, value: Any) -> Any:
        # Numbers would be read as epoch seconds or milliseconds ambiguously: demand ISO 8601.
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO 8601 string, e.g. 2025-09-02T14:00:00Z")
        return value

    @field_validator("published_at")
    @classmethod
    def _assume_utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class SourceRef(BaseModel):
    """Where the raw message came from: enough to find it again on the raw topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


class DedupInfo(BaseModel):
    """The dedup decision on an enriched article: only originals reach `articles.enriched`."""

    status: Literal["unique"] = "unique"


class Mention(BaseModel):
    start: int = Field(description="Offset in `body` (characters).")
    end: int
    text: str


class EntityTag(BaseModel):
    """A knowledge-base entity the article mentions."""

    id: str = Field(description="Canonical id: a Wikidata QID where one exists, else a stable slug.")
    name: str
    type: Literal["PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION"]
    subtype: str
    count: int = Field(description="Mentions in the body, plus one when in the title.")
    mentions: list[Mention]
    in_title: bool
    designations: list[dict[str, Any]] = Field(description="e.g. [{list: FTO, effective: 2025-02-20}]")


class ThemeTag(BaseModel):
    id: str
    score: float = Field(description="0..1; weighted hits / (weighted hits + 3), title hits count double.")
    hits: int


class EnrichedArticle(BaseModel):
    """A valid, normalised article on `articles.enriched` (key = `id`).

    Later stages add `dedup`, `entities` and `themes`.
    """

    schema_version: int
    pipeline_version: str
    id: str
    id_source: Literal["producer", "url", "content"] = Field(
        description="How `id` was made: the producer's id, a hash of the canonical URL, "
        "or a hash of the normalised body."
    )
    url: str | None = Field(None, description="Canonical URL: no fragment or tracking parameters.")
    original_url: str | None = None
    source: str | None = None
    title: str
    title_from_body: bool = Field(description="True when the title is the body's first line.")
    body: str = Field(description="Normalised plain text; paragraphs separated by blank lines.")
    body_format: Literal["text", "html"]
    published_at: datetime | None = None
    language: str | None = None
    authors: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    word_count: int
    content_hash: str = Field(description="xxh3-128 hex of the normalised body.")
    received_at: datetime
    raw: SourceRef
    entities: list[EntityTag] = Field(default_factory=list)
    themes: list[ThemeTag] = Field(default_factory=list)
    unlinked: list[str] = Field(
        default_factory=list, description="Capitalised names not in the knowledge base, most frequent first."
    )
    dedup: DedupInfo | None = Field(None, description="Set once the dedup stage has seen it.")
