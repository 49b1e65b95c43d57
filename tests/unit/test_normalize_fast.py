"""The fast normaliser gives exactly what the straightforward one gave, for any input.

`_reference_*` below is the normaliser as it was before its fast paths (one regex per step,
one `_SPACES.sub` per line), kept here only as the oracle: every output must be identical,
character for character, on generated articles and on hostile text.
"""

import re
import unicodedata
from functools import cache
from html import unescape
from pathlib import Path

import orjson
import pytest
from hypothesis import given, strategies as st

from service.core import normalize
from service.core.normalize import _INVISIBLE, _cap_marks, html_to_text, normalize_body, normalize_text, normalize_title
from service.generate import Generator

# --- the reference: the normaliser before its fast paths, verbatim --------------------------

_REF_HTML_HINT = re.compile(
    r"<(?:p|div|br|span|a|html|body|article|section|h[1-6]|ul|ol|li|table|strong|em|b|i|"
    r"blockquote|figure|img|script|style)\b[^<>]{0,1000}>",
    re.IGNORECASE,
)
_REF_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article header footer blockquote "
    "figure figcaption pre hr aside nav main dd dt dl".split()
)
_REF_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_REF_INVISIBLE = (
    "\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad"
    "\u061c\u180e\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d\u206e\u206f"
)
_REF_LINE_BREAK = re.compile("\r\n?|[\x0b\x0c\x85\u2028]")
_REF_CONTROL = "".join(chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r\x0b\x0c\x85")
_REF_DROP = re.compile(f"[{re.escape(_REF_CONTROL + _REF_INVISIBLE)}]+")
_REF_MARKS = "".join(
    c for c in map(chr, range(0x20000))
    if unicodedata.combining(c) or (unicodedata.decomposition(c) and unicodedata.combining(unicodedata.normalize("NFKD", c)[0]))
)
_REF_MAX_MARKS = 30
_REF_BMP_MARKS = re.escape("".join(c for c in _REF_MARKS if c <= "\uffff"))
_REF_BMP_MARK_RUN = re.compile(f"([{_REF_BMP_MARKS}]{{{_REF_MAX_MARKS}}})[{_REF_BMP_MARKS}]+")
_REF_MARK_RUN = re.compile(f"([{re.escape(_REF_MARKS)}]{{{_REF_MAX_MARKS}}})[{re.escape(_REF_MARKS)}]+")
_REF_ASTRAL_MARK_SPAN = re.compile(f"[{min(c for c in _REF_MARKS if c > chr(0xFFFF))}-{_REF_MARKS[-1]}]")
_REF_SPACES = re.compile(r"[ \t]{2,}|\t")
_REF_BLANK_RUNS = re.compile(r"\n{3,}")
_REF_TOKEN = re.compile(r"<!--|<(/?)([a-zA-Z][a-zA-Z0-9:-]*)(?:[\s/][^<>]*)?>|<[!?][^<>]*>")
_REF_LONG_DECIMAL_REF = re.compile(r"&#([0-9]{8,});?")
_REF_MAX_CODE_POINT_DIGITS = 7


def _reference_cap_marks(text: str) -> str:
    text = _REF_BMP_MARK_RUN.sub(r"\1", text)
    return _REF_MARK_RUN.sub(r"\1", text) if _REF_ASTRAL_MARK_SPAN.search(text) else text


def _reference_long_decimal_ref(match: re.Match) -> str:
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > _REF_MAX_CODE_POINT_DIGITS:
        return "\ufffd"
    return unescape(f"&#{digits};")


def _reference_unescape_html(text: str) -> str:
    return unescape(_REF_LONG_DECIMAL_REF.sub(_reference_long_decimal_ref, text))


def _reference_html_to_text(html: str) -> str:
    parts: list[str] = []
    pos, end = 0, len(html)
    while pos < end:
        match = _REF_TOKEN.search(html, pos)
        if match is None:
            parts.append(html[pos:])
            break
        parts.append(html[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token == "<!--":
            close = html.find("-->", pos)
            pos = end if close < 0 else close + 3
            continue
        tag = (match.group(2) or "").lower()
        if not tag:
            continue
        if tag in _REF_SKIP_TAGS and not match.group(1) and not token.endswith("/>"):
            close = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(html, pos)
            pos = end if close is None else close.end()
        elif tag == "br":
            parts.append("\n")
        elif tag in _REF_BLOCK_TAGS:
            parts.append("\n\n")
    return _reference_unescape_html("".join(parts))


def _reference_normalize_text(text: str) -> str:
    text = _REF_DROP.sub("", _REF_LINE_BREAK.sub("\n", text).replace("\u2029", "\n\n"))
    text = unicodedata.normalize("NFKC", _reference_cap_marks(text))
    text = _reference_cap_marks(text)
    lines = (_REF_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _REF_BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _reference_normalize_body(body: str) -> tuple[str, str]:
    if _REF_HTML_HINT.search(body) is not None:
        return _reference_normalize_text(_reference_html_to_text(body)), "html"
    return _reference_normalize_text(body), "text"


def _reference_normalize_title(title: str) -> str:
    if "<" in title or "&" in title:
        title = _reference_html_to_text(title)
    return " ".join(_reference_normalize_text(title).split())


def assert_same(text: str) -> None:
    assert normalize_text(text) == _reference_normalize_text(text), ascii(text)
    assert normalize_body(text) == _reference_normalize_body(text), ascii(text)
    assert normalize_title(text) == _reference_normalize_title(text), ascii(text)
    assert _cap_marks(text) == _reference_cap_marks(text), ascii(text)
    assert html_to_text(text) == _reference_html_to_text(text), ascii(text)


# --- realistic text --------------------------------------------------------------------------


@cache
def generated_texts() -> list[str]:
    """Bodies and titles of the benchmark's 2,000 generated messages (the valid ones)."""
    texts = []
    for message in Generator(2000, 0.3, 0.05, 1).messages():
        try:
            article = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(article, dict):
            texts += [article[k] for k in ("body", "title") if isinstance(article.get(k), str)]
    return texts


def as_html(text: str) -> str:
    paragraphs = "".join(f"<p>{p.replace('&', '&amp;')}</p>\r\n" for p in text.split("\n\n"))
    return f"<html><head><style>p {{}}</style></head><body><h1>T</h1>{paragraphs}<script>x()</script></body></html>"


def test_generated_articles_normalise_as_before():
    texts = generated_texts()
    assert len(texts) > 3000
    for text in texts:
        assert_same(text)


def test_generated_articles_in_other_spellings_normalise_as_before():
    # The same articles the way other producers send them: CRLF, tabs and double spaces, HTML,
    # ASCII only, with invisible characters, decomposed accents, no-break spaces and ellipses.
    for text in generated_texts()[:300]:
        for variant in (
            text.replace("\n", "\r\n"),
            text.replace(". ", ".  ").replace(", ", ",\t"),
            as_html(text),
            text.encode("ascii", "replace").decode(),
            text.replace(" ", " \u200b").replace("\n", "\u2029"),
            unicodedata.normalize("NFD", text),
            text.replace(" ", "\u00a0", 40).replace("...", "\u2026").replace(". ", ".\u2009\ufb01 ", 3),
        ):
            assert_same(variant)


def test_the_project_seed_articles_normalise_as_before():
    seeds = Path(__file__).resolve().parents[2] / "seeds" / "articles"
    texts = [p.read_text() for p in sorted((seeds / "txt").glob("*.txt"))]
    for line in (seeds / "articles.jsonl").read_text().splitlines():
        article = orjson.loads(line)
        texts += [article[k] for k in ("body", "title") if isinstance(article.get(k), str)]
    assert texts
    for text in texts:
        assert_same(text)


# --- hostile text ----------------------------------------------------------------------------

ASTRAL_MARKS = ["\U000101fd", "\U0001d165", "\U0001d167", "\U0001e94a", "\U00011c92"]
PIECES = [
    # line breaks, spaces and tabs
    "\n", "\r", "\r\n", "\n\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\t", " ", "  ", " \t ",
    "\u00a0", "\u3000", "\u2002", "\u2003", "\u2009", "\u1680", "\u202f", "\u205f", "\x1c", "\x1f",
    # controls
    "\x00", "\x01", "\x08", "\x0e", "\x1b", "\x7f", "\x80", "\x9f",
    # every invisible character
    *_INVISIBLE, "\u200d",
    # combining marks, marks that decompose in two, and what NFKC turns into marks
    "e", "a", "\u0301", "\u0308", "\u0327", "\u0345", "\u20dd", "\u093c", "\u0915", "\u0344", "\u0340",
    "\u0f40", "\u0f73", "\u0f75", "\u0f81", "\u0f71", "\u0f72", "\u0f80", "\uff76", "\uff9e", "\u00b4", "\u1fed",
    "\u1100", "\u1161", "\u11a8",
    *ASTRAL_MARKS, "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f1fb\U0001f1ea", "\U00020000",
    # runs of marks either side of the cap
    "\u0301" * 29, "\u0301" * 30, "\u0301" * 31, "\u0327\u0301" * 16, "\u0f73" * 16, "\U0001d165" * 15,
    # compatibility forms and HTML
    "\u2026", "\u2122", "\ufb01", "\ufdfa", "\u2163", "\uff21", "<p>", "</p>", "<br>", "<script>", "</script>", "<!--", "-->",
    "&amp;", "&#" + "9" * 12 + ";", "&#0000000065;", "&", "<",
]
fragments = st.one_of(st.sampled_from(PIECES), st.characters(), st.text(max_size=6))
hostile_text = st.lists(fragments, max_size=60).map("".join)
HTML_PIECES = [
    "<p>", "</p>", "<br>", "<br/>", "<BR >", "<div class='a'>", "</div>", "<b>", "</b>", "<i>", "<a href='x'>",
    "<script>", "</script>", "</script >", "<SCRIPT>", "<style>", "</style>", "<svg>", "</svg>", "<head>", "</head>",
    "<script/>", "</noscript>", "<template>", "</template>", "<!--", "-->", "<!DOCTYPE html>", "<?xml?>", "<",
    ">", "</", "&amp;", "&", "&#65;", "&#x41;", "&#" + "1" * 9 + ";", "&nbsp;", "text", " ", "\n",
]
html_text = st.lists(st.sampled_from(HTML_PIECES) | st.text("ab <>&;/!-", max_size=3), max_size=40).map("".join)
marks_and_breaks = st.text(st.sampled_from(["a", " ", "\n", "\u200b", "\u0301", "\u0f73", "\U0001d165", "\u00b4"]), max_size=200)


@given(hostile_text)
def test_hostile_text_normalises_as_before(text):
    assert_same(text)


@given(st.text())
def test_any_text_normalises_as_before(text):
    assert_same(text)


@given(marks_and_breaks)
def test_runs_of_marks_and_breaks_normalise_as_before(text):
    assert_same(text)


@given(html_text)
def test_html_normalises_as_before(text):
    assert_same(text)
    assert_same("<p>" + text)


@pytest.mark.parametrize(
    "html",
    ["<p>a<!-- <b>x</b> -->b</p>", "<p>a<script>if (a<b) { x = '<div>' }</script>b<br>c", "<style>p<i>{}</i></style><p>x",
     "<!--<p>x", "<p>a<!-- b <!-- c --> d -->e", "<svg><p>x</p></svg><p>y", "<head><title>t</title></head><body><p>b",
     "<p>x<script>y", "<p>x<script/>y<p>z", "<p>x</script>y", "<P>a<BR>b</P><SCRIPT>c<b>d</SCRIPT >e"],
)
def test_tags_inside_comments_and_skipped_elements_stay_skipped(html):
    assert_same(html)


@given(st.text(st.characters(max_codepoint=127)))
def test_ascii_text_normalises_as_before(text):
    assert_same(text)


LONG_RUNS = {
    "one mark": "a" + "\u0301" * 5000,
    "alternating classes": "a" + "\u0301\u0327" * 2000,
    "just under the cap": "a" + "\u0301" * 29 + " b" + "\u0301" * 30,
    "just over the cap": "a" + "\u0301" * 31 + "\n\n" + "b" + "\u0301" * 32,
    "astral marks": "a" + "\U0001d165" * 3000,
    "BMP then astral": "a" + "\u0301" * 40 + "\U0001d165" * 40,
    "astral then BMP": "a" + "\U0001d165" * 20 + "\u0301" * 20,
    "marks that decompose in two": "\u0f40" + "\u0f73" * 3000,
    "split marks at the cap": "\u0f40" + "\u0f73" * 15 + "\u0f71" + "x",
    "compatibility marks": "\u00b4" * 3000,
    "half-width sound marks": "\uff76" + "\uff9e" * 3000,
    "runs joined by dropped characters": "a" + ("\u0301" * 20 + "\u200b") * 50,
    "runs joined by line breaks": "a" + ("\u0301" * 20 + "\r\n") * 50,
    "leading marks": "\u0301" * 100 + "a",
    "marks between tabs": "\t" + "\u0301" * 40 + "\t \t",
}


@pytest.mark.parametrize("text", [pytest.param(t, id=name) for name, t in LONG_RUNS.items()])
def test_long_mark_runs_normalise_as_before(text):
    assert_same(text)
    assert_same(text * 3)


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n", "\t", "\r\n\r\n\r\n", " \n \n \n a \n \n \n ", "\u1680a\u1680\n\u1680", "a\x00\x00b",
     "\x1c\x1d\x1e\x1f", "a\u2029\u2029b", "\r\r\n\n", "\u00a0 \u00a0", "a  \t  b\t\tc"],
)
def test_edge_cases_normalise_as_before(text):
    assert_same(text)


def test_characters_decomposed_before_nfkc_are_replaced_by_their_decomposition_without_marks():
    # What makes replacing them first give NFKC's own output, and skipping the second cap safe.
    for compat, decomposed in normalize._COMMON_COMPAT:
        assert decomposed == unicodedata.normalize("NFKD", compat) == unicodedata.normalize("NFKC", compat)
        assert not any(unicodedata.combining(c) or c in _REF_MARKS for c in decomposed)


def test_the_fast_patterns_match_what_the_old_ones_matched():
    # The regexes were respelt for speed, not meaning: same language, same groups.
    for text in ["a  b", "a \t b", "\t", "a\t b", " ", "a b", "\t\t", "  \t  x \t"]:
        assert normalize._SPACES.sub(" ", text) == _REF_SPACES.sub(" ", text)
        if "\t" not in text:
            assert normalize._DOUBLE_SPACES.sub(" ", text) == _REF_SPACES.sub(" ", text)
