"""Each Faust table, declared once. State lives in RocksDB (rocksdict) with a changelog topic."""

import faust

from service.app import app

_JSON = faust.Schema(key_serializer="json", value_serializer="json")


def _index_table(name: str, help_text: str):
    # One partition, like the dedup request topic the table is co-partitioned with.
    return app.Table(name, partitions=1, schema=_JSON, help=help_text)


dedup_buckets = _index_table("dedup-buckets", "LSH band key -> ids of originals")
dedup_docs = _index_table("dedup-docs", "article id -> decision, sketch, time")
dedup_exact = _index_table("dedup-exact", "canonical URL / content key -> first article id")
dedup_times = _index_table("dedup-times", "time bucket -> article ids, for expiry")
