"""1,000 mixed messages through a real worker: each ends in exactly one outcome topic."""

import asyncio
import random

from service import codec
from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import make_article, random_text, raw_bytes

MIB = 1024 * 1024


def mixed_messages(rng: random.Random, count: int, max_bytes: int) -> list[tuple[str, Item]]:
    """(expected outcome, item) pairs: mostly valid, then each kind of bad input."""
    kinds = ["valid"] * 6 + ["not_json", "not_utf8", "missing_body", "empty_body", "invalid_fields"]
    out = []
    for i in range(count):
        kind = "too_large" if i % 200 == 0 else rng.choice(kinds)
        value = {
            "valid": lambda: raw_bytes(id=f"v-{i}", url=f"https://n.example/{i}", body=random_text(i, rng.randint(20, 400))),
            "not_json": lambda: b"{this is not json " + str(i).encode(),
            "not_utf8": lambda: b'{"body": "\xff\xfe' + str(i).encode() + b'"}',
            "missing_body": lambda: codec.dumps({"id": f"m-{i}", "title": "no body"}),
            "empty_body": lambda: codec.dumps({"id": f"e-{i}", "body": "   "}),
            "invalid_fields": lambda: codec.dumps(make_article(id=f"f-{i}", authors="not a list")),
            "too_large": lambda: raw_bytes(id=f"l-{i}", body="x" * (max_bytes + 1)),
        }[kind]()
        key = f"k-{i}".encode() if i % 3 else None
        out.append(("enriched" if kind == "valid" else kind, Item(f"msg {i}", value, key)))
    return out


def test_every_message_reaches_exactly_one_outcome(settings_factory, start_worker):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    messages = mixed_messages(random.Random(7), 1000, settings.max_article_bytes)

    result = asyncio.run(push(settings, names.raw, [item for _, item in messages]))
    assert len(result.sent) == 1000, result.rejected
    expected_kind = {pos: messages[int(origin.split()[1])][0] for origin, *pos in result.sent for pos in [tuple(pos)]}

    log = asyncio.run(collect_outcomes(settings, set(expected_kind), timeout=180, linger=3))
    assert not log.missing, f"{len(log.missing)} messages have no outcome"
    assert log.repeats == 0 and not log.conflicting()
    for pos, (topic, _, value) in log.first().items():
        event = codec.loads(value)
        if expected_kind[pos] == "enriched":
            assert topic == names.enriched
        else:
            assert topic == names.invalid
            assert event["error"]["code"] == expected_kind[pos]
    assert sum(1 for k in expected_kind.values() if k == "too_large") == 5


COMPRESSIONS = ("gzip", "snappy", "lz4", "zstd")


def test_raw_records_compressed_by_their_producer_reach_an_outcome(settings_factory, start_worker):
    """Crawlers' Kafka clients often compress their batches: the worker must read every codec
    Kafka has (aiokafka decodes all but gzip with cramjam, a dependency for that reason). This
    worker also compresses what it writes (NEWSFLOW_PRODUCER_COMPRESSION), changelogs included."""
    from service.producer import make_producer

    settings = settings_factory(producer_compression="zstd")
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    ids: dict[tuple[int, int], str] = {}

    async def send_all() -> None:
        for number, compression in enumerate(COMPRESSIONS):
            producer = make_producer(settings, compression_type=compression)
            await producer.start()
            try:
                for i in range(5):
                    article_id = f"{compression}-{i}"
                    body = random_text(1000 + 10 * number + i, 120)
                    sent = await producer.send_and_wait(names.raw, raw_bytes(id=article_id, body=body,
                                                                  url=f"https://c.example/{article_id}"),
                                                        key=article_id.encode())
                    ids[(sent.partition, sent.offset)] = article_id
            finally:
                await producer.stop()

    asyncio.run(send_all())
    log = asyncio.run(collect_outcomes(settings, set(ids), timeout=120))
    assert not log.missing, f"{len(log.missing)} compressed messages have no outcome"
    outcomes = {pos: (topic, codec.loads(value)) for pos, (topic, _, value) in log.first().items()}
    assert {pos: (topic, event["id"]) for pos, (topic, event) in outcomes.items()} == {
        pos: (names.enriched, article_id) for pos, article_id in ids.items()}


def test_the_worker_creates_its_changelogs_with_the_configured_segment_size(settings_factory, start_worker):
    """Kafka compacts only closed segments: with its 1 GiB default the alert groups' changelog
    grew to a GiB of superseded values (~200k articles) before the broker cleaned it all at once,
    and a restart would replay all of it. The worker's changelogs get NEWSFLOW_CHANGELOG_SEGMENT_BYTES."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from service.admin import _admin

    settings = settings_factory(changelog_segment_bytes=3 * MIB)
    start_worker(settings)
    tables = ("dedup-docs", "alert-groups", "alert-stories")
    topics = [f"{settings.app_id}-{table}-changelog" for table in tables]

    async def describe() -> dict[str, dict[str, str]]:
        admin = _admin(settings, 10_000)
        await admin.start()
        try:
            responses = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
        finally:
            await admin.close()
        found: dict[str, dict[str, str]] = {}
        for response in responses:
            for _code, _message, _type, name, entries in response.resources:
                found[name] = {entry[0]: entry[1] for entry in entries}
        return found

    configs = asyncio.run(describe())
    assert {topic: (configs[topic]["segment.bytes"], configs[topic]["cleanup.policy"]) for topic in topics} == {
        topic: (str(3 * MIB), "compact") for topic in topics}
