"""Dedup on the real broker: partitions, restarts, replays and expiry."""

import asyncio
import time

from aiokafka.partitioner import murmur2

from service import codec
from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import random_text, raw_bytes

DAY_MS = 24 * 3600 * 1000
BOILERPLATE = "Sign up for the morning briefing. Copyright 2025 Example Media, all rights reserved."


def keys_on_distinct_partitions(count: int, partitions: int) -> list[bytes]:
    """Keys that aiokafka's default partitioner sends to `count` different partitions."""
    chosen: dict[int, bytes] = {}
    for n in range(1000):
        key = f"key-{n}".encode()
        chosen.setdefault((murmur2(key) & 0x7FFFFFFF) % partitions, key)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError("not enough distinct partitions")


def send_and_collect(settings, items: list[Item]) -> dict[str, tuple[str, dict]]:
    """Push, wait for every outcome; article id → (outcome topic, event)."""
    names = TopicNames.from_settings(settings)
    result = asyncio.run(push(settings, names.raw, items))
    assert len(result.sent) == len(items), result.rejected
    log = asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=120, linger=1))
    assert not log.missing
    out = {}
    for topic, event_id, value in (evs[0] for evs in log.events.values()):
        out.setdefault(event_id, (topic, codec.loads(value)))
    return out


def truncate(text: str, fraction: float) -> str:
    words = text.split()
    return " ".join(words[: int(len(words) * fraction)])


def test_copies_on_different_partitions_at_the_same_moment_have_one_original(settings_factory, start_worker):
    settings = settings_factory(topic_partitions=4)
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    story = random_text(1, 400)
    quote = " ".join(story.split()[100:150])
    bodies = {
        "wire": story,
        "exact": story,
        "truncated": truncate(story, 0.6),
        "boilerplate": f"{story}\n\n{BOILERPLATE}",
        "negative": random_text(2, 300) + f' "{quote}" ' + random_text(3, 100),
    }
    keys = keys_on_distinct_partitions(4, 4) + [b"neg"]
    items = [
        Item(name, raw_bytes(id=name, url=f"https://{name}.example/story", title=f"Headline {name}", body=body), key)
        for (name, body), key in zip(bodies.items(), keys)
    ]
    outcomes = send_and_collect(settings, items)

    copies = ["wire", "exact", "truncated", "boilerplate"]
    originals = [c for c in copies if outcomes[c][0] == names.enriched]
    assert len(originals) == 1, outcomes
    (original,) = originals
    for copy in set(copies) - {original}:
        topic, event = outcomes[copy]
        assert topic == names.duplicates and event["duplicate_of"] == original
        assert event["kind"] in ("exact", "near") and 0 < event["similarity"] <= 1
    assert outcomes[original][1]["dedup"] == {"status": "unique"}
    assert outcomes["negative"][0] == names.enriched


def test_index_survives_a_restart_on_a_new_machine(settings_factory, start_worker, tmp_path):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    story = random_text(10, 300)
    first = start_worker(settings)
    assert send_and_collect(settings, [Item("o", raw_bytes(id="orig", body=story))])["orig"][0] == names.enriched
    first.stop()

    # A new state dir: the index must come back from the changelog, not from local files.
    moved = settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    start_worker(moved)
    topic, event = send_and_collect(moved, [Item("c", raw_bytes(id="copy", body=truncate(story, 0.7)))])["copy"]
    assert topic == names.duplicates and event["duplicate_of"] == "orig"


def test_a_replayed_article_gets_the_same_decision_and_is_never_its_own_duplicate(settings_factory, start_worker):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    article = raw_bytes(id="same-id", body=random_text(20, 300))
    copy = raw_bytes(id="the-copy", body=random_text(20, 300))
    result = asyncio.run(push(settings, names.raw, [Item("a", article, b"k"), Item("b", article, b"k"), Item("c", copy, b"k")]))
    log = asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=120, linger=1))
    by_position = {pos: (topic, codec.loads(value)) for pos, (topic, _, value) in log.first().items()}
    (first, replay, later) = (by_position[(p, o)] for _, p, o in result.sent)
    assert first[0] == replay[0] == names.enriched and first[1]["id"] == replay[1]["id"] == "same-id"
    assert later[0] == names.duplicates and later[1]["duplicate_of"] == "same-id"


def test_entries_expire_after_the_retention_window_of_record_time(settings_factory, start_worker):
    settings = settings_factory(dedup_retention_days=7)
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    story = random_text(30, 300)
    t0 = int(time.time() * 1000) - 30 * DAY_MS

    def item(article_id, body, at_ms):
        return Item(article_id, raw_bytes(id=article_id, body=body), b"one-partition", timestamp_ms=at_ms)

    # One key: one raw partition, so the dedup log sees them in this order.
    outcomes = send_and_collect(
        settings,
        [
            item("original", story, t0),
            item("copy-after-1-day", truncate(story, 0.8), t0 + DAY_MS),
            item("unrelated-9-days-later", random_text(31, 300), t0 + 9 * DAY_MS),
            item("copy-after-9-days", truncate(story, 0.8) + " Updated.", t0 + 9 * DAY_MS),
        ],
    )
    assert outcomes["copy-after-1-day"][0] == names.duplicates
    assert outcomes["copy-after-1-day"][1]["duplicate_of"] == "original"
    assert outcomes["copy-after-9-days"][0] == names.enriched, "the original should have expired"
