"""Payload models of every topic. `newsflow schemas` prints their JSON Schemas."""

from service.schemas.article import EnrichedArticle, RawArticle, SourceRef
from service.schemas.dead_letter import DeadLetter, ErrorDetail, FieldError, OriginalMessage

SCHEMA_VERSION = 1

TOPIC_MODELS = {
    "articles.raw": RawArticle,
    "articles.enriched": EnrichedArticle,
    "articles.invalid": DeadLetter,
}

__all__ = [
    "SCHEMA_VERSION",
    "TOPIC_MODELS",
    "DeadLetter",
    "EnrichedArticle",
    "ErrorDetail",
    "FieldError",
    "OriginalMessage",
    "RawArticle",
    "SourceRef",
]
