"""Dead letters on `articles.invalid` (key = the raw message's key)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.schemas.article import SourceRef

ErrorCode = Literal[
    "empty_message",
    "too_large",
    "not_utf8",
    "not_json",
    "too_deeply_nested",
    "not_an_object",
    "missing_body",
    "empty_body",
    "invalid_fields",
    "internal_error",
]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `authors.2`.")
    message: str
    type: str


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str = Field(description="What was wrong, for a person.")
    fields: list[FieldError] = Field(default_factory=list)


class OriginalMessage(BaseModel):
    encoding: Literal["utf-8", "base64"]
    data: str = Field(description="The original value (possibly truncated, see `truncated`).")
    size_bytes: int
    truncated: bool = False
    key: str | None = Field(None, description="Original key, UTF-8 text or base64.")
    key_encoding: Literal["utf-8", "base64"] | None = None


class DeadLetter(BaseModel):
    schema_version: int
    pipeline_version: str
    id: str = Field(
        description="The producer's id when it could be read, else `raw-` + a hash of the bytes."
    )
    error: ErrorDetail
    original: OriginalMessage
    raw: SourceRef
    received_at: datetime
