"""The worker's own pages: Prometheus metrics, liveness, readiness."""

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.app import app
from service.metrics import REGISTRY


@app.page("/metrics")
async def metrics(web, request):
    return web.bytes(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


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
