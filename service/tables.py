"""Each table, declared once.

The dedup index keeps one durable record per article in a Faust table (RocksDB + changelog):
one changelog write per article. Its lookup structures (LSH buckets, exact keys, time buckets)
are derived from those records into local RocksDB and rebuilt after every rebalance, because
writing them to changelogs cost ~35 writes per article and capped the stage at ~200 articles/s.
"""

import faust

from service.app import app, settings
from service.local_state import LocalMapping

_JSON = faust.Schema(key_serializer="json", value_serializer="json")
_MIB = 1024 * 1024
# Faust's RocksDB defaults (3 x 64 MiB memtables and a 2 GiB block cache per table) let the
# worker's RSS grow with its state for gigabytes; state is meant to live on disk (the OS page
# cache, outside RSS, holds the files). These bound each store's RAM whatever the retention
# window holds: the docs store 32 MiB, each alert store 16 MiB (their values are few and small).
# With 64 MiB caches and 2 x 16 MiB memtables on every store, RSS grew from 460 to 930 MB over a
# 120k-article drain; with half of that, to a plateau of ~700 MB reached after 100k.
_ROCKSDB = {"write_buffer_size": 8 * _MIB, "max_write_buffer_number": 2, "block_cache_size": 16 * _MIB}
_SMALL_ROCKSDB = {"write_buffer_size": 4 * _MIB, "max_write_buffer_number": 2, "block_cache_size": 8 * _MIB}
# Set when Faust creates a changelog topic (see Settings.changelog_segment_bytes).
_CHANGELOG = {"segment.bytes": str(settings.changelog_segment_bytes)}

# One partition, like the dedup request topic the table is co-partitioned with.
dedup_docs = app.Table("dedup-docs", partitions=1, schema=_JSON, options=dict(_ROCKSDB),
                       extra_topic_configs=dict(_CHANGELOG), help="article id -> decision, sketch, time")

# Alert state lives beside the index, in the same serialised step (one partition).
# A group's evidence and open alert are one record, written once per decision (see
# service/core/rules/alerts.py: two tables let a crash keep one without the other).
alert_groups = app.Table("alert-groups", partitions=1, schema=_JSON, options=dict(_SMALL_ROCKSDB),
                         extra_topic_configs=dict(_CHANGELOG), help="rule/group -> recent evidence and open alert")
alert_stories = app.Table("alert-stories", partitions=1, schema=_JSON, options=dict(_SMALL_ROCKSDB),
                          extra_topic_configs=dict(_CHANGELOG), help="original id -> its rule matches")

_DERIVED = settings.data_dir / f"{settings.app_id}-data" / "dedup-derived"
dedup_buckets = LocalMapping(_DERIVED / "buckets")
dedup_exact = LocalMapping(_DERIVED / "exact")
dedup_times = LocalMapping(_DERIVED / "times")
