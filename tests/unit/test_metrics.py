"""The metrics module on fresh registries: scrape-time readings, lag, bounded entity series."""

import subprocess
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.core.dedup import DEFAULT_CONFIG, DedupIndex, fingerprint
from service.metrics import OTHER, EntityMentions, Metrics, ScrapedGauge, disk_bytes, partition_lag
from tests.support.tools import require_tool


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


STAGES = {"raw": "ingest", "dedup-requests": "dedup"}


@pytest.mark.parametrize(
    ("case", "highwater", "committed", "expected"),
    [
        ("behind", 120, 100, 20),
        ("caught up", 100, 100, 0),
        ("nothing committed yet: from offset 0", 50, None, 50),
        ("no fetch answered yet: no reading", None, 10, None),
        ("transactional last stable offset below the commit", 90, 100, 0),
    ],
)
def test_partition_lag(case, highwater, committed, expected):
    tp = TP("raw", 3)
    readings = list(partition_lag(STAGES, [tp], lambda _: highwater, {tp: committed}))
    assert readings == ([] if expected is None else [(("ingest", "raw", "3"), expected)])


def test_partition_lag_leaves_out_changelogs_and_sorts():
    assigned = [TP("raw", 1), TP("nf-dedup-docs-changelog", 0), TP("dedup-requests", 0), TP("raw", 0)]
    readings = partition_lag(STAGES, assigned, lambda tp: 10, {})
    assert [labels for labels, _ in readings] == [
        ("dedup", "dedup-requests", "0"), ("ingest", "raw", "0"), ("ingest", "raw", "1"),
    ]


def families(registry: CollectorRegistry) -> dict:
    return {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}


def test_scraped_gauge_reports_what_it_reads_and_nothing_when_reading_fails(caplog):
    registry = CollectorRegistry()
    gauge = ScrapedGauge("test_things", "Things.", ["kind"], registry)
    assert families(registry)["test_things"].samples == []
    gauge.read_from(lambda: [(("a",), 2), (("b",), 3)])
    assert [(s.labels, s.value) for s in families(registry)["test_things"].samples] == [
        ({"kind": "a"}, 2), ({"kind": "b"}, 3),
    ]

    def broken():
        yield ("a",), 1
        raise RuntimeError("consumer gone")

    gauge.read_from(broken)
    assert families(registry)["test_things"].samples == []
    assert "reading test_things failed" in caplog.text


def test_scraped_gauge_names_collide_like_any_metric():
    registry = CollectorRegistry()
    ScrapedGauge("test_things", "Things.", [], registry)
    with pytest.raises(ValueError, match="Duplicated"):
        ScrapedGauge("test_things", "Again.", [], registry)


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: str


def test_entity_series_are_bounded_and_the_rest_count_as_other():
    registry = CollectorRegistry()
    counter = EntityMentions(registry, limit=2)
    for entity_id in ["a", "b", "c", "a", "d"]:
        counter.inc(entity_id, entity_id.upper(), "PERSON")
    found = {s.labels["entity"]: s.value for s in families(registry)["newsflow_entity_mentions"].samples}
    assert found == {"a": 2, "b": 1, OTHER: 2}


@pytest.mark.parametrize(("kb_size", "created"), [(3, 3), (4, 0)])
def test_a_knowledge_base_under_the_limit_gets_its_series_at_zero(kb_size, created):
    registry = CollectorRegistry()
    counter = EntityMentions(registry, limit=3)
    counter.track([Entity(f"Q{n}", f"Name {n}", "LOCATION") for n in range(kb_size)])
    samples = families(registry)["newsflow_entity_mentions"].samples
    assert len(samples) == created and all(s.value == 0 for s in samples)


def test_disk_bytes_counts_files_under_each_path(tmp_path):
    (tmp_path / "store" / "sub").mkdir(parents=True)
    (tmp_path / "store" / "a.sst").write_bytes(b"x" * 100)
    (tmp_path / "store" / "sub" / "b.log").write_bytes(b"x" * 20)
    (tmp_path / "single").write_bytes(b"x" * 7)
    assert disk_bytes([tmp_path / "store", tmp_path / "single", tmp_path / "missing"]) == 127


def test_dedup_index_counts_its_articles_once_it_has_counted_the_stored_ones():
    docs: dict = {}
    index = DedupIndex({}, docs, {}, {}, DEFAULT_CONFIG)
    index.check_and_insert(fingerprint("a", "alpha beta gamma delta epsilon zeta", "https://x.example/a"), 1000.0)
    assert index.articles is None, "not counted before a rebuild: a table may already hold articles"
    assert index.rebuild_derived() == 1 and index.articles == 1
    index.check_and_insert(fingerprint("b", "one two three four five six seven", "https://x.example/b"), 1000.0)
    index.check_and_insert(fingerprint("b", "one two three four five six seven", "https://x.example/b"), 1000.0)
    assert index.articles == 2 == len(docs)
    index.expire(1000.0 + DEFAULT_CONFIG.retention_seconds + 2 * DEFAULT_CONFIG.time_bucket_seconds)
    assert index.articles == 0 == len(docs)


def test_a_fresh_registry_passes_promtool_and_every_family_is_documented():
    promtool = require_tool("promtool")
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    metrics.consumer_lag.read_from(lambda: [(("ingest", "articles.raw", "0"), 4)])
    metrics.dedup_index_entries.read_from(lambda: [((), 10)])
    metrics.entity_mentions.inc("Q30", "United States", "LOCATION")
    text = generate_latest(registry).decode()
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr
    found = families(registry)
    assert all(f.documentation for f in found.values())
    assert all(name.startswith(("newsflow_", "process_")) for name in found)
    # Known label values exist from the start, so rate() and ratios see the first events.
    outcomes = {(s.labels["stage"], s.labels["outcome"]) for s in found["newsflow_messages_out"].samples}
    assert outcomes == {("ingest", "valid"), ("ingest", "invalid"), ("dedup", "enriched"),
                        ("dedup", "duplicate"), ("dedup", "invalid")}
    assert {s.labels["reason"] for s in found["newsflow_invalid"].samples} >= {"not_json", "internal_error"}


def test_rule_series_exist_once_rules_load():
    from service.core.rules import parse_rules

    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    rules = parse_rules(
        "rules:\n  - id: r1\n    name: R\n    severity: critical\n    when: {all: [{keyword: [strike]}]}\n",
        lambda name: None, [],
    )
    metrics.create_rule_series(rules)
    alerts = {(s.labels["rule"], s.labels["severity"], s.labels["status"]): s.value
              for s in families(registry)["newsflow_alerts"].samples}
    assert alerts == {("r1", "critical", "firing"): 0, ("r1", "critical", "updated"): 0}
