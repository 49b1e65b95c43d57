"""Text, HTML, URL and title normalisation. Every function is linear in its input."""

import re
import unicodedata
from html import unescape
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Tags whose presence makes a body HTML rather than text that mentions `<`.
_HTML_HINT = re.compile(
    r"<(?:p|div|br|span|a|html|body|article|section|h[1-6]|ul|ol|li|table|strong|em|b|i|"
    r"blockquote|figure|img|script|style)\b[^<>]{0,1000}>",
    re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article header footer blockquote "
    "figure figcaption pre hr aside nav main dd dt dl".split()
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg"})

# Invisible characters that only get in the way of matching; bidi marks are kept out too
# because they let two identical-looking texts differ. The zero-width joiner stays: emoji
# sequences need it.
_INVISIBLE = (
    "\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad"
    "\u061c\u180e\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d\u206e\u206f"
)
# Line breaks in any of their spellings become "\n" before anything else looks at lines
# ("\r\n" first, so that it makes one break, not two). str.replace rather than a regex: its
# scan for one character is ~40x faster than the regex engine's, and most text has none of them.
_LINE_BREAKS = (("\r", "\n"), ("\x0b", "\n"), ("\x0c", "\n"), ("\x85", "\n"), ("\u2028", "\n"), ("\u2029", "\n\n"))
_CONTROL = "".join(chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r\x0b\x0c\x85")
# A regex, not str.translate: translate looks every character of non-ASCII text up in a dict.
# The patterns that scan whole texts start with a plain class or a literal (`[x][x]*`, not
# `[x]+`): the regex engine then skips ahead to the next character that can start a match
# instead of trying a match at every position, ~3x faster.
_DROP = re.compile(f"[{re.escape(_CONTROL + _INVISIBLE)}][{re.escape(_CONTROL + _INVISIBLE)}]*")
# ASCII text can only hold control characters of those; bytes.translate drops them in one pass.
_ASCII_DROP = bytes(c for c in range(128) if chr(c) in _CONTROL + _INVISIBLE)
# Characters that attach to the one before them: combining class above 0, or a decomposition
# that starts with such a mark (all lie below U+20000). Unicode's stream-safe format allows
# 30 in a row; longer runs are never text ("Zalgo"), and NFKC sorts a run's marks by insertion,
# quadratic in its length: a 2 MB run of two alternating marks would take minutes.
_MARKS = "".join(
    c for c in map(chr, range(0x20000))
    if unicodedata.combining(c) or (unicodedata.decomposition(c) and unicodedata.combining(unicodedata.normalize("NFKD", c)[0]))
)
MAX_MARKS = 30
# Two patterns, because a class with characters past U+FFFF is tested range by range (~25x
# slower); the full one only runs on text that has characters in the astral marks' span.
_BMP_MARKS = re.escape("".join(c for c in _MARKS if c <= "\uffff"))
_BMP_MARK_RUN = re.compile(f"([{_BMP_MARKS}][{_BMP_MARKS}]{{{MAX_MARKS - 1}}})[{_BMP_MARKS}]+")
_MARK_RUN = re.compile(f"([{re.escape(_MARKS)}][{re.escape(_MARKS)}]{{{MAX_MARKS - 1}}})[{re.escape(_MARKS)}]+")
_ASTRAL_MARK_SPAN = f"{min(c for c in _MARKS if c > chr(0xFFFF))}-{_MARKS[-1]}"
_HAS_ASTRAL_MARK_SPAN = re.compile(f"[{_ASTRAL_MARK_SPAN}]")
# Anything that dropping or capping would change. Most text has none, and one scan for both
# (the astral marks as the one range they span) is cheaper than the two steps' own scans.
_DROPPED_OR_MARK = re.compile(f"[{re.escape(_CONTROL + _INVISIBLE)}{_BMP_MARKS}{_ASTRAL_MARK_SPAN}]")


def _cap_marks(text: str) -> str:
    text = _BMP_MARK_RUN.sub(r"\1", text)
    return _MARK_RUN.sub(r"\1", text) if _HAS_ASTRAL_MARK_SPAN.search(text) else text


def _break_lines(text: str) -> str:
    if "\r" in text:  # a scan for "\r\n" costs 15x one for "\r"
        text = text.replace("\r\n", "\n")
    for spelling, line_break in _LINE_BREAKS:
        text = text.replace(spelling, line_break)
    return text


def _drop_and_cap(text: str) -> str:
    """The text without control or invisible characters, its runs of marks capped."""
    if text.isascii():
        # No marks in ASCII, and nothing to find for the regex: translate is ~5x faster.
        return text.encode("ascii").translate(None, _ASCII_DROP).decode("ascii")
    if _DROPPED_OR_MARK.search(text) is None:
        return text
    return _cap_marks(_DROP.sub("", text))


# Compatibility characters common in news text: no-break, thin and other spaces, the ellipsis,
# the trade mark sign. NFKC makes each what it decomposes to, so replacing them first changes
# nothing, but leaves most text NFKC already, which NFKC then checks (~15x faster) rather than
# rebuilds, and which needs no second cap. None decomposes to a mark.
_COMMON_COMPAT = tuple((c, unicodedata.normalize("NFKD", c)) for c in "\u00a0\u2002\u2003\u2009\u202f\u2026\u2122")


def _decompose_common(text: str) -> str:
    for compat, decomposed in _COMMON_COMPAT:
        text = text.replace(compat, decomposed)
    return text


# After NFKC, which makes every other space character U+0020 (but the ogham space mark).
# The same matches as `[ \t]{2,}|\t` (two or more, or one tab), each branch spelt to start
# with a literal.
_SPACES = re.compile(r" [ \t]+|\t[ \t]*")
# Without a tab, the same matches again: found ~3x faster by their literal start.
_DOUBLE_SPACES = re.compile("  +")
# A literal prefix ("\n\n\n" rather than `\n{3,}`): the engine searches for it ~10x faster.
_BLANK_RUNS = re.compile(r"\n\n\n+")


def _tidy_lines(text: str) -> str:
    """Single spaces, trimmed lines, paragraphs split by one blank line, no blank at either end."""
    # A run of spaces and tabs never holds a "\n": one pass over the text matches what one pass
    # per line would. Most text has no double space nor tab, and `in` finds that out fastest.
    if "\t" in text:
        text = _SPACES.sub(" ", text)
    elif "  " in text:
        text = _DOUBLE_SPACES.sub(" ", text)
    text = "\n".join([line.strip() for line in text.split("\n")])
    return _BLANK_RUNS.sub("\n\n", text).strip()


TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid",
     "mc_eid", "_ga", "_gl", "cmpid", "ocid", "smid", "ref_src", "spm", "oly_enc_id", "oly_anon_id",
     "__twitter_impression", "vero_id", "mkt_tok"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_TITLE_FROM_BODY = 300


def looks_like_html(text: str) -> bool:
    """True when the text contains common HTML element tags."""
    return _HTML_HINT.search(text) is not None


# One token at a time: a comment opener, a tag, or a declaration. Every alternative is
# anchored on `<` and cannot cross another `<`, so a scan is linear even on hostile input
# (the standard library's HTMLParser is quadratic on unclosed tags in this Python).
_TOKEN = re.compile(r"<!--|<(/?)([a-zA-Z][a-zA-Z0-9:-]*)(?:[\s/][^<>]*)?>|<[!?][^<>]*>")
# The end tag of each skipped element, compiled once rather than looked up per element.
_SKIP_END = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in _SKIP_TAGS}


# A decimal character reference of 8+ digits: html.unescape would call int() on all of them,
# which raises past 4,300 digits (and costs quadratic time below that).
_LONG_DECIMAL_REF = re.compile(r"&#([0-9]{8,});?")
_MAX_CODE_POINT_DIGITS = 7


def _long_decimal_ref(match: re.Match) -> str:
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > _MAX_CODE_POINT_DIGITS:
        return "\ufffd"  # what html.unescape gives any reference past U+10FFFF
    return unescape(f"&#{digits};")


def _unescape_html(text: str) -> str:
    """`html.unescape`, linear in the text whatever the length of its character references."""
    return unescape(_LONG_DECIMAL_REF.sub(_long_decimal_ref, text))


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, block elements as paragraph breaks; linear time."""
    parts: list[str] = []
    pos, end = 0, len(html)
    while pos < end:
        # One scan while tokens follow one another, a new one past a comment or a skipped
        # element: the iterator costs less per token than a `search` call.
        for match in _TOKEN.finditer(html, pos):
            parts.append(html[pos : match.start()])
            pos = match.end()
            closing, tag = match.group(1, 2)
            if tag is None:
                if match.group(0) == "<!--":
                    close = html.find("-->", pos)
                    pos = end if close < 0 else close + 3
                    break
                continue
            tag = tag.lower()
            if tag in _SKIP_TAGS and not closing and not match.group(0).endswith("/>"):
                close = _SKIP_END[tag].search(html, pos)
                pos = end if close is None else close.end()
                break
            if tag == "br":
                parts.append("\n")
            elif tag in _BLOCK_TAGS:
                parts.append("\n\n")
        else:
            parts.append(html[pos:])
            break
    return _unescape_html("".join(parts))


def normalize_text(text: str) -> str:
    """NFKC, no control or invisible characters, at most 30 combining marks in a row, single
    spaces, paragraphs split by one blank line."""
    # NFKC after dropping: a dropped character between a letter and a combining mark would
    # otherwise leave a pair that NFKC composes, and the output would not be NFKC (nor idempotent).
    text = _decompose_common(_drop_and_cap(_break_lines(text)))
    normal = unicodedata.normalize("NFKC", text)
    # NFKC splits a few marks in two (Tibetan vowel signs) and makes marks of some compatibility
    # characters: cap again so that the output is stable. Capping twice changes nothing, so text
    # that NFKC left alone (most text: NFKC returns it as it is) needs no second pass.
    if normal != text:
        text = _cap_marks(normal)
    return _tidy_lines(text)


def normalize_body(body: str) -> tuple[str, str]:
    """Plain normalised text of a body and its detected format ("html" or "text")."""
    if looks_like_html(body):
        return normalize_text(html_to_text(body)), "html"
    return normalize_text(body), "text"


def normalize_title(title: str) -> str:
    """A title on one line, HTML tags and entities resolved."""
    if "<" in title or "&" in title:
        title = html_to_text(title)
    return " ".join(normalize_text(title).split())


def title_from_body(body: str) -> str:
    """The first non-empty line of a normalised body, cut at a word near 300 characters."""
    first = next((line for line in body.split("\n") if line.strip()), "")
    if len(first) <= MAX_TITLE_FROM_BODY:
        return first
    cut = first[:MAX_TITLE_FROM_BODY].rsplit(" ", 1)[0]
    return cut + "…"


class InvalidURL(ValueError):
    """The URL is not an absolute http(s) URL."""


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no userinfo, default port, fragment or tracking parameters.

    Remaining query parameters are sorted so that reordered copies compare equal.
    Raises `InvalidURL` for anything that is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise InvalidURL(f"not a valid URL: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidURL("must be an absolute http:// or https:// URL")
    host = parts.hostname.lower().rstrip(".")
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        raise InvalidURL("the host name is empty or contains spaces or control characters")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps the brackets that set it apart from the port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # surrogateescape keeps percent-escapes that are not UTF-8 (`%FF`) as they were: decoding
    # them to U+FFFD would give different URLs the same canonical form, hence the same id.
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True, errors="surrogateescape")
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    query_text = urlencode(sorted(query), encoding="utf-8", errors="surrogateescape")
    return urlunsplit((scheme, netloc, _encode_unprintable(parts.path) or "/", query_text, ""))


def _encode_unprintable(path: str) -> str:
    # Spaces and invisible characters have no place in a URL, and a second pass would strip
    # them off the end: percent-encoded, the canonical URL is its own canonical URL.
    if path.isprintable() and " " not in path:
        return path
    return "".join(quote(c, safe="") if c.isspace() or not c.isprintable() else c for c in path)
