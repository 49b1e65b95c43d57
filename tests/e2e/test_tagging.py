"""Tagging on the real worker: entities and themes on enriched events, KB hot reload."""

import shutil
import time

import yaml

from service.cli.inputs import Item
from service.knowledge import DEFAULT_KB
from tests.e2e.test_dedup import send_and_collect
from tests.support.factories import random_text, raw_bytes


def test_enriched_events_carry_linked_entities_and_themes(settings_factory, start_worker):
    settings = settings_factory()
    start_worker(settings)
    body = (
        "Defense Secretary Pete Hegseth said a US military strike destroyed a vessel operated by "
        "Tren de Aragua in the Caribbean. Hegseth did not give details. " + random_text(5, 80)
    )
    _, event = send_and_collect(settings, [Item("a", raw_bytes(id="tagged", title="Strike on a boat", body=body))])["tagged"]
    entities = {e["name"]: e for e in event["entities"]}
    assert {"Pete Hegseth", "Tren de Aragua", "United States", "Caribbean Sea"} <= set(entities)
    assert entities["Pete Hegseth"]["count"] == 2
    assert any(d["list"] == "FTO" for d in entities["Tren de Aragua"]["designations"])
    mention = entities["Tren de Aragua"]["mentions"][0]
    assert body[mention["start"]:mention["end"]] == "Tren de Aragua"
    assert "military_action" in {t["id"] for t in event["themes"]}


def test_knowledge_base_reloads_while_the_worker_runs(settings_factory, start_worker, tmp_path):
    kb = tmp_path / "kb.yaml"
    shutil.copy(DEFAULT_KB, kb)
    settings = settings_factory(kb_path=kb, kb_reload_seconds=1)
    start_worker(settings)
    body = "Analysts at the Zorblax Institute warned about cartel finances. " + random_text(6, 80)
    _, before = send_and_collect(settings, [Item("b", raw_bytes(id="before", body=body))])["before"]
    assert "Zorblax Institute" not in {e["name"] for e in before["entities"]}
    assert "Zorblax Institute" in before["unlinked"]

    data = yaml.safe_load(kb.read_text())
    data["entities"].append({"id": "org:zorblax", "name": "Zorblax Institute", "type": "ORGANIZATION", "subtype": "think_tank"})
    kb.write_text(yaml.safe_dump(data, allow_unicode=True))
    deadline = time.monotonic() + 30
    for attempt in range(1000):
        text = "The Zorblax Institute published a report. " + random_text(100 + attempt, 80)
        _, after = send_and_collect(settings, [Item("c", raw_bytes(id=f"after-{attempt}", body=text))])[f"after-{attempt}"]
        if "Zorblax Institute" in {e["name"] for e in after["entities"]} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "Zorblax Institute" in {e["name"] for e in after["entities"]}
