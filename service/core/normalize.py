"""Text, HTML, URL and title normalisation. Every function is linear in its input."""

import re
import unicodedata
from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
# because they let two identical-looking texts differ.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad"),
    None,
)
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10)) | {127: None}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")

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


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, block elements as paragraph breaks; linear time."""
    parts: list[str] = []
    pos, end = 0, len(html)
    while pos < end:
        match = _TOKEN.search(html, pos)
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
        if tag in _SKIP_TAGS and not match.group(1) and not token.endswith("/>"):
            close = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(html, pos)
            pos = end if close is None else close.end()
        elif tag == "br":
            parts.append("\n")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n")
    return unescape("".join(parts))


def normalize_text(text: str) -> str:
    """NFKC, no control or invisible characters, single spaces, paragraphs split by one blank line."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.translate(_CONTROL).translate(_INVISIBLE)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


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
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(sorted(query)), ""))
