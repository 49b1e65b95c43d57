"""Every Prometheus metric newsflow exports, declared together on one explicit registry.

Faust's own sensor is not on this registry: its names break Prometheus conventions
(milliseconds, `_ms` suffixes) that `promtool check metrics` rejects, so `service.web` serves
it apart, at /metrics/faust, under the `faust_` prefix.
"""

import logging
import platform
from functools import cache
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, get_args

from prometheus_client import (
    CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector, disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service import __version__
from service.core.rules import Rule
from service.core.tagging.kb import EntityType
from service.schemas.dead_letter import ErrorCode

log = logging.getLogger(__name__)

# `_created` series double the scrape size and no dashboard of ours reads them.
disable_created_metrics()

# Per-article work is sub-millisecond to tens of milliseconds; the tail matters more than the mean.
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# End-to-end latency includes broker hops, commit intervals and backlogs: up to minutes.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)

# Label values known in advance get a series at start, so rates and ratios read 0, not "no data".
STAGES = ("ingest", "dedup")
OUTCOMES = {"ingest": ("valid", "invalid"), "dedup": ("enriched", "duplicate", "invalid")}
DUPLICATE_KINDS = ("exact", "near")
RELOAD_RESULTS = ("loaded", "rejected")
ALERT_STATUSES = ("firing", "updated")
ALERTMANAGER_RESULTS = ("ok", "rejected", "failed")

# A knowledge base can hold 100k entities; one series each would swamp Prometheus.
MAX_ENTITY_SERIES = 2000
OTHER = "other"

Reading = Iterable[tuple[Sequence[str], float]]


class TopicPartition(Protocol):
    topic: str
    partition: int


def partition_lag(
    stage_of_topic: Mapping[str, str],
    assigned: Iterable[TopicPartition],
    highwater: Callable[[TopicPartition], int | None],
    committed: Mapping[TopicPartition, int | None],
) -> Reading:
    """Consumer lag readings, ((stage, topic, partition), messages), of the assigned partitions
    of the stages' source topics. Changelog partitions are left out: tables track those offsets
    themselves. A partition no fetch has answered yet has no highwater and no reading; one
    without a commit counts from offset 0, where a new group starts (earliest)."""
    for tp in sorted(assigned, key=lambda tp: (tp.topic, tp.partition)):
        stage = stage_of_topic.get(tp.topic)
        end = highwater(tp) if stage is not None else None
        if end is not None:
            yield (stage, tp.topic, str(tp.partition)), max(0, end - (committed.get(tp) or 0))


def disk_bytes(paths: Iterable[Path]) -> int:
    """Bytes of the files under each path (a file or a directory); missing paths count 0."""
    total = 0
    for path in paths:
        for file in [path, *path.rglob("*")] if path.is_dir() else [path]:
            try:
                if file.is_file():
                    total += file.stat().st_size
            except FileNotFoundError:
                # RocksDB deletes files as it compacts, between the listing and the stat.
                continue
    return total


class ScrapedGauge(Collector):
    """A gauge computed when scraped, for state another object owns (offsets, index size).

    `read()` yields (label values, value) pairs. Yielding nothing means "not known on this
    worker" (e.g. a partition it does not own), so sums over workers stay right.
    """

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self._read: Callable[[], Reading] = lambda: ()
        registry.register(self)

    def read_from(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        try:
            samples = list(self._read())
        except Exception:
            # A failed reading must not fail the whole scrape: the worker would look down.
            log.exception("reading %s failed", self.name)
            samples = []
        for labels, value in samples:
            family.add_metric([str(v) for v in labels], value)
        return [family]


class EntityMentions:
    """Mentions per entity with bounded cardinality: at most `limit` entities get a series each,
    the others are counted under entity="other".

    A knowledge base that fits under the limit gets all its series at 0 when loaded, because
    increase() misses a series' first value: an entity's first mention would not count. A larger
    one gets series for the first entities mentioned, first mentions not seen by increase().
    """

    def __init__(self, registry: CollectorRegistry, limit: int = MAX_ENTITY_SERIES) -> None:
        self.counter = Counter(
            "newsflow_entity_mentions_total",
            f"Valid articles (reprints included) mentioning an entity, by KB id, name and type (at most {limit} entities; "
            f'the rest as entity="{OTHER}").',
            ["entity", "name", "type"],
            registry=registry,
        )
        self.limit = limit
        self._tracked: set[str] = set()

    def track(self, entities: Iterable[Any]) -> None:
        """Create the series of a knowledge base's entities (with `id`, `name`, `type`), if they fit."""
        entities = list(entities)
        if len(self._tracked | {e.id for e in entities}) > self.limit:
            return
        for e in entities:
            self._tracked.add(e.id)
            self.counter.labels(e.id, e.name, e.type)

    def inc(self, entity_id: str, name: str, entity_type: str) -> None:
        if entity_id not in self._tracked and len(self._tracked) < self.limit:
            self._tracked.add(entity_id)
        if entity_id in self._tracked:
            child(self.counter, entity_id, name, entity_type).inc()
        else:
            child(self.counter, OTHER, OTHER, entity_type).inc()


@cache
def child(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once: `labels` validates and locks on every call,
    which cost the agents ~2 µs per call and tens of calls per article. Only for label values
    from bounded sets (stages, outcomes, codes, rule ids, entities under the series limit)."""
    return metric.labels(*values)


@dataclass(frozen=True)
class Metrics:
    messages_in: Counter
    messages_out: Counter
    invalid: Counter
    duplicates: Counter
    stage_seconds: Histogram
    raw_fetch_holds: Counter
    end_to_end_seconds: Histogram
    article_size_bytes: Histogram
    entities_tagged: Counter
    entity_mentions: EntityMentions
    kb_entities: Gauge
    kb_reloads: Counter
    alerts: Counter
    rules_loaded: ScrapedGauge
    rule_reloads: Counter
    alert_failures: Counter
    alertmanager_posts: Counter
    alertmanager_alerts: Counter
    alertmanager_dropped: Counter
    alertmanager_active: Gauge
    consumer_lag: ScrapedGauge
    dedup_index_entries: ScrapedGauge
    dedup_index_bytes: ScrapedGauge
    build: Info
    registry: CollectorRegistry

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "Metrics":
        # The standard process_* families (memory, CPU, open files, start time).
        ProcessCollector(registry=registry)
        build = Info("newsflow_build", "Version of newsflow and of its Kafka and Faust libraries.", registry=registry)
        build.info(_versions())
        metrics = cls(
            messages_in=Counter(
                "newsflow_messages_in_total", "Messages consumed, by stage.", ["stage"], registry=registry
            ),
            messages_out=Counter(
                "newsflow_messages_out_total",
                "Messages published, by stage and outcome (ingest: valid|invalid; "
                "dedup: enriched|duplicate|invalid).",
                ["stage", "outcome"],
                registry=registry,
            ),
            invalid=Counter(
                "newsflow_invalid_total", "Messages sent to dead letters (articles.invalid), by reason.",
                ["reason"], registry=registry,
            ),
            duplicates=Counter(
                "newsflow_duplicates_total", "Articles published as duplicates, by kind (exact or near).",
                ["kind"], registry=registry,
            ),
            stage_seconds=Histogram(
                "newsflow_stage_processing_seconds", "Processing time of one message, by stage.",
                ["stage"], buckets=_STAGE_BUCKETS, registry=registry,
            ),
            raw_fetch_holds=Counter(
                "newsflow_raw_fetch_holds", "Times this worker stopped fetching raw articles because its dedup agent "
                "had more than NEWSFLOW_DEDUP_MAX_BEHIND requests to take.", registry=registry,
            ),
            end_to_end_seconds=Histogram(
                "newsflow_end_to_end_latency_seconds",
                "From the raw message's timestamp to its outcome being sent, by outcome.",
                ["outcome"], buckets=_LATENCY_BUCKETS, registry=registry,
            ),
            article_size_bytes=Histogram(
                "newsflow_article_size_bytes", "Size of raw messages.", buckets=_SIZE_BUCKETS,
                registry=registry,
            ),
            entities_tagged=Counter(
                "newsflow_entities_tagged_total", "Entities linked in articles, by entity type.", ["type"],
                registry=registry,
            ),
            entity_mentions=EntityMentions(registry),
            kb_entities=Gauge("newsflow_knowledge_base_entities", "Entities in the loaded knowledge base.", registry=registry),
            kb_reloads=Counter(
                "newsflow_knowledge_base_reloads_total", "Knowledge base reloads, by result.", ["result"], registry=registry
            ),
            alerts=Counter(
                "newsflow_alerts_total", "Alert events sent, by rule, severity and status.",
                ["rule", "severity", "status"], registry=registry,
            ),
            rules_loaded=ScrapedGauge(
                "newsflow_rules_loaded", "Alert rules running, by where they came from (file or topic).",
                ["source"], registry,
            ),
            rule_reloads=Counter(
                "newsflow_rule_reloads_total", "Alert rule reloads, by result (rejected: the running rules stay).",
                ["result"], registry=registry,
            ),
            alert_failures=Counter(
                "newsflow_alert_failures_total", "Articles whose alert decisions failed (a bug; see the log).",
                registry=registry,
            ),
            alertmanager_posts=Counter(
                "newsflow_alertmanager_posts_total",
                "POSTs to Alertmanager, by result (ok; rejected: an error status; failed: no answer in time).",
                ["result"], registry=registry,
            ),
            alertmanager_alerts=Counter(
                "newsflow_alertmanager_alerts_sent_total",
                "Alerts in POSTs to Alertmanager, by state (active: new, updated or re-sent; resolved).",
                ["state"], registry=registry,
            ),
            alertmanager_dropped=Counter(
                "newsflow_alertmanager_dropped_total",
                "Alerts forgotten before their end because too many were active (Alertmanager still ends them).",
                registry=registry,
            ),
            alertmanager_active=Gauge(
                "newsflow_alertmanager_active_alerts", "Alerts this worker re-sends to Alertmanager until they end.",
                registry=registry,
            ),
            consumer_lag=ScrapedGauge(
                "newsflow_consumer_lag_messages",
                "Messages not yet committed by this worker's consumer group: highwater minus committed "
                "offset, per assigned partition.",
                ["stage", "topic", "partition"], registry,
            ),
            dedup_index_entries=ScrapedGauge(
                "newsflow_dedup_index_entries",
                "Articles the dedup index remembers (only on the worker that owns it, once rebuilt).",
                [], registry,
            ),
            dedup_index_bytes=ScrapedGauge(
                "newsflow_dedup_index_bytes",
                "Disk used by the dedup index: its stored articles and derived lookups.",
                [], registry,
            ),
            build=build,
            registry=registry,
        )
        metrics._create_known_series()
        return metrics

    def _create_known_series(self) -> None:
        for stage in STAGES:
            self.messages_in.labels(stage)
            self.stage_seconds.labels(stage)
            for outcome in OUTCOMES[stage]:
                self.messages_out.labels(stage, outcome)
        for outcome in OUTCOMES["dedup"]:
            self.end_to_end_seconds.labels(outcome)
        for kind in DUPLICATE_KINDS:
            self.duplicates.labels(kind)
        for result in RELOAD_RESULTS:
            self.kb_reloads.labels(result)
            self.rule_reloads.labels(result)
        for reason in get_args(ErrorCode):
            self.invalid.labels(reason)
        for result in ALERTMANAGER_RESULTS:
            self.alertmanager_posts.labels(result)
        for entity_type in get_args(EntityType):
            self.entities_tagged.labels(entity_type)

    def create_rule_series(self, rules: Iterable[Rule]) -> None:
        """Alert series of newly loaded rules at 0: increase() misses a series' first value, so
        a rule's first alert would not show in "alerts by rule" otherwise."""
        for rule in rules:
            for status in ALERT_STATUSES:
                self.alerts.labels(rule.id, rule.severity, status)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"version": __version__, "python_version": platform.python_version()}
    for dist in ("faust-streaming", "aiokafka"):
        try:
            out[f"{dist.replace('-', '_')}_version"] = version(dist)
        except PackageNotFoundError:
            out[f"{dist.replace('-', '_')}_version"] = "unknown"
    return out


REGISTRY = CollectorRegistry()
METRICS = Metrics.create(REGISTRY)
