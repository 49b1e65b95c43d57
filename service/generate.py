"""Synthetic article streams for benchmarks and chaos tests (`newsflow generate`).

Originals are assembled from the project's own sample sentences (seeds/articles), re-dated,
with people, groups and places from the knowledge base swapped in and a few invented details,
so that no two originals are near-duplicates of each other. Reprints of an earlier original
go through the syndication edits the dedup evaluation uses (new headline, boilerplate,
truncation, byline/dateline, word edits, or none: an exact copy) and come from another
outlet. A share of the messages is invalid in the ways producers get wrong.

Every message carries its ground truth in `metadata.generated` (invalid ones in `Generated`
only), so a consumer of the outcome topics can score the pipeline. Seeded: the same
arguments give the same bytes.
"""

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from service import codec
from service.core.dedup.evalset import RECIPES, Article, _OPERATIONS
from service.core.tagging import load_kb

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
START = datetime(2025, 9, 1, tzinfo=timezone.utc)
# Invalid messages, and the dead-letter code the worker gives each.
INVALID_KINDS = {
    "not_json": "not_json",
    "not_utf8": "not_utf8",
    "missing_body": "missing_body",
    "empty_body": "empty_body",
    "wrong_types": "invalid_fields",
}
_OUTLETS = 60
_MUTABLE = re.compile(r"^[a-z]{3,}$")
WORD_SWAP_RATE = 0.35
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")
_ENTITY_TYPES = ("PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION")
_DETAILS = (
    "Officials said at least {n} people were detained in the operation.",
    "The statement, released on day {n} of the deployment, gave no further details.",
    "Local media counted {n} vehicles at the checkpoint near {place}.",
    "Analysts in {place} estimated the shipment at {n} kilograms.",
    "{person} told reporters that {n} agents had been assigned to the case.",
    "The {group} has not commented on the claims, a spokesperson for {org} said.",
)


@dataclass(frozen=True)
class Generated:
    """One message: its bytes and what the pipeline should make of it."""

    key: bytes | None
    value: bytes
    label: str  # original | reprint | invalid
    group: int | None = None  # story number shared by an original and its reprints
    recipe: str = ""  # edits of a reprint ("" for an exact copy); dead-letter code for invalid


class _Material:
    """Sentences, headlines and entity names the generator draws from."""

    def __init__(self, seeds: Path) -> None:
        entities, _ = load_kb(seeds / "kb" / "entities.yaml")
        self.names = {t: [e.name for e in entities if e.type == t] for t in _ENTITY_TYPES}
        name_type = {n: t for t in _ENTITY_TYPES for n in self.names[t]}
        longest_first = sorted((n for n in name_type if len(n) > 3), key=len, reverse=True)
        name_re = re.compile(r"\b(?:" + "|".join(map(re.escape, longest_first)) + r")\b")
        # Each sentence as text pieces and entity types: swapping the KB names it mentions for
        # others of the same type keeps it realistic for the tagger and makes each original's
        # shingles its own. Parsed once; the per-article work is a join.
        self.sentences: list[list[str | tuple[str]]] = []
        self.titles: list[str] = []
        for line in (seeds / "articles" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
            article = codec.loads(line)
            if article.get("language", "en") != "en":
                continue
            self.titles.append(article.get("title") or "")
            for paragraph in article["body"].split("\n"):
                for sentence in _SENTENCE.split(paragraph):
                    if len(sentence.split()) >= 6:
                        self.sentences.append(_pieces(sentence.strip(), name_re, name_type))
        self.titles = [t for t in self.titles if t]

        self.words = sorted({w for pieces in self.sentences for p in pieces if isinstance(p, list) for w in p
                             if _MUTABLE.match(w)})

    def render(self, pieces: list, rng: random.Random) -> str:
        """The sentence with other KB names and about a third of its plain words replaced.

        The bank is a few hundred sentences: without the word swaps two originals sharing a
        sentence would share its shingles, and short ones would look contained in long ones.
        """
        out = []
        for piece in pieces:
            if isinstance(piece, tuple):
                out.append(rng.choice(self.names[piece[0]]))
                continue
            out.append(" ".join(
                rng.choice(self.words) if _MUTABLE.match(w) and rng.random() < WORD_SWAP_RATE else w
                for w in piece
            ))
        return "".join(out)


def _pieces(sentence: str, name_re: re.Pattern, name_type: dict[str, str]) -> list:
    """Text between names as word lists (split on single spaces, so joins restore it), names as (type,)."""
    pieces: list = []
    at = 0
    for m in name_re.finditer(sentence):
        pieces += [sentence[at : m.start()].split(" "), (name_type[m.group(0)],)]
        at = m.end()
    return [*pieces, sentence[at:].split(" ")]


class Generator:
    """`messages()` yields `count` messages; reprints always follow their original."""

    def __init__(self, count: int, dup_rate: float = 0.3, invalid_rate: float = 0.05, seed: int = 1,
                 seeds: Path = SEEDS) -> None:
        if not 0 <= dup_rate < 1 or not 0 <= invalid_rate < 1 or dup_rate + invalid_rate >= 1:
            raise ValueError("dup_rate and invalid_rate must be in [0, 1) and sum to less than 1")
        self.count, self.dup_rate, self.invalid_rate, self.seed = count, dup_rate, invalid_rate, seed
        self.material = _Material(seeds)

    def messages(self) -> Iterator[Generated]:
        rng = random.Random(self.seed)
        originals: list[tuple[int, Article, datetime]] = []
        for n in range(self.count):
            roll = rng.random()
            if roll < self.invalid_rate:
                yield self._invalid(n, rng)
            elif originals and roll < self.invalid_rate + self.dup_rate:
                # Recent stories get reprinted most, as on a real wire.
                group, article, published = originals[max(0, len(originals) - 1 - int(rng.expovariate(1 / 50)))]
                yield self._reprint(n, group, article, published, rng)
            else:
                group, article, published = len(originals), self._original(rng), START + timedelta(minutes=2 * n)
                originals.append((group, article, published))
                yield self._message(n, article, published, "original", group, "", rng)

    def _original(self, rng: random.Random) -> Article:
        m = self.material
        # Lengths from a brief to a long feature, skewed short like a real feed.
        sentences = max(4, min(90, int(rng.lognormvariate(3.0, 0.6))))
        body = [m.render(s, rng) for s in rng.sample(m.sentences, min(sentences, len(m.sentences)))]
        for _ in range(1 + sentences // 8):
            body.insert(rng.randrange(len(body) + 1), rng.choice(_DETAILS).format(
                n=rng.randint(2, 99999), place=rng.choice(m.names["LOCATION"]),
                person=rng.choice(m.names["PERSON"]), group=rng.choice(m.names["CRIMINAL_GROUP"]),
                org=rng.choice(m.names["ORGANIZATION"])))
        paragraphs = tuple(" ".join(body[i : i + 3]) for i in range(0, len(body), 3))
        title = rng.choice(m.titles)
        return Article(title, paragraphs)

    def _reprint(self, n: int, group: int, article: Article, published: datetime, rng: random.Random) -> Generated:
        recipe = rng.choice(RECIPES)
        for name in recipe:
            article = _OPERATIONS[name](article, rng)
        later = published + timedelta(minutes=rng.randint(1, 600))
        return self._message(n, article, later, "reprint", group, "+".join(recipe), rng)

    def _message(self, n: int, article: Article, published: datetime, label: str, group: int, recipe: str,
                 rng: random.Random) -> Generated:
        outlet = f"outlet{rng.randrange(_OUTLETS):02d}.example"
        doc = {
            "id": f"gen-{self.seed}-{n}",
            "url": f"https://{outlet}/news/{self.seed}/{n}",
            "source": outlet,
            "title": article.headline,
            "published_at": published.isoformat().replace("+00:00", "Z"),
            "language": "en",
            "body": "\n\n".join(article.paragraphs),
            "metadata": {"generated": {"label": label, "group": group, "recipe": recipe}},
        }
        return Generated(doc["id"].encode(), codec.dumps(doc), label, group, recipe)

    def _invalid(self, n: int, rng: random.Random) -> Generated:
        kind = rng.choice(sorted(INVALID_KINDS))
        doc_id = f"gen-{self.seed}-{n}"
        value = {
            "not_json": lambda: b'{"id": "' + doc_id.encode() + b'", "body": "cut off',
            "not_utf8": lambda: b'{"id": "' + doc_id.encode() + b'", "body": "caf\xe9 \xff"}',
            "missing_body": lambda: codec.dumps({"id": doc_id, "title": "No body here"}),
            "empty_body": lambda: codec.dumps({"id": doc_id, "body": "   "}),
            "wrong_types": lambda: codec.dumps({"id": doc_id, "body": "text", "published_at": 1756684800,
                                                "authors": "not a list"}),
        }[kind]()
        return Generated(doc_id.encode(), value, "invalid", None, INVALID_KINDS[kind])


def write_jsonl(messages: Iterator[Generated], out) -> int:
    """One message per line, bytes as they are (invalid UTF-8 included): `newsflow push --raw` reads it back."""
    written = 0
    for message in messages:
        out.write(message.value.replace(b"\n", b" ") + b"\n")
        written += 1
    return written
