"""Poison messages in the middle of a batch: a running worker gives each its outcome, the
messages after them are not held up, and the worker stays up."""

import asyncio

from service import codec
from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import random_text, raw_bytes

MIB = 1024 * 1024
VALID_EACH_SIDE = 40
KEY = b"one-partition"  # one key: every message lands on one partition, in the order pushed


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def hostile_messages(max_article_bytes: int) -> list[tuple[str, str, bytes]]:
    """(name, expected outcome: "enriched" or a dead letter's code, value)."""
    return [
        ("over the size limit", "too_large", raw_bytes(id="h-big", body="x" * (max_article_bytes + MIB))),
        ("JSON nested 10,000 deep", "too_deeply_nested", b"[" * 10_000 + b"]" * 10_000),
        ("metadata nested 10,000 deep", "too_deeply_nested", b'{"body": "x", "metadata": ' + nested(10_000) + b"}"),
        ("invalid UTF-8", "not_utf8", b'{"body": "\xc0\xaf\xed\xa0\x80"}'),
        ("raw NUL bytes", "not_json", b"\x00" * 1000),
        ("escaped NULs only", "empty_body", b'{"body": "\\u0000\\u0000"}'),
        ("a NUL in the id", "invalid_fields", b'{"id": "a\\u0000b", "body": "x"}'),
        ("1e400", "not_json", b'{"body": "x", "metadata": {"n": 1e400}}'),
        ("2**70 as the body", "invalid_fields", b'{"body": ' + str(2**70).encode() + b"}"),
        ("a list as the body", "invalid_fields", b'{"body": ["x"]}'),
        ("RTL marks only", "empty_body", '{"body": "\u200f\u202e\u2067"}'.encode()),
        # Valid, but each once cost the worker: minutes of NFKC on a 2 MB run of combining
        # marks, and an exception on a character reference of 5,000 digits.
        ("2 MB of alternating combining marks", "enriched",
         raw_bytes(id="h-zalgo", body="a" + "\u0301\u0327" * ((max_article_bytes - 4096) // 4))),
        ("a 5,000-digit character reference", "enriched", raw_bytes(id="h-ref", body="<p>x &#" + "9" * 5000 + ";</p>")),
        ("100k words on one line", "enriched", raw_bytes(id="h-words", body=random_text(77, 100_000))),
    ]


def test_poison_messages_do_not_hold_up_the_batch_or_the_worker(settings_factory, start_worker):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    worker = start_worker(settings)
    hostile = hostile_messages(settings.max_article_bytes)
    items, expected = [], {}
    for i in range(VALID_EACH_SIDE):
        items.append(Item(f"v-{i}", raw_bytes(id=f"v-{i}"), KEY))
        expected[f"v-{i}"] = "enriched"
    for name, outcome, value in hostile:
        items.append(Item(name, value, KEY))
        expected[name] = outcome
    # Bigger than a message may be on the topic: refused when sent, never silently lost.
    items.append(Item("10 MB", raw_bytes(body="x" * (10 * MIB)), KEY))
    for i in range(VALID_EACH_SIDE, 2 * VALID_EACH_SIDE):
        items.append(Item(f"v-{i}", raw_bytes(id=f"v-{i}"), KEY))
        expected[f"v-{i}"] = "enriched"

    result = asyncio.run(push(settings, names.raw, items))
    assert [origin for origin, _ in result.rejected] == ["10 MB"]
    assert "large" in result.rejected[0][1].lower()
    assert len(result.sent) == len(expected) and len({p for _, p, _ in result.sent}) == 1
    origin_at = {(p, o): origin for origin, p, o in result.sent}

    log = asyncio.run(collect_outcomes(settings, set(origin_at), timeout=60, linger=2, check=worker.check))
    assert not log.missing, sorted(origin_at[p] for p in log.missing)
    assert log.repeats == 0 and not log.conflicting()
    for pos, (topic, event_id, value) in log.first().items():
        origin, want = origin_at[pos], expected[origin_at[pos]]
        event = codec.loads(value)
        if want == "enriched":
            assert topic in (names.enriched, names.duplicates), (origin, event.get("error"))
            assert event_id == origin if origin.startswith("v-") else event_id.startswith("h-")
        else:
            assert topic == names.invalid, origin
            assert event["error"]["code"] == want, (origin, event["error"])
    worker.check()
