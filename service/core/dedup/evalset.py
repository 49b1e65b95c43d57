"""Labelled near-duplicate evaluation set built from real article texts.

Given source texts (each may hold several articles), this splits them into articles
and derives syndication variants with a seeded random.Random: changed headline, added
boilerplate, truncation to 40-90 %, changed dateline or byline, small word edits and
their combinations. Documents derived from the same article share a group; every pair
of documents from different groups is a negative. Harder negatives splice a 40-60 word
passage of one article into another as a quote: the result belongs to the receiving
article's group and must not match the quoted one.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_READ_MORE = "keep reading"
_MIN_ARTICLE_WORDS = 40
_MAX_HEADLINE_WORDS = 15

_BOILERPLATE = (
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
    "Copyright 2025 Northwind Media Group. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed without permission.",
    "Follow us on social media for live updates throughout the day.",
    "Advertisement",
    "Have a news tip? Contact our newsroom through the secure form on our website.",
    "This story was produced in partnership with a regional reporting network and is "
    "republished here under a content sharing agreement.",
    "Related coverage: more analysis and opinion from our correspondents is available on "
    "the world news page.",
    "Our journalism depends on readers like you. Subscribe today for unlimited access.",
)
_BYLINES = ("By Jordan Ellis", "By Priya Raman and Tom Becker", "By Staff Writer", "By M. Okafor")
_OUTLETS = ("The Daily Ledger", "Northwind Wire", "Metro Herald", "Coastal Times")
_DATELINES = ("WASHINGTON", "MEXICO CITY", "CARACAS", "BOGOTA", "MIAMI", "NEW YORK")
_HEADLINE_PREFIXES = ("UPDATE:", "Exclusive:", "Analysis:", "Watch:", "")
_FILLERS = ("also", "reportedly", "now", "still", "the", "officially", "further")
_QUOTE_INTROS = ("As one observer put it:", "A separate report noted:", "Earlier coverage said:")


@dataclass(frozen=True)
class EvalDoc:
    """One labelled document: same `group` means duplicates of the same article."""

    doc_id: str
    group: int
    recipe: str
    text: str
    url: str


@dataclass(frozen=True)
class Article:
    """A source article: headline line and body paragraphs."""

    headline: str
    paragraphs: tuple[str, ...]

    def text(self) -> str:
        """Headline and paragraphs joined by blank lines, as a feed would carry it."""
        return "\n\n".join((self.headline, *self.paragraphs))


def split_articles(text: str) -> list[Article]:
    """Split one source text into articles.

    An article ends at a "Keep reading" line (a link to the next story) or before a
    short headline-like line isolated by two or more blank lines on each side.
    Segments under 40 words (a lone headline, a date line) join the next segment.
    """
    lines = text.splitlines()
    segments: list[list[str]] = [[]]
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.lower() == _READ_MORE:
            segments.append([])
            continue
        if _isolated_headline(lines, number) and any(s.strip() for s in segments[-1]):
            segments.append([])
        segments[-1].append(stripped)
    articles: list[Article] = []
    pending: list[str] = []
    for segment in segments:
        pending += [s for s in segment if s]
        if sum(len(s.split()) for s in pending) >= _MIN_ARTICLE_WORDS:
            articles.append(Article(pending[0], tuple(pending[1:])))
            pending = []
    return articles


def _isolated_headline(lines: list[str], number: int) -> bool:
    words = lines[number].split()
    if not words or len(words) > _MAX_HEADLINE_WORDS or lines[number].rstrip().endswith("."):
        return False
    before = lines[max(0, number - 2) : number]
    after = lines[number + 1 : number + 3]
    return len(before) == 2 and len(after) == 2 and not any(s.strip() for s in before + after)


def _headline(article: Article, rng: random.Random) -> Article:
    words = " ".join(article.paragraphs).split()
    start = rng.randrange(max(1, len(words) - 8))
    fresh = " ".join(w.strip(".,;:“”\"'") for w in words[start : start + rng.randint(5, 9)])
    return Article(f"{rng.choice(_HEADLINE_PREFIXES)} {fresh.title()}".strip(), article.paragraphs)


def _boilerplate(article: Article, rng: random.Random) -> Article:
    footer = rng.sample(_BOILERPLATE, rng.randint(1, 3))
    header = [rng.choice(_BOILERPLATE)] if rng.random() < 0.3 else []
    return Article(article.headline, (*header, *article.paragraphs, *footer))


def _truncate(article: Article, rng: random.Random) -> Article:
    total = sum(len(p.split()) for p in article.paragraphs)
    budget = max(1, round(total * rng.uniform(0.4, 0.9)))
    kept: list[str] = []
    for paragraph in article.paragraphs:
        words = paragraph.split()[:budget]
        if not words:
            break
        kept.append(" ".join(words))
        budget -= len(words)
    return Article(article.headline, tuple(kept))


def _byline(article: Article, rng: random.Random) -> Article:
    byline = f"{rng.choice(_BYLINES)}, {rng.choice(_OUTLETS)}"
    first, *rest = article.paragraphs
    dateline = f"{rng.choice(_DATELINES)} ({rng.choice(_OUTLETS)}) — {first}"
    return Article(article.headline, (byline, dateline, *rest))


def _edits(article: Article, rng: random.Random) -> Article:
    paragraphs = [p.split() for p in article.paragraphs]
    for _ in range(rng.randint(2, 6)):
        words = rng.choice([p for p in paragraphs if p])
        at = rng.randrange(len(words))
        action = rng.choice(("swap", "delete", "insert"))
        if action == "swap" and at + 1 < len(words):
            words[at], words[at + 1] = words[at + 1], words[at]
        elif action == "delete" and len(words) > 1:
            del words[at]
        else:
            words.insert(at, rng.choice(_FILLERS))
    return Article(article.headline, tuple(" ".join(p) for p in paragraphs if p))


_OPERATIONS: dict[str, Callable[[Article, random.Random], Article]] = {
    "headline": _headline,
    "boilerplate": _boilerplate,
    "truncate": _truncate,
    "byline": _byline,
    "edits": _edits,
}

RECIPES: tuple[tuple[str, ...], ...] = (
    (),
    ("headline",),
    ("boilerplate",),
    ("truncate",),
    ("byline",),
    ("edits",),
    ("truncate", "boilerplate"),
    ("headline", "truncate", "edits"),
    ("byline", "boilerplate", "edits"),
    ("headline", "byline", "truncate", "boilerplate", "edits"),
)


def splice_quote(receiver: Article, quoted: Article, rng: random.Random) -> Article:
    """Insert a 40-60 word passage of `quoted` into `receiver` as a quoted paragraph."""
    words = " ".join(quoted.paragraphs).split()
    length = min(len(words), rng.randint(40, 60))
    start = rng.randrange(len(words) - length + 1)
    quote = f"{rng.choice(_QUOTE_INTROS)} “{' '.join(words[start : start + length])}”"
    at = rng.randint(1, max(1, len(receiver.paragraphs) - 1))
    paragraphs = (*receiver.paragraphs[:at], quote, *receiver.paragraphs[at:])
    return Article(receiver.headline, paragraphs)


def build_evalset(
    sources: Iterable[str], seed: int = 20250808, rounds: int = 1, splices_per_article: int = 2
) -> list[EvalDoc]:
    """Labelled documents from source texts, in a seeded shuffled arrival order.

    Each round adds one variant per recipe of every article (round 0 includes the
    unchanged original) and `splices_per_article` quote-splice hard negatives.
    """
    rng = random.Random(seed)
    articles = [article for source in sources for article in split_articles(source)]
    docs: list[EvalDoc] = []
    for round_number in range(rounds):
        for group, article in enumerate(articles):
            for recipe in RECIPES if round_number == 0 else RECIPES[1:]:
                variant = article
                for name in recipe:
                    variant = _OPERATIONS[name](variant, rng)
                docs.append(_doc(len(docs), group, "+".join(recipe) or "original", variant))
            for _ in range(splices_per_article):
                other = rng.choice([a for a in articles if a is not article])
                docs.append(_doc(len(docs), group, "quote-splice", splice_quote(article, other, rng)))
    rng.shuffle(docs)
    return docs


def _doc(number: int, group: int, recipe: str, article: Article) -> EvalDoc:
    return EvalDoc(f"d{number}", group, recipe, article.text(), f"https://example.org/{number}")
