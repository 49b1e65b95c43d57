"""The per-article work before the serialised dedup step: it scales with raw partitions."""

from typing import Any

from service.core.dedup import DEFAULT_CONFIG, DedupConfig
from service.core.dedup_stage import dedup_request
from service.core.tagging import Tagger
from service.schemas.article import EnrichedArticle


def enrich(article: EnrichedArticle, tagger: Tagger, config: DedupConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """The dedup request for `article`, its article carrying entities, themes and unlinked names."""
    request = dedup_request(article, config)
    tags = tagger.tag(article.title, article.body)
    request["article"].update(entities=tags.entities, themes=tags.themes, unlinked=tags.unlinked)
    return request
