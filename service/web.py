"""The worker's own pages (Prometheus metrics, liveness, readiness) and what /metrics reads
from the worker's state when scraped."""

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from service import tables, topics
from service.agents import dedup
from service.agents.ingest import RULEBOOK
from service.app import app, highwater
from service.metrics import METRICS, REGISTRY, disk_bytes, partition_lag

# Faust's own sensor, on a registry and page of its own (see service.metrics for why).
FAUST_REGISTRY = CollectorRegistry()
app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(FAUST_REGISTRY, "faust"))

STAGE_OF_TOPIC = {topics.raw.get_topic_name(): "ingest", topics.dedup_requests.get_topic_name(): "dedup"}


def _consumer_lag():
    # Faust keeps the committed offsets it read at assignment and wrote since; asking the
    # broker on every scrape would cost a round trip per partition.
    return partition_lag(STAGE_OF_TOPIC, app.consumer.assignment(), highwater, app.consumer._committed_offset)


def _dedup_entries():
    articles = dedup.index_size()
    return [] if articles is None else [((), articles)]


def _dedup_bytes():
    stores = [tables.dedup_docs.data.partition_path(0), tables.dedup_buckets.path.parent]
    return [((), disk_bytes(stores))]


def _rules_loaded():
    rules = RULEBOOK.rules
    return [] if rules is None else [(("topic" if RULEBOOK.from_topic else "file",), len(rules.rules))]


METRICS.consumer_lag.read_from(_consumer_lag)
METRICS.dedup_index_entries.read_from(_dedup_entries)
METRICS.dedup_index_bytes.read_from(_dedup_bytes)
METRICS.rules_loaded.read_from(_rules_loaded)


@app.page("/metrics")
async def metrics(web, request):
    return web.bytes(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


@app.page("/metrics/faust")
async def faust_metrics(web, request):
    return web.bytes(generate_latest(FAUST_REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


@app.page("/healthz")
async def healthz(web, request):
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web, request):
    assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
    recovered = app.tables.recovery.completed.is_set()
    ready = bool(assigned) and recovered and not app.rebalancing
    body = {"ready": ready, "assigned": assigned, "recovery_done": recovered, "rebalancing": app.rebalancing}
    return web.json(body, status=200 if ready else 503)
