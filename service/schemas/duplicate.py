"""Duplicate records on `articles.duplicates` (key = the duplicate's id)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.schemas.article import SourceRef


class DuplicateEvent(BaseModel):
    schema_version: int
    pipeline_version: str
    id: str = Field(description="The duplicate article's id.")
    duplicate_of: str = Field(description="Id of the original: the first copy seen, in stream order.")
    kind: Literal["exact", "near"] = Field(
        description="exact: same canonical URL or same normalised text; near: a syndicated copy."
    )
    similarity: float = Field(
        description="Estimated containment of the smaller text in the larger (1.0 for exact)."
    )
    source: str | None = None
    url: str | None = None
    title: str
    published_at: datetime | None = None
    detected_at: datetime
    raw: SourceRef
