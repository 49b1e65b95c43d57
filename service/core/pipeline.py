"""The per-article work before the serialised dedup step: it scales with raw partitions."""

from datetime import datetime
from typing import Any, NamedTuple

from service.core.alert_stage import match_records
from service.core.dedup import DEFAULT_CONFIG, DedupConfig
from service.core.dedup_stage import dedup_request
from service.core.ingest import Limits, ingest
from service.core.rules import RuleSet
from service.core.tagging import Tagger
from service.schemas.article import EnrichedArticle, SourceRef
from service.schemas.dead_letter import DeadLetter


def enrich(article: EnrichedArticle, tagger: Tagger, config: DedupConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """The dedup request for `article`, its article carrying entities, themes and unlinked names."""
    request = dedup_request(article, config)
    tags = tagger.tag(article.title, article.body)
    request["article"].update(entities=tags.entities, themes=tags.themes, unlinked=tags.unlinked)
    return request


class Prepared(NamedTuple):
    """One raw message after the parallel stages: a dedup request (with the rules it matched
    under "rules") or, for a message that is no article, its dead letter."""

    request: dict[str, Any] | None
    dead: DeadLetter | None


def prepare(
    value: bytes | None,
    key: bytes | None,
    source: SourceRef,
    received_at: datetime,
    limits: Limits,
    tagger: Tagger,
    rules: RuleSet,
    config: DedupConfig = DEFAULT_CONFIG,
) -> Prepared:
    """Validate, normalise, fingerprint, tag and match one raw message. Never raises for bad input."""
    outcome = ingest(value, key, source, received_at, limits)
    if outcome.article is None:
        return Prepared(None, outcome.dead)
    request = enrich(outcome.article, tagger, config)
    request["rules"] = match_records(rules, request["article"])
    return Prepared(request, None)
