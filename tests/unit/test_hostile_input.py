"""Hostile input to the decoder, the normaliser, the rule parser and the KB loader.

Every input ends as an article, a dead letter with a code and a readable message, or the
module's own error (`RuleError`, `KBError`, `InvalidURL`); no other exception escapes, and
no input costs more than linear time. The properties run ~100 examples per test by default
and many thousands under `HYPOTHESIS_PROFILE=fuzz` (`make fuzz`).
"""

import base64
import json
import re
import tempfile
import time
import unicodedata
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from service import codec
from service.core.alert_stage import match_records
from service.core.ingest import Limits, ingest
from service.core.normalize import InvalidURL, canonical_url, normalize_body, normalize_text, normalize_title, title_from_body
from service.core.pipeline import enrich
from service.core.rules import RuleError, RuleSet, kb_resolver, load_rules, parse_rules
from service.core.rules.model import ENTITY_TYPES, LEAF_KINDS
from service.core.tagging import KBError, Tagger, load_kb, load_themes, parse_entities, parse_stop_phrases, parse_themes
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES
from service.rulebook import DEFAULT_RULES
from service.schemas.dead_letter import DeadLetter
from tests.support.factories import NOW, make_source, random_text, raw_bytes

LIMITS = Limits()  # what the worker runs with
MIB = 1024 * 1024
CODES = {
    "empty_message", "too_large", "not_utf8", "not_json", "too_deeply_nested", "not_an_object",
    "missing_body", "empty_body", "invalid_fields",
}  # every code but `internal_error`, which only the agent's last-resort guard gives
MARK_RUN = re.compile("[" + "".join(chr(c) for c in range(0x20000) if unicodedata.combining(chr(c))) + "]{31}")
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@cache
def knowledge() -> tuple[Tagger, RuleSet]:
    """The shipped KB, themes and rules, as the worker loads them."""
    entities, stop_phrases = load_kb(DEFAULT_KB)
    themes = load_themes(DEFAULT_THEMES)
    rules = load_rules(DEFAULT_RULES, kb_resolver(entities), [t.id for t in themes])
    return Tagger(entities, themes, stop_phrases), RuleSet.compile(rules)


def run(value: bytes | None, key: bytes | None = b"key", limits: Limits = LIMITS):
    """What the ingest agent does with one raw message, without its last-resort guard:
    ingest, tag, match rules, serialise. Returns the outcome and the bytes it would send."""
    tagger, rules = knowledge()
    outcome = ingest(value, key, make_source(), NOW, limits)
    if outcome.article is None:
        return outcome, codec.dumps(outcome.dead.model_dump(mode="json"))
    request = enrich(outcome.article, tagger)
    request["rules"] = match_records(rules, request["article"])
    return outcome, codec.dumps(request)


def check(value: bytes | None, key: bytes | None = b"key", limits: Limits = LIMITS):
    """The outcome of `value`, after asserting it is exactly one well-formed outcome."""
    outcome, wire = run(value, key, limits)
    assert (outcome.article is None) != (outcome.dead is None)
    if outcome.dead is not None:
        error = outcome.dead.error
        assert error.code in CODES
        assert error.message and error.message.isprintable() and len(error.message) <= 1000, error.message
        dead = DeadLetter.model_validate(codec.loads(wire))
        original = dead.original.data.encode() if dead.original.encoding == "utf-8" else base64.b64decode(dead.original.data)
        assert original == (value or b"")[: limits.dead_letter_max_original_bytes]
    else:
        article = outcome.article
        assert article.body and article.title
        assert_normal_form(article.body)
        assert "\n" not in article.title
        assert codec.loads(wire)["article"]["id"] == article.id
    return outcome


def assert_normal_form(text: str) -> None:
    """NFKC; no control character but newline; no bidi control; at most 30 combining marks in a
    row; single spaces; trimmed lines."""
    assert unicodedata.is_normalized("NFKC", text), ascii(text)
    assert not MARK_RUN.search(text), ascii(text)
    assert not any(unicodedata.category(c) == "Cc" and c != "\n" for c in text), ascii(text)
    assert not BIDI_CONTROLS & set(text), ascii(text)
    assert "\u2028" not in text and "\u2029" not in text and "\ufeff" not in text
    assert "  " not in text and "\n\n\n" not in text
    assert all(line == line.strip() for line in text.split("\n")), ascii(text)


# --- strategies -----------------------------------------------------------------------------

SPECIAL = [
    # controls and line breaks
    "\x00", "\x01", "\x08", "\x1b", "\x1f", "\x7f", "\x85", "\x9f", "\t", "\r", "\r\n", "\n", "\x0b", "\x0c",
    "\u2028", "\u2029",
    # invisible and bidi
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\ufeff", "\u00ad", "\u2060", "\u2061", "\u180e",
    # combining marks and what composes with them
    "e", "\u0301", "\u0308", "\u0327", "\u20dd", "\u0345", "\u1100", "\u1161", "\u11a8", "\u0915", "\u093c",
    "\u0f40", "\u0f73", "\u0f75", "\u0344", "\uff76", "\uff9e", "\u0301" * 29, "\u0327\u0301" * 16,
    # compatibility forms: ligatures, the 18-letter ligature, roman numerals, full-width, spaces
    "\ufb01", "\ufdfa", "\u2163", "\uff21", "\u00a0", "\u3000", "\u2003", "\u1680", "\u00b4", "\u2126",
    # emoji, with skin tones, ZWJ families, flags and tag sequences
    "\U0001f600", "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\U0001f1fb\U0001f1ea", "\U0001f44d\U0001f3fd", "\ufe0f",
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    # right-to-left scripts and case oddities
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u05e2\u05d1\u05e8\u05d9\u05ea", "\u0130", "\u00df", "\u01c5", "\u03a3",
    # HTML and character references
    "<", ">", "&", ";", "&amp;", "&#", "&#x", "&#0;", "&#65;", "&#x110000;", "&#99999999999;", "&#" + "9" * 30 + ";",
    "&#" + "0" * 20 + "66;", "<p>", "</p>", "<br/>", "<div class='a'>", "<script>", "</script>", "<!--", "-->",
    "<style>", "</style >", "<a href=\"https://x.example/\">", "<!DOCTYPE html>", "<?xml?>", "</", "<<",
    # words the shipped KB and rules know
    " ", "  ", "Tren de Aragua", "Pentagon", "US", "Navy", "Maduro", " de ", "Caracas", "strike", "FTO",
]
fragments = st.one_of(
    st.sampled_from(SPECIAL),
    st.characters(codec="utf-8"),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
hostile_text = st.lists(fragments, max_size=40).map("".join)

numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 2**64, 2**70]),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_scalars = st.none() | st.booleans() | numbers | hostile_text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=20,
)
dates = st.one_of(
    st.sampled_from(["2025-09-02T14:00:00Z", "2025-09-02", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                     "2025-13-45T99:99:99", "yesterday", "", "2025-09-02T14:00:00+99:00"]),
    hostile_text,
    json_values,
)
urls = st.builds(
    lambda scheme, user, host, port, path, query, frag: f"{scheme}{user}{host}{port}{path}{query}{frag}",
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "javascript:", "//", "", "http:/"]),
    st.sampled_from(["", "user:pw@", "@", "a@b@"]),
    st.sampled_from(["news.example", "News.EXAMPLE.", "[::1]", "[fe80::1%25eth0]", "b\u00fccher.example", "a b",
                     "", "127.0.0.1", "[::1", "x\x00y", "\uff41.example"]) | hostile_text,
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":65536", ":99999999", ":x", ":"]),
    st.sampled_from(["", "/", "/a b", "/%zz", "/\u00e9"]) | hostile_text.map(lambda t: "/" + t),
    st.sampled_from(["", "?", "?utm_source=x&b=2&a=1", "?a=%ff&b=%C3%A9", "?fbclid=1", "?a&a=&=b", "?q=\u00e9+x"])
    | hostile_text.map(lambda t: "?" + t),
    st.sampled_from(["", "#", "#frag"]),
)
articles = st.fixed_dictionaries(
    {},
    optional={
        "body": st.one_of(hostile_text, json_values),
        "title": st.one_of(hostile_text, json_values),
        "id": st.one_of(hostile_text, json_values),
        "url": st.one_of(urls, json_values),
        "source": st.one_of(hostile_text, json_values),
        "language": st.one_of(st.sampled_from(["en", "es-MX", "x", "zz" * 20]), json_values),
        "authors": st.one_of(st.lists(hostile_text, max_size=3), json_values),
        "published_at": dates,
        "metadata": json_values,
    },
)


# --- the ingest decoder -----------------------------------------------------------------------


@given(st.binary(max_size=4000))
def test_any_bytes_give_exactly_one_well_formed_outcome(value):
    check(value)


@given(articles, st.booleans())
def test_any_json_object_gives_exactly_one_well_formed_outcome(article, ascii_only):
    check(json.dumps(article, ensure_ascii=ascii_only).encode())


@given(articles.map(lambda a: json.dumps(a, ensure_ascii=False).encode()), st.data())
def test_corrupted_messages_give_exactly_one_well_formed_outcome(value, data):
    # Byte-level damage to a message that was JSON: the decoder's error paths, not the schema's.
    damaged = bytearray(value)
    for _ in range(data.draw(st.integers(1, 4))):
        if not damaged:
            break
        at = data.draw(st.integers(0, len(damaged) - 1))
        junk = data.draw(st.binary(max_size=3))
        cut = data.draw(st.integers(0, 2))
        damaged[at : at + cut] = junk
    check(bytes(damaged))


@given(st.binary(max_size=64) | st.none())
def test_any_key_is_kept_readably_on_the_dead_letter(key):
    dead = check(b"not json", key=key).dead
    if key is None:
        assert dead.original.key is None
    elif dead.original.key_encoding == "utf-8":
        assert dead.original.key.encode() == key
    else:
        assert base64.b64decode(dead.original.key) == key


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


WORDS_100K = " ".join(random_text(1, 100_000).split())

BAD_MESSAGES = [
    # sizes
    ("10 MB body", raw_bytes(body="x" * (10 * MIB)), "too_large"),
    ("10 MB of NUL bytes", b"\x00" * (10 * MIB), "too_large"),
    ("just over the limit", raw_bytes(body="x" * (2 * MIB)), "too_large"),
    ("NFKC grows the body past the limit", raw_bytes(body="\ufdfa" * (2 * MIB // 8)), "too_large"),
    # nesting
    ("arrays 10,000 deep", b"[" * 10_000 + b"]" * 10_000, "too_deeply_nested"),
    ("objects 10,000 deep", nested(10_000), "too_deeply_nested"),
    ("unclosed arrays 10,000 deep", b"[" * 10_000, "too_deeply_nested"),
    ("metadata 10,000 deep", b'{"body": "x", "metadata": ' + nested(10_000) + b"}", "too_deeply_nested"),
    ("metadata 1,000 deep (under the parser's limit)", b'{"body": "x", "metadata": ' + nested(1000) + b"}",
     "too_deeply_nested"),
    ("metadata one level too deep", b'{"body": "x", "metadata": ' + nested(LIMITS.max_json_depth) + b"}",
     "too_deeply_nested"),
    # invalid UTF-8
    ("overlong slash", b'{"body": "\xc0\xaf"}', "not_utf8"),
    ("UTF-8 encoded surrogate", b'{"body": "\xed\xa0\x80"}', "not_utf8"),
    ("past U+10FFFF", b'{"body": "\xf4\x90\x80\x80"}', "not_utf8"),
    ("truncated sequence", b'{"body": "\xe2\x82"}', "not_utf8"),
    ("lone continuation byte", b"\x80", "not_utf8"),
    ("Latin-1 text", '{"body": "Caf\u00e9"}'.encode("latin-1"), "not_utf8"),
    # NUL bytes and other controls
    ("a NUL byte", b"\x00", "not_json"),
    ("a raw NUL inside a string", b'{"body": "a\x00b"}', "not_json"),
    ("escaped NULs only", b'{"body": "\\u0000\\u0000"}', "empty_body"),
    ("a NUL in the id", b'{"body": "x", "id": "a\\u0000b"}', "invalid_fields"),
    ("a newline in the id", b'{"body": "x", "id": "a\\nb"}', "invalid_fields"),
    ("an escaped lone surrogate", b'{"body": "\\ud800"}', "not_json"),
    ("a byte order mark", b'\xef\xbb\xbf{"body": "x"}', "not_json"),
    # huge numbers
    ("1e400", b'{"body": "x", "metadata": {"n": 1e400}}', "not_json"),
    ("-1e400 as the body", b'{"body": -1e400}', "not_json"),
    ("a 5,000-digit integer", b'{"body": "x", "n": 1' + b"0" * 5000 + b"}", "not_json"),
    ("2**70 as the body", codec.dumps({"body": 1}).replace(b"1", str(2**70).encode()), "invalid_fields"),
    ("2**70 as the title", b'{"body": "x", "title": ' + str(2**70).encode() + b"}", "invalid_fields"),
    # wrong types
    ("a list body", b'{"body": ["a"]}', "invalid_fields"),
    ("a null body", b'{"body": null}', "invalid_fields"),
    ("an object body", b'{"body": {"text": "a"}}', "invalid_fields"),
    ("a boolean body", b'{"body": true}', "invalid_fields"),
    ("a numeric id", b'{"body": "x", "id": 7}', "invalid_fields"),
    ("a numeric url", b'{"body": "x", "url": 7}', "invalid_fields"),
    ("authors of numbers", b'{"body": "x", "authors": [1, 2]}', "invalid_fields"),
    ("authors nested", b'{"body": "x", "authors": [["a"]]}', "invalid_fields"),
    ("a string metadata", b'{"body": "x", "metadata": "m"}', "invalid_fields"),
    ("a boolean date", b'{"body": "x", "published_at": true}', "invalid_fields"),
    ("month 13", b'{"body": "x", "published_at": "2025-13-01T00:00:00Z"}', "invalid_fields"),
    ("a 40-character language", b'{"body": "x", "language": "' + b"x" * 40 + b'"}', "invalid_fields"),
    ("a 10,000-character id", b'{"body": "x", "id": "' + b"i" * 10_000 + b'"}', "invalid_fields"),
    ("an IPv6 URL left open", b'{"body": "x", "url": "http://[::1"}', "invalid_fields"),
    ("a URL host with a space", b'{"body": "x", "url": "http://a b/"}', "invalid_fields"),
    ("a top-level array", b"[]", "not_an_object"),
    ("a top-level huge float", b"1e308", "not_an_object"),
    # unusual Unicode with nothing visible
    ("RTL marks only", '{"body": "\u200f\u202e\u2067\u061c"}'.encode(), "empty_body"),
    ("zero-width and soft hyphens only", '{"body": "\u200b\u00ad\ufeff\u2060"}'.encode(), "empty_body"),
]


@pytest.mark.parametrize(("value", "code"), [pytest.param(v, c, id=name) for name, v, c in BAD_MESSAGES])
def test_hostile_message_becomes_a_dead_letter_with_its_code(value, code):
    outcome = check(value)
    assert outcome.kind == "invalid"
    assert outcome.dead.error.code == code, outcome.dead.error.message


GOOD_MESSAGES = [
    ("100k-word single-line body", raw_bytes(body=WORDS_100K), {"word_count": 100_000}),
    ("metadata exactly as deep as allowed", b'{"body": "x", "metadata": ' + nested(LIMITS.max_json_depth - 1) + b"}",
     {"body": "x"}),
    ("2**70 in metadata becomes a float", b'{"body": "x", "metadata": {"n": ' + str(2**70).encode() + b"}}",
     {"metadata": {"n": float(2**70)}}),
    ("2**63 - 1 stays an integer", b'{"body": "x", "metadata": {"n": 9223372036854775807}}',
     {"metadata": {"n": 2**63 - 1}}),
    ("1e-400 is zero", b'{"body": "x", "metadata": {"n": 1e-400}}', {"metadata": {"n": 0.0}}),
    ("escaped NULs are dropped", b'{"body": "a\\u0000b"}', {"body": "ab"}),
    ("RTL marks are dropped", '{"body": "\u202eabc\u202c \u200fdef"}'.encode(), {"body": "abc def"}),
    ("Arabic text keeps its letters", '{"body": "\u0627\u0644\u0639\u0631\u0628\u064a\u0629"}'.encode(),
     {"body": "\u0627\u0644\u0639\u0631\u0628\u064a\u0629"}),
    ("combining marks compose", '{"body": "e\u0301 A\u030a"}'.encode(), {"body": "\u00e9 \u00c5"}),
    ("a zero-width space between letter and accent still composes", '{"body": "e\u200b\u0301"}'.encode(),
     {"body": "\u00e9"}),
    ("a NUL between letter and accent still composes", b'{"body": "e\\u0000\xcc\x81"}', {"body": "\u00e9"}),
    ("emoji sequences survive whole",
     '{"body": "\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1fb\U0001f1ea \U0001f44d\U0001f3fd"}'.encode(),
     {"body": "\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1fb\U0001f1ea \U0001f44d\U0001f3fd"}),
    ("C1 next-line is a line break", '{"body": "a\u0085b"}'.encode(), {"body": "a\nb"}),
    ("a 5,000-digit character reference", b'{"body": "<p>a &#' + b"9" * 5000 + b';</p>"}', {"body": "a \ufffd"}),
    ("a reference with 5,000 leading zeros", b'{"body": "<p>&#' + b"0" * 5000 + b'65;</p>"}', {"body": "A"}),
    ("a 1,990-digit reference in the title", b'{"body": "x", "title": "&#' + b"9" * 1990 + b'; t"}',
     {"title": "\ufffd t"}),
    ("an IPv6 URL keeps its brackets", b'{"body": "x", "url": "http://[::1]:8080/a"}', {"url": "http://[::1]:8080/a"}),
    ("year 1 at +14:00", b'{"body": "x", "published_at": "0001-01-01T00:00:00+14:00"}', {"body": "x"}),
]


@pytest.mark.parametrize(("value", "expected"), [pytest.param(v, e, id=name) for name, v, e in GOOD_MESSAGES])
def test_hostile_but_valid_message_is_enriched(value, expected):
    outcome = check(value)
    assert outcome.kind == "enriched", outcome.dead and outcome.dead.error.message
    article = outcome.article.model_dump()
    assert {k: article[k] for k in expected} == expected


def test_a_poison_message_does_not_hold_up_the_ones_after_it():
    # The same pure path the agent takes per message, in order: a poison message in the
    # middle yields its dead letter and the next message is processed as if it were alone.
    batch = [raw_bytes(id=f"a-{i}") for i in range(5)] + [row[1] for row in BAD_MESSAGES] + [
        raw_bytes(id=f"b-{i}") for i in range(5)
    ]
    outcomes = [check(value) for value in batch]
    assert [o.article.id for o in outcomes[:5] + outcomes[-5:]] == [f"a-{i}" for i in range(5)] + [f"b-{i}" for i in range(5)]
    assert [o.dead.error.code for o in outcomes[5:-5]] == [row[2] for row in BAD_MESSAGES]


# --- the normaliser --------------------------------------------------------------------------


@given(hostile_text)
def test_normalised_text_is_in_normal_form_and_idempotent(text):
    out = normalize_text(text)
    assert_normal_form(out)
    assert normalize_text(out) == out


@given(hostile_text)
def test_normalised_body_is_in_normal_form(text):
    out, body_format = normalize_body(text)
    assert body_format in ("text", "html")
    assert_normal_form(out)


@given(hostile_text)
def test_normalised_title_is_one_normal_line(text):
    out = normalize_title(text)
    assert "\n" not in out
    assert_normal_form(out)
    if "<" not in out and "&" not in out:
        assert normalize_title(out) == out


@given(hostile_text.map(normalize_text))
def test_title_from_body_is_the_start_of_the_first_line(body):
    title = title_from_body(body)
    assert len(title) <= 301 and "\n" not in title
    assert body.lstrip("\n").startswith(title.removesuffix("\u2026"))


@given(urls | hostile_text)
def test_canonical_url_is_an_idempotent_http_url_or_invalid(url):
    try:
        out = canonical_url(url)
    except InvalidURL as e:
        assert str(e)
        return
    assert out.startswith(("http://", "https://")) and "#" not in out
    assert canonical_url(out) == out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1]/a", "http://[::1]/a"),
        ("https://[2001:DB8::1]:443/", "https://[2001:db8::1]/"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("https://n.example/?a=%ff&b=%fe", "https://n.example/?a=%FF&b=%FE"),
        ("https://n.example/?q=caf%C3%A9&r=\u00e9", "https://n.example/?q=caf%C3%A9&r=%C3%A9"),
        ("http://n.example/\x1f#", "http://n.example/%1F"),
        ("http://n.example/a b\u3000#top", "http://n.example/a%20b%E3%80%80"),
        ("http://n.example/a\u202eb", "http://n.example/a%E2%80%AEb"),
    ],
)
def test_canonical_url_keeps_ipv6_brackets_escapes_and_trailing_spaces(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", ["http://a b/", "http://a\u00a0b/", "http://a\x00b/", "http://\u202e/"])
def test_canonical_url_rejects_hosts_with_spaces_or_controls(url):
    with pytest.raises(InvalidURL):
        canonical_url(url)


# --- the rule parser -------------------------------------------------------------------------

GOOD_RULES = """\
rules:
  - id: strike-on-group
    name: Strike on a designated group
    severity: critical
    when:
      all:
        - designation: FTO
        - keyword: [strike, strikes]
      any:
        - entity: Tren de Aragua
        - theme: military_action
          min_score: 0.5
      none:
        - source: [satire.example]
    threshold: {count: 3, distinct: source, window: 1h}
    group_by: rule
    cooldown: 6h
"""


@cache
def resolver():
    tagger, _ = knowledge()
    return kb_resolver(tagger.entities), [t.id for t in tagger.themes]


@cache
def tagged_article() -> dict:
    outcome, wire = run(raw_bytes(title="Strike on Tren de Aragua", body="US strikes \u202e FTO Pentagon " * 3))
    return codec.loads(wire)["article"]


def parse(text: str):
    """Rules of `text` against the shipped KB, or the RuleError; nothing else may escape."""
    resolve, themes = resolver()
    try:
        rules = parse_rules(text, resolve, themes)
    except RuleError as e:
        assert str(e) and len(str(e)) <= 2000, str(e)[:3000]
        return e
    # A file that parses compiles and matches any article.
    codec.dumps(match_records(RuleSet.compile(rules), tagged_article()))
    return rules


rule_scalars = st.none() | st.booleans() | numbers | st.floats() | hostile_text | st.sampled_from(
    ["info", "critical", "FTO", "Tren de Aragua", "1h", "30m", "0m", "99999999999999d", "story", "rule",
     "entity:Tren de Aragua", "source", "PERSON", "military_action", *LEAF_KINDS]
)
rule_keys = st.sampled_from(
    ["id", "name", "severity", "when", "threshold", "group_by", "cooldown", "description", "all", "any", "none",
     *LEAF_KINDS, "min_score", "count", "window", "distinct", "rules"]
) | hostile_text
structures = st.recursive(
    rule_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(rule_keys, children, max_size=5),
    max_leaves=30,
)
leaves = st.one_of(
    st.builds(lambda kind, v: {kind: v}, st.sampled_from(["keyword", "title_keyword", "source", "language", "designation"]),
              hostile_text | st.lists(hostile_text | numbers, max_size=3)),
    st.builds(lambda v: {"entity": v}, st.sampled_from(["Tren de Aragua", "Pentagon", "nobody at all"])),
    st.builds(lambda v: {"entity_type": v}, st.sampled_from([*ENTITY_TYPES, "PLANET"])),
    st.builds(lambda v, s: {"theme": v, "min_score": s}, st.sampled_from(["military_action", "nope"]), st.floats()),
)
conditions = st.recursive(
    leaves,
    lambda children: st.builds(lambda op, items: {op: items}, st.sampled_from(["all", "any", "none"]),
                               st.lists(children, max_size=3)),
    max_leaves=12,
)
rule_shaped = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[a-z0-9][a-z0-9_.\-]{0,20}", fullmatch=True) | hostile_text,
        "name": hostile_text,
        "severity": st.sampled_from(["info", "warning", "critical", "fatal"]),
        "when": st.fixed_dictionaries({}, optional={op: st.lists(conditions, max_size=3) for op in ("all", "any", "none")}),
    },
    optional={
        "threshold": st.fixed_dictionaries(
            {"count": numbers, "window": rule_scalars}, optional={"distinct": st.sampled_from(["source", "x"])}
        ),
        "group_by": st.sampled_from(["story", "rule", "entity:Tren de Aragua", "entity:nobody", "x"]) | hostile_text,
        "cooldown": rule_scalars,
    },
)


@given(hostile_text)
def test_any_text_gives_rules_or_a_rule_error(text):
    parse(text)


@given(st.one_of(structures, st.lists(rule_shaped | structures, max_size=3).map(lambda rules: {"rules": rules})),
       st.booleans())
def test_any_structure_gives_rules_or_a_rule_error(data, unicode_out):
    parse(yaml.safe_dump(data, allow_unicode=unicode_out))


@given(st.data())
def test_damaged_rules_give_rules_or_a_rule_error(data):
    text = GOOD_RULES
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + data.draw(fragments | st.sampled_from(["\n  ", "- ", ": ", "{", "[", "*a", "&a ", "!!int "])) + text[at + cut:]
    parse(text)


def laughs(levels: int, fan: int = 9, leaf: str = "{keyword: lol}") -> str:
    """Rules whose conditions alias their way to fan**levels conditions in a few lines."""
    lines = [f"  - {{id: r0, name: R, severity: info, when: {{any: &x0 [{', '.join([leaf] * fan)}]}}}}"]
    for i in range(1, levels):
        items = ", ".join([f"{{any: *x{i - 1}}}"] * fan)
        lines.append(f"  - {{id: r{i}, name: R, severity: info, when: {{any: &x{i} [{items}]}}}}")
    return "rules:\n" + "\n".join(lines) + "\n"


def rule_text(when: str = "{any: [{keyword: x}]}", **fields: str) -> str:
    body = {"id": "r", "name": "R", "severity": "info", "when": when, **fields}
    return "rules:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in body.items()) + "\n"


BAD_RULES = [
    ("billion laughs", laughs(9), "expands to more than"),
    ("values multiplied by aliases", laughs(6, leaf="{keyword: *v}").replace(
        "rules:\n", "rules:\n  - {id: v, name: V, severity: info, when: {any: [{keyword: &v [" + ", ".join(["a"] * 1000)
        + "]}]}}\n"), "expands to more than"),
    ("a condition that contains itself", "rules: [{id: r, name: R, severity: info, when: &w {any: [*w]}}]",
     "recursive"),
    ("a group that contains itself", "rules: [{id: r, name: R, severity: info, when: {any: &g [{any: *g}]}}]",
     "recursive"),
    ("conditions 17 deep", rule_text(when="{any: [" + "{all: [" * 16 + "{keyword: x}" + "]}" * 16 + "]}"),
     "nested more than"),
    ("flow collections 10,000 deep", "rules: " + "[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ("block sequences 10,000 deep", "rules:\n" + "- " * 10_000, "nested too deeply"),
    ("a 5,000-digit count", rule_text(threshold="{count: 1" + "0" * 5000 + ", window: 1h}"), "too large"),
    ("a 20,000-digit hex cooldown", rule_text(cooldown="0x" + "f" * 20_000), "too large"),
    ("a 2**64 count", rule_text(threshold=f"{{count: {2**64}, window: 1h}}"), "too large"),
    ("a cooldown of a trillion days", rule_text(cooldown="1000000000000d"), "bad duration"),
    ("a window of 2**62 seconds", rule_text(threshold=f"{{count: 1, window: {2**62}}}"), "bad duration"),
    ("a 5,000-digit duration", rule_text(cooldown="1" * 5000 + "s"), "bad duration"),
    ("an infinite min_score", rule_text(when="{any: [{theme: military_action, min_score: .inf}]}"), "min_score"),
    ("a NaN min_score", rule_text(when="{any: [{theme: military_action, min_score: .nan}]}"), "min_score"),
    ("!!int abc", rule_text(cooldown="!!int abc"), "tag"),
    ("!!int with nothing", rule_text(cooldown="!!int ''"), "tag"),
    ("!!bool maybe", rule_text(severity="!!bool maybe"), "tag"),
    ("!!timestamp x", rule_text(cooldown="!!timestamp x"), "tag"),
    ("!!float x", rule_text(cooldown="!!float x"), "tag"),
    ("a python object tag", rule_text(name="!!python/object:os.system x"), "YAML"),
    ("a NUL character", rule_text(name='"a\x00b"'), "YAML"),
    ("a tab indent", "rules:\n\t- id: r\n", "YAML"),
    ("duplicate keys", rule_text(name="A\n    name: B"), "duplicate key"),
    ("a list as a key", "rules: [{? [a, b] : 1}]", "keys must be text"),
    ("a huge hex key", "rules: [{0x" + "f" * 1000 + ": 1}]", "too large"),
    ("a key longer than YAML's simple keys", "rules: [{" + "k" * 2000 + ": 1}]", "YAML"),
    ("a 1 MB rule id", rule_text(id="a" * MIB), "`id`"),
    ("a 1 MB unknown key", "rules:\n  - ? " + "k" * MIB + "\n    : 1\n", "unknown key"),
    ("a merge of a scalar", "rules: [{<<: 1}]", "YAML"),
    ("not a mapping", "- a\n- b\n", "a rules file is a mapping"),
    ("keyword of punctuation only", rule_text(when="{any: [{keyword: '\u202e!!\u200b'}]}"), "letter or digit"),
    ("1,001 keywords", rule_text(when="{any: [{keyword: [" + ", ".join(["k"] * 1001) + "]}]}"), "1..1000"),
    ("an RTL id", rule_text(id="'\u202er'"), "`id`"),
    ("an id ending in a newline", rule_text(id='"r\\n"'), "`id`"),
    ("emoji severity", rule_text(severity="'\U0001f525'"), "bad severity"),
]


@pytest.mark.parametrize(("text", "words"), [pytest.param(t, w, id=name) for name, t, w in BAD_RULES])
def test_hostile_rules_give_a_clear_rule_error(text, words):
    error = parse(text)
    assert isinstance(error, RuleError), error
    assert words in str(error)


def test_rule_error_messages_stay_short_whatever_the_input():
    error = parse(rule_text(severity="s" * MIB))
    assert len(str(error)) < 300


# --- the KB loader ---------------------------------------------------------------------------

entity_shaped = st.fixed_dictionaries(
    {
        "id": hostile_text | numbers,
        "name": hostile_text,
        "type": st.sampled_from([*ENTITY_TYPES, "PLANET"]),
        "subtype": st.sampled_from(["country", "x" * 61]) | hostile_text,
    },
    optional={
        "aliases": st.lists(hostile_text | numbers, max_size=4) | json_values,
        "weak_aliases": st.lists(hostile_text, max_size=3),
        "context": st.lists(hostile_text, max_size=3),
        "designations": st.lists(
            st.fixed_dictionaries({"list": hostile_text}, optional={"effective": hostile_text | json_values}), max_size=2
        ),
        "attributes": json_values,
    },
)
kb_shaped = st.one_of(
    st.lists(entity_shaped, max_size=5),
    st.builds(lambda e, s: {"entities": e, "stop_phrases": s}, st.lists(entity_shaped, max_size=5),
              st.lists(hostile_text, max_size=3) | json_values),
    json_values,
)
themes_shaped = st.one_of(
    st.builds(lambda t: {"themes": t}, st.lists(
        st.fixed_dictionaries({"id": hostile_text, "name": hostile_text,
                               "phrases": st.dictionaries(hostile_text, st.lists(hostile_text, max_size=3), max_size=2)}),
        max_size=3,
    )),
    json_values,
)


@given(kb_shaped, themes_shaped, hostile_text, hostile_text)
def test_any_kb_gives_a_tagger_or_a_kb_error(kb, themes, title, body):
    try:
        entities = parse_entities(kb)
        stop_phrases = parse_stop_phrases(kb)
        theme_list = parse_themes(themes)
    except KBError as e:
        assert str(e) and len(str(e)) <= 1000
        return
    tags = Tagger(entities, theme_list, stop_phrases).tag(title, body)
    for entity in tags.entities:
        for mention in entity["mentions"]:
            assert 0 <= mention["start"] < mention["end"] <= len(body)
            assert body[mention["start"] : mention["end"]] == mention["text"]
    codec.dumps([tags.entities, tags.themes, tags.unlinked])


def load_text(text: str | bytes, suffix: str):
    """`load_kb` on a file holding `text`, or the KBError; nothing else may escape."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"kb{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        try:
            return load_kb(path)
        except KBError as e:
            assert str(e) and len(str(e)) <= 1000, str(e)[:2000]
            return e


@given(st.binary(max_size=500) | hostile_text, st.sampled_from([".yaml", ".json", ".jsonl", ".txt"]))
def test_any_kb_file_gives_entities_or_a_kb_error(content, suffix):
    load_text(content, suffix)


@given(kb_shaped, st.sampled_from(["yaml", "json", "jsonl"]))
def test_any_kb_structure_in_any_format_gives_entities_or_a_kb_error(data, fmt):
    if fmt == "yaml":
        text = yaml.safe_dump(data, allow_unicode=True)
    elif fmt == "json":
        text = json.dumps(data, ensure_ascii=False)
    else:
        text = "\n".join(json.dumps(item, ensure_ascii=False) for item in (data if isinstance(data, list) else [data]))
    load_text(text, f".{fmt}")


KB_ENTITY = {"id": "x", "name": "Xavier Ortiz", "type": "PERSON", "subtype": "official"}
BAD_KBS = [
    ("billion laughs", ".yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
     + "entities: []\n", "aliases expand"),
    ("aliases multiplied across entities", ".yaml", "v: &v [" + ", ".join(f"a{i}" for i in range(2000)) + "]\nentities:\n"
     + "".join(f"  - {{id: e{i}, name: E, type: PERSON, subtype: s, aliases: *v}}\n" for i in range(2000)), "aliases expand"),
    ("an alias inside itself", ".yaml", "a: &a [*a]\nentities: []\n", "refer to themselves"),
    ("YAML 10,000 deep", ".yaml", "[" * 10_000, "nested too deeply"),
    ("JSON 10,000 deep", ".json", "[" * 10_000 + "]" * 10_000, "not valid JSON"),
    ("JSONL 10,000 deep", ".jsonl", json.dumps(KB_ENTITY) + "\n" + "[" * 10_000, "line 2"),
    ("a 5,000-digit YAML integer", ".yaml", "entities: [{id: 1" + "0" * 5000 + "}]", "not valid YAML"),
    ("a 20,000-digit hex id", ".yaml", "entities: [{id: 0x" + "f" * 20_000 + ", name: X}]", "(no id)"),
    ("a 20,000-digit hex alias", ".yaml", "entities: [{id: x, name: X, type: PERSON, subtype: s, aliases: [0x"
     + "f" * 20_000 + "]}]", "aliases"),
    ("1e400 in JSON", ".json", '[{"id": "x", "name": "X", "type": "PERSON", "subtype": "s", "n": 1e400}]', "infinity"),
    ("!!bool maybe", ".yaml", "entities: !!bool maybe", "not valid YAML"),
    ("!!int with nothing", ".yaml", "entities: !!int ''", "not valid YAML"),
    ("!!timestamp x", ".yaml", "entities: [{id: !!timestamp x}]", "not valid YAML"),
    ("a python object tag", ".yaml", "entities: !!python/object:os.system x", "not valid YAML"),
    ("invalid UTF-8", ".yaml", b"entities: [\xff]", "cannot be read"),
    ("a NUL character", ".yaml", "entities: [a\x00]", "not valid YAML"),
    ("a 1 MB id", ".json", json.dumps([{**KB_ENTITY, "id": "i" * MIB}]), "`id`"),
    ("an RTL-only alias is dropped, a 300-character one is not", ".json",
     json.dumps([{**KB_ENTITY, "aliases": ["\u202e", "a" * 300]}]), "200 characters"),
]


@pytest.mark.parametrize(("suffix", "text", "words"), [pytest.param(s, t, w, id=name) for name, s, t, w in BAD_KBS])
def test_hostile_kb_files_give_a_clear_kb_error(suffix, text, words):
    error = load_text(text, suffix)
    assert isinstance(error, KBError), error
    assert words in str(error)


def test_jsonl_lines_may_hold_unicode_line_separators():
    entity = {**KB_ENTITY, "aliases": ["Xavier\u2028Ortiz", "X.\u0085O.", "X\u2029O"]}
    entities, _ = load_text(json.dumps(entity, ensure_ascii=False) + "\n", ".jsonl")
    assert entities[0].aliases == ("Xavier\u2028Ortiz", "X.\u0085O.", "X\u2029O")


# --- linear time ------------------------------------------------------------------------------
#
# Each pathological input is timed at size n and 10n (the best of a few runs, after a warm-up);
# linear code takes ~10x as long (up to ~20x once the larger input no longer fits the CPU's
# caches), quadratic ~100x. The bound of 30x leaves room for that and for a noisy, shared
# machine: noise only ever slows a run, so a second round may clear it; a quadratic fails
# every round.

PATHOLOGICAL = {
    "open angle brackets": lambda n: "<" * n,
    "ampersands": lambda n: "&" * n,
    "unclosed tags": lambda n: "<a " * (n // 3),
    "a tag that never closes": lambda n: "<p " + "a" * n,
    "unclosed tag names": lambda n: "<p<div" * (n // 6),
    "comment openers": lambda n: "<!--" * (n // 4),
    "script openers": lambda n: "<p>" + "<script>" * (n // 8),
    "unclosed script closers": lambda n: "<p><script>" + "</script " * (n // 9),
    "one long decimal reference": lambda n: "<p>&#" + "9" * n,
    "one long hex reference": lambda n: "<p>&#x" + "f" * n,
    "reference openers": lambda n: "<p>" + "&#" * (n // 2),
    "long references": lambda n: "<p>" + ("&#" + "1" * 30 + ";") * (n // 33),
    "capitalised words": lambda n: "Ab " * (n // 3),
    "capitalised words with particles": lambda n: "Ab de la " * (n // 9),
    "one name then particles": lambda n: "Ab" + " de" * (n // 3) + " x",
    "combining marks": lambda n: "a" + "\u0301" * n,
    "combining marks in turn": lambda n: "e\u0301\u0308" * (n // 3),
    "one run of alternating combining classes": lambda n: "a" + "\u0301\u0327" * (n // 2),
    "marks that decompose in two": lambda n: "\u0f40" + "\u0f73" * n,
    "half-width sound marks": lambda n: "\uff76" + "\uff9e" * n,
    "RTL marks": lambda n: "a\u200f" * (n // 2),
    "emoji ZWJ sequences": lambda n: "\U0001f469\u200d\U0001f469\u200d\U0001f467 " * (n // 6),
    "ligatures that expand 18 times": lambda n: "\ufdfa" * (n // 18),
    "one long word": lambda n: "a" * n,
    "many short lines": lambda n: "a\n" * (n // 2),
    "blank lines": lambda n: "a" + "\n" * n + "b",
    "spaces": lambda n: "a" + " \t\u00a0" * (n // 3) + "b",
    "entity names": lambda n: "Tren de Aragua, Pentagon, US Navy. " * (n // 34),
    "rule keywords": lambda n: "strike airstrike FTO " * (n // 21),
}


def best_time(fn, arg, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - started)
    return best


def assert_linear(fn, make, n: int) -> None:
    small, large = make(n), make(10 * n)
    fn(small)
    ratios = []
    for _ in range(3):
        ratios.append(best_time(fn, large, 3) / best_time(fn, small, 5))
        if ratios[-1] < 30:
            return
    raise AssertionError(f"10x the input took {', '.join(f'{r:.0f}x' for r in ratios)} the time")


def whole_path(body: str) -> None:
    outcome, _ = run(raw_bytes(title=body[:2000], body=body))
    assert outcome.kind == "enriched" or outcome.dead.error.code == "empty_body", outcome.dead.error.message


@pytest.mark.parametrize("make", [pytest.param(m, id=name) for name, m in PATHOLOGICAL.items()])
def test_message_path_is_linear_on_pathological_bodies(make):
    # Decode, normalise, tag, fingerprint and match rules: everything the agent does per message.
    assert_linear(whole_path, make, 20_000)


@pytest.mark.parametrize("make", [pytest.param(m, id=name) for name, m in PATHOLOGICAL.items()])
def test_title_normalisation_is_linear_on_pathological_titles(make):
    assert_linear(normalize_title, make, 50_000)


def test_rule_parsing_is_linear_in_the_rules_text():
    resolve, themes = resolver()

    def rules(n: int) -> str:
        return "rules:\n" + "".join(rule_text(id=f"r{i}", when=f"{{any: [{{keyword: [k{i}, 'Ab de {i}']}}]}}")[7:]
                                    for i in range(n // 60))

    assert_linear(lambda text: parse_rules(text, resolve, themes), rules, 3_000)


def test_alias_expansion_work_is_bounded_not_exponential(monkeypatch):
    # An operation count, not a timing: the parser stops once the file's budget is spent.
    from service.core.rules import parse as parse_module

    calls = 0

    def counting_fold(text: str, fold=parse_module.fold) -> str:
        nonlocal calls
        calls += 1
        return fold(text)

    monkeypatch.setattr(parse_module, "fold", counting_fold)
    assert isinstance(parse(laughs(12)), RuleError)
    assert 0 < calls <= parse_module.MAX_ITEMS
