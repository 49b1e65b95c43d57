import pytest

from service.core.normalize import (
    InvalidURL,
    canonical_url,
    looks_like_html,
    normalize_body,
    normalize_text,
    normalize_title,
    title_from_body,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.COM/a", "https://news.example.com/a"),
        ("https://news.example/a#section-2", "https://news.example/a"),
        ("https://news.example/a?utm_source=x&utm_medium=y&id=3", "https://news.example/a?id=3"),
        ("https://news.example/a?fbclid=abc&gclid=def", "https://news.example/a"),
        ("https://news.example/a?b=2&a=1", "https://news.example/a?a=1&b=2"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://user:pw@news.example/a", "https://news.example/a"),
        ("https://news.example", "https://news.example/"),
        ("  https://news.example/a  ", "https://news.example/a"),
        ("https://news.example./a", "https://news.example/a"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", ["news.example/a", "ftp://news.example/a", "javascript:alert(1)", "https://", "http://[::1"])
def test_canonical_url_rejects(url):
    with pytest.raises(InvalidURL):
        canonical_url(url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a   b  ", "a b"),
        ("a\r\nb", "a\nb"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("a\u200bb\ufeff", "ab"),
        ("nul\x00byte", "nulbyte"),
        ("ﬁnance", "finance"),  # NFKC folds the ligature
        ("Ａ", "A"),
        ("tab\there", "tab here"),
        ("non\u00a0breaking", "non breaking"),
        ("café", "café"),
        ("e\u0301", "é"),  # combining accent composes
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_html_body_is_stripped_to_paragraphs():
    body = "<html><head><style>p{}</style></head><body><h1>Strike</h1><p>One&nbsp;<b>two</b></p><script>x()</script><p>Three</p></body></html>"
    assert normalize_body(body) == ("Strike\n\nOne two\n\nThree", "html")


@pytest.mark.parametrize(
    ("text", "is_html"),
    [("<p>x</p>", True), ("a <br/> b", True), ("profits < costs > zero", False), ("x < y", False), ("<DIV class=a>", True)],
)
def test_looks_like_html(text, is_html):
    assert looks_like_html(text) is is_html


def test_plain_body_keeps_angle_brackets():
    assert normalize_body("a < b and c > d") == ("a < b and c > d", "text")


def test_title_from_body_is_first_nonempty_line():
    assert title_from_body("\n\nFirst line\n\nSecond") == "First line"


def test_title_from_body_cuts_long_lines_at_a_word():
    title = title_from_body("word " * 200)
    assert len(title) <= 301 and title.endswith("…") and "wor…" not in title


def test_normalize_title_is_one_line_without_tags():
    assert normalize_title("  <b>Big</b>\n news &amp; more ") == "Big news & more"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>" + "<a " * 20000, "<a " * 20000),  # unclosed tags stay text
        ("<p>a<!-- never closed " + "x" * 50000, "a"),
        ("<p>" + "<!--" * 20000, ""),
        ("<p>x<script>" * 20000, "x"),
        ("<p>" + "</" * 20000, "</" * 20000),
        ("<p>" + "&" * 20000, "&" * 20000),
        ("<p>a</p><!DOCTYPE html><?xml x?><p>b</p>", "a\n\nb"),
        ("<P>Upper<BR>case</P>", "Upper\ncase"),
        ("<p>x<style>p { color: red }</style>y</p>", "xy"),
    ],
)
def test_hostile_html_is_stripped_in_one_pass(html, expected):
    assert normalize_body(html)[0] == normalize_text(expected)
