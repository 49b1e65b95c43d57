"""A backlog's outcomes come out while it is worked through, not after all of it was ingested.

Faust's conductor waited on the ingest agent's full stream buffer, and the dedup agent got only
the requests a poll happened to bring between raw messages (see service.faust_fixes): from a
backlog of COUNT messages the dedup agent's queue grew to nearly all of them. Now the two agents
take turns, and the dedup agent stays within a stream buffer of the ingest agent.
"""

import asyncio
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.generate import Generator
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames

COUNT = 6000
# Requests the ingest agent may be ahead: what the dedup agent's stream buffer holds before Faust
# stops fetching the partition (3,276 of 4,096), and the requests between two metric reads.
MAX_AHEAD = 3600


def _counts(settings) -> tuple[float, float]:
    """(requests the ingest agent sent, requests the dedup agent took) from the worker's /metrics."""
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    ingested = taken = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "newsflow_messages_out_total" and s.labels == {"stage": "ingest", "outcome": "valid"}:
                ingested = s.value
            elif s.name == "newsflow_messages_in_total" and s.labels == {"stage": "dedup"}:
                taken = s.value
    return ingested, taken


def test_the_dedup_agent_keeps_up_with_the_ingest_agent_through_a_backlog(settings_factory, start_worker, capsys):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    items = [Item(str(n), m.value, m.key) for n, m in enumerate(Generator(COUNT, 0.3, 0.05, seed=7).messages())]
    asyncio.run(ensure_topics(settings))
    pushed = asyncio.run(push(settings, names.raw, items))
    assert len(pushed.sent) == COUNT

    start_worker(settings)
    started = time.monotonic()
    ahead, deadline = [], started + 300
    while time.monotonic() < deadline:
        ingested, taken = _counts(settings)
        ahead.append(ingested - taken)
        if ingested > 0.9 * COUNT and taken >= ingested:
            break
        time.sleep(0.2)
    drained = time.monotonic() - started
    log = asyncio.run(collect_outcomes(settings, pushed.sent_positions, timeout=120, linger=1))
    with capsys.disabled():
        print(f"\n[backlog flow] {COUNT} messages drained in {drained:.1f}s; the dedup agent at most "
              f"{max(ahead):.0f} requests behind the ingest agent")

    assert not log.missing, f"{len(log.missing)} of {COUNT} messages lost"
    assert max(ahead) <= MAX_AHEAD, f"the dedup agent fell {max(ahead):.0f} requests behind the ingest agent"
