import base64
import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from service import codec
from service.core.ingest import Limits, ingest, json_depth
from service.schemas.dead_letter import DeadLetter
from service.schemas.article import EnrichedArticle
from tests.support.factories import NOW, make_article, make_source, raw_bytes

LIMITS = Limits(max_article_bytes=64 * 1024, max_json_depth=8, dead_letter_max_original_bytes=1024)


def run(value, key=b"k"):
    return ingest(value, key, make_source(), NOW, LIMITS)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "empty_message"),
        (b"", "empty_message"),
        (b"\xff\xfe\x00garbage", "not_utf8"),
        (b'{"body": "caf\xe9"}', "not_utf8"),
        (b"not json at all", "not_json"),
        (b'{"body": "unterminated', "not_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"title": "no body"}', "missing_body"),
        (b'{"body": ""}', "empty_body"),
        (b'{"body": "   \\n  "}', "empty_body"),
        (b'{"body": "<p></p><script>x()</script>"}', "empty_body"),
        (b'{"body": "\\u0000\\u200b"}', "empty_body"),
        (b'{"body": 42}', "invalid_fields"),
        (b'{"body": "x", "authors": "one string"}', "invalid_fields"),
        (b'{"body": "x", "published_at": 1756800000}', "invalid_fields"),
        (b'{"body": "x", "published_at": "yesterday"}', "invalid_fields"),
        (b'{"body": "x", "url": "ftp://host/a"}', "invalid_fields"),
        (b'{"body": "x", "id": 12345}', "invalid_fields"),
        (b'{"body": "x", "metadata": [1]}', "invalid_fields"),
        (b'{"body": "x", "metadata": ' + b'{"a": ' * 10 + b"1" + b"}" * 10 + b"}", "too_deeply_nested"),
        (b"[" * 5000 + b"]" * 5000, "too_deeply_nested"),
        (raw_bytes(body="x" * (LIMITS.max_article_bytes + 1)), "too_large"),
        (raw_bytes(body="\ufdfa" * (LIMITS.max_article_bytes // 8)), "too_large"),  # NFKC expands 18×
    ],
)
def test_bad_input_becomes_a_dead_letter_with_its_reason(value, code):
    outcome = run(value)
    assert outcome.kind == "invalid"
    assert outcome.dead.error.code == code
    assert outcome.dead.error.message


def test_field_errors_name_each_field():
    outcome = run(b'{"body": 3, "authors": "x", "published_at": 5}')
    assert {f.field for f in outcome.dead.error.fields} == {"body", "authors", "published_at"}


def test_dead_letter_keeps_utf8_original_and_key():
    value = b'{"title": "no body"}'
    dead = run(value, key=b"key-1").dead
    assert dead.original.encoding == "utf-8" and dead.original.data == value.decode()
    assert dead.original.key == "key-1" and dead.original.size_bytes == len(value)
    assert dead.raw == make_source()


def test_dead_letter_base64_encodes_non_utf8():
    value = b"\xff\xfe\x00\x01binary"
    dead = run(value, key=b"\xff").dead
    assert dead.original.encoding == "base64" and base64.b64decode(dead.original.data) == value
    assert dead.original.key_encoding == "base64"


def test_dead_letter_truncates_huge_originals_and_says_so():
    value = raw_bytes(body="y" * (LIMITS.max_article_bytes + 10))
    dead = run(value).dead
    assert dead.original.truncated and len(dead.original.data) == LIMITS.dead_letter_max_original_bytes
    assert dead.original.size_bytes == len(value)


def test_dead_letter_id_uses_producer_id_when_readable():
    assert run(b'{"id": "abc", "body": ""}').dead.id == "abc"
    assert run(b"nope").dead.id.startswith("raw-")
    assert run(b"nope").dead.id == run(b"nope").dead.id


def test_valid_article_is_normalised():
    value = raw_bytes(
        id=" a-1 ",
        url="HTTPS://News.Example/x?utm_source=t&b=1#top",
        title="  Two\n  lines ",
        body="<p>First&nbsp;para</p><p>Second</p>",
        published_at="2025-09-02T10:00:00",
    )
    art = run(value).article
    assert art.id == "a-1" and art.id_source == "producer"
    assert art.url == "https://news.example/x?b=1"
    assert art.original_url == "HTTPS://News.Example/x?utm_source=t&b=1#top"
    assert art.title == "Two lines" and not art.title_from_body
    assert art.body == "First para\n\nSecond" and art.body_format == "html"
    assert art.published_at.isoformat() == "2025-09-02T10:00:00+00:00"
    assert art.word_count == 3 and art.raw == make_source() and art.schema_version == 1


def test_title_falls_back_to_first_line():
    art = run(raw_bytes(title=..., body="Headline here\n\nThe text.")).article
    assert art.title == "Headline here" and art.title_from_body


@pytest.mark.parametrize(
    ("overrides", "id_source", "prefix"),
    [({}, "producer", "test-"), ({"id": ...}, "url", "u-"), ({"id": ..., "url": ...}, "content", "c-")],
)
def test_article_id_sources(overrides, id_source, prefix):
    art = run(raw_bytes(**overrides)).article
    assert art.id_source == id_source and art.id.startswith(prefix)


def test_ids_from_url_ignore_tracking_and_from_content_ignore_whitespace():
    a = run(raw_bytes(id=..., url="https://n.example/a?utm_source=x")).article
    b = run(raw_bytes(id=..., url="https://N.example/a#frag")).article
    assert a.id == b.id
    c = run(raw_bytes(id=..., url=..., body="Same  text\n\n\nhere")).article
    d = run(raw_bytes(id=..., url=..., body="Same text\n\nhere ")).article
    assert c.id == d.id


def test_unknown_fields_are_ignored_not_rejected():
    assert run(raw_bytes(extra_field={"x": 1})).kind == "enriched"


def test_outputs_round_trip_through_their_schemas():
    art = run(raw_bytes()).article
    assert EnrichedArticle.model_validate(codec.loads(codec.dumps(art.model_dump(mode="json")))) == art
    dead = run(b"nope").dead
    assert DeadLetter.model_validate(codec.loads(codec.dumps(dead.model_dump(mode="json")))) == dead


@pytest.mark.parametrize(("value", "depth"), [(1, 0), ({}, 1), ([[]], 2), ({"a": [{"b": 1}]}, 3)])
def test_json_depth(value, depth):
    assert json_depth(value, 100) == depth


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_get_exactly_one_outcome(value):
    outcome = run(value)
    assert (outcome.article is None) != (outcome.dead is None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(make_article()) + ["x"]), json_values))
def test_any_json_object_gets_exactly_one_outcome(obj):
    outcome = run(json.dumps(obj).encode())
    assert outcome.kind in ("enriched", "invalid")
    if outcome.kind == "enriched":
        assert outcome.article.body.strip()
