"""`newsflow bench worker`: drain a pre-loaded backlog through one real worker and time it.

Reports articles/s for the whole pipeline and the mean in-agent time of each stage, whose
inverse is that stage's capacity (the dedup stage is the one serialised step).
"""

import asyncio
import random
import re
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from service import codec
from service.admin import ensure_topics
from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.settings import Settings
from service.topic_names import TopicNames
from service.worker import WorkerProcess

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "articles" / "articles.jsonl"


def generate(count: int, dup_rate: float, seed: int) -> list[bytes]:
    """Articles of 150-600 words drawn from the seeds' vocabulary; `dup_rate` of them are
    reprints (truncated, with boilerplate) of an earlier article."""
    rng = random.Random(seed)
    words = sorted({w for line in SEEDS.read_text().splitlines() for w in re.findall(r"[A-Za-z]{3,}", codec.loads(line)["body"])})
    originals: list[str] = []
    out = []
    for i in range(count):
        if originals and rng.random() < dup_rate:
            body = rng.choice(originals).split()
            body = " ".join(body[: int(len(body) * rng.uniform(0.5, 1.0))]) + "\n\nSubscribe to our newsletter."
        else:
            body = " ".join(rng.choice(words) for _ in range(rng.randint(150, 600)))
            originals.append(body)
        out.append(codec.dumps({"id": f"bench-{seed}-{i}", "source": f"outlet{i % 40}.example", "body": body}))
    return out


def _stage_means(metrics_text: str) -> dict[str, float]:
    sums, counts = {}, {}
    for line in metrics_text.splitlines():
        m = re.match(r'newsflow_stage_processing_seconds_(sum|count)\{stage="(\w+)"\} (\S+)', line)
        if m:
            (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return {stage: sums[stage] / counts[stage] for stage in sums if counts.get(stage)}


def run(settings: Settings, count: int, dup_rate: float = 0.3, seed: int = 1) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={"topic_prefix": f"bench{tag}.", "app_id": f"bench-{tag}", "data_dir": settings.data_dir / f"bench-{tag}"}
    )
    names = TopicNames.from_settings(settings)
    asyncio.run(ensure_topics(settings))
    values = generate(count, dup_rate, seed)
    result = asyncio.run(push(settings, names.raw, [Item(str(i), v) for i, v in enumerate(values)]))
    worker = WorkerProcess(settings, settings.data_dir / "worker.log")
    try:
        worker.wait_ready()
        started = time.monotonic()
        log = asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=1800, check=worker.check))
        elapsed = time.monotonic() - started
        url = f"http://{settings.web_host}:{settings.web_port}/metrics"
        means = _stage_means(urllib.request.urlopen(url, timeout=5).read().decode())
        rss_mb = _rss_mb(worker.proc.pid)
    finally:
        worker.stop()
    per_topic: dict[str, int] = {}
    for topic, _, _ in log.first().values():
        per_topic[topic] = per_topic.get(topic, 0) + 1
    return {
        "articles": count,
        "seconds": round(elapsed, 2),
        "articles_per_second": round(count / elapsed, 1),
        "missing": len(log.missing),
        "outcomes": per_topic,
        "stage_mean_ms": {k: round(v * 1000, 3) for k, v in means.items()},
        "stage_capacity_per_second": {k: round(1 / v) for k, v in means.items() if v},
        "worker_rss_mb": rss_mb,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
