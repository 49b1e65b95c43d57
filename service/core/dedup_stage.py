"""The dedup stage: fingerprint where it scales, decide where it is serialised, shape the outcome.

`dedup_request` runs in the ingest agent (parallel over raw partitions); `decide` runs in the
single-partition dedup agent and only touches the index and dicts, so the serialised step stays cheap.
"""

from datetime import datetime
from typing import Any

from service import __version__
from service.core.dedup import DEFAULT_CONFIG, DedupConfig, DedupIndex, Fingerprint, fingerprint
from service.schemas import SCHEMA_VERSION
from service.schemas.article import EnrichedArticle


def article_time(article: EnrichedArticle) -> float:
    """Epoch seconds the index files the article under: its raw record's Kafka timestamp.

    Not `published_at`: feeds get it wrong or leave it out, and a backfill of old stories
    would expire each other. The record time is fixed in the log, so replaying the raw topic
    gives the same decisions; only records without one fall back to the arrival time.
    """
    if article.raw.timestamp_ms is not None:
        return article.raw.timestamp_ms / 1000
    return article.received_at.timestamp()


def dedup_request(article: EnrichedArticle, config: DedupConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """The message from ingest to the dedup step: the article, its fingerprint and its time."""
    fp = fingerprint(article.id, article.body, article.url, config)
    return {"article": article.model_dump(mode="json"), "fingerprint": fp.as_dict(), "time": article_time(article)}


def decide(index: DedupIndex, request: dict[str, Any], detected_at: datetime) -> tuple[str, dict[str, Any]]:
    """("enriched", the article marked unique) or ("duplicates", a duplicate record).

    Inserts the article into the index and expires entries older than the retention window
    measured from this article's time.
    """
    fp = Fingerprint.from_dict(request["fingerprint"])
    now = float(request["time"])
    decision = index.check_and_insert(fp, now)
    index.expire(now)
    article = request["article"]
    if decision.status == "unique":
        return "enriched", {**article, "dedup": {"status": "unique"}}
    return "duplicates", {
        "schema_version": SCHEMA_VERSION,
        "pipeline_version": __version__,
        "id": article["id"],
        "duplicate_of": decision.duplicate_of,
        "kind": decision.kind,
        "similarity": decision.similarity,
        "source": article.get("source"),
        "url": article.get("url"),
        "title": article["title"],
        "published_at": article.get("published_at"),
        "detected_at": detected_at.isoformat(),
        "raw": article["raw"],
    }
