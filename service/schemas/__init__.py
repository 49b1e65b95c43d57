"""Payload models of every topic. `newsflow schemas` prints their JSON Schemas."""

from service.schemas.alert import AlertEvent
from service.schemas.article import DedupInfo, EnrichedArticle, RawArticle, SourceRef
from service.schemas.dead_letter import DeadLetter, ErrorDetail, FieldError, OriginalMessage
from service.schemas.duplicate import DuplicateEvent

SCHEMA_VERSION = 1

TOPIC_MODELS = {
    "articles.raw": RawArticle,
    "articles.enriched": EnrichedArticle,
    "articles.duplicates": DuplicateEvent,
    "articles.invalid": DeadLetter,
    "alerts": AlertEvent,
}

__all__ = [
    "SCHEMA_VERSION",
    "AlertEvent",
    "TOPIC_MODELS",
    "DeadLetter",
    "DedupInfo",
    "DuplicateEvent",
    "EnrichedArticle",
    "ErrorDetail",
    "FieldError",
    "OriginalMessage",
    "RawArticle",
    "SourceRef",
]
