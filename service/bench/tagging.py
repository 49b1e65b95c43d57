"""`newsflow bench tagging`: our tagger vs flashtext's KeywordProcessor on the same aliases.

Two KBs in one run: the curated one under seeds/ and the same plus generated entities up to
~100k aliases, to show the cost does not grow with the KB. Articles: the real ones in
../shared/seeds when present, else the project's own seeds.
"""

import random
import statistics
import time
from pathlib import Path
from typing import Any

from service import codec
from service.core.dedup.evalset import split_articles
from service.core.tagging import Entity, Tagger, load_kb, load_themes
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES, SEEDS

SHARED_SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
GOLD = Path(__file__).resolve().parents[2] / "tests" / "data" / "gold_entities.yaml"
_SYLLABLES = "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu".split()


def articles() -> list[tuple[str, str]]:
    """(title, body) pairs to tag."""
    if SHARED_SEEDS.is_dir():
        out = []
        for path in sorted(SHARED_SEEDS.glob("*.txt")):
            for article in split_articles(path.read_text(encoding="utf-8")):
                out.append((article.headline, "\n\n".join(article.paragraphs)))
        return out
    lines = (SEEDS / "articles" / "articles.jsonl").read_text().splitlines()
    return [(a["title"], a["body"]) for a in map(codec.loads, lines)]


def gold_articles() -> tuple[dict[str, tuple[str, str]], dict[str, list[dict]]]:
    """The real articles and their gold labels, keyed `file#index`; checks each fingerprint."""
    import xxhash
    import yaml

    gold = yaml.safe_load(GOLD.read_text())["articles"]
    texts, labels = {}, {}
    for path in sorted(SHARED_SEEDS.glob("*.txt")):
        for index, article in enumerate(split_articles(path.read_text(encoding="utf-8"))):
            texts[f"{path.name}#{index}"] = article
    for item in gold:
        key = f"{item['file']}#{item['index']}"
        article = texts[key]
        if xxhash.xxh3_64_hexdigest(article.text().encode()) != item["fingerprint"]:
            raise ValueError(f"gold labels for {key} were written for a different split of the article")
        labels[key] = item["entities"]
    articles = {k: (a.headline, "\n\n".join(a.paragraphs)) for k, a in texts.items() if k in labels}
    return articles, labels


def evaluation(tagger: Tagger):
    from service.core.tagging.evaluate import evaluate

    return evaluate(tagger, *gold_articles())


def generated_kb(base: list[Entity], aliases: int, seed: int = 7) -> list[Entity]:
    """`base` plus made-up organisations until the KB has about `aliases` aliases."""
    rng = random.Random(seed)
    out = list(base)
    count = sum(1 + len(e.aliases) + len(e.weak_aliases) for e in base)
    n = 0
    while count < aliases:
        name = " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title() for _ in range(2))
        extra = [f"{name} Group", f"{name.split()[0]} Holdings", name.upper().replace(" ", "")[:12]]
        out.append(Entity(id=f"gen:{n}", name=name, type="ORGANIZATION", subtype="company", aliases=extra))
        count += 4
        n += 1
    return out


def _flashtext(entities: list[Entity]):
    from flashtext import KeywordProcessor

    processor = KeywordProcessor(case_sensitive=False)
    for e in entities:
        for alias in (e.name, *e.aliases, *e.weak_aliases):
            processor.add_keyword(alias, e.id)
    return processor


def _rate(fn, docs, rounds: int) -> float:
    for title, body in docs[:5]:
        fn(title, body)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for title, body in docs:
            fn(title, body)
        times.append(time.perf_counter() - started)
    return len(docs) / statistics.median(times)


def run(quick: bool = False) -> dict[str, Any]:
    docs = articles()
    repeat = max(1, (200 if quick else 2000) // len(docs))
    docs = docs * repeat
    real, stop_phrases = load_kb(DEFAULT_KB)
    themes = load_themes(DEFAULT_THEMES)
    rows = []
    for label, entities in (("curated KB", real), ("curated + generated (100k aliases)", generated_kb(real, 100_000))):
        started = time.perf_counter()
        tagger = Tagger(entities, themes, stop_phrases)
        build = time.perf_counter() - started
        flash = _flashtext(entities)
        ours = _rate(tagger.tag, docs, 3)
        theirs = _rate(lambda t, b: (flash.extract_keywords(t, span_info=True), flash.extract_keywords(b, span_info=True)), docs, 3)
        rows.append({"kb": label, "entities": len(entities), "aliases": tagger.alias_count,
                     "build_seconds": round(build, 2), "tables_mb": round(tagger.automaton_bytes / 2**20, 1),
                     "ours_articles_per_second": round(ours),
                     "flashtext_articles_per_second": round(theirs), "speedup": round(ours / theirs, 1)})
    result = {"articles": len(docs), "mean_chars": round(statistics.mean(len(b) for _, b in docs)), "rows": rows}
    if SHARED_SEEDS.is_dir():
        report = evaluation(Tagger(real, themes, stop_phrases))
        result["gold"] = {"precision": round(report.precision, 4), "recall": round(report.recall, 4),
                          "f1": round(report.f1, 4), "tp": report.tp, "fp": report.fp, "fn": report.fn,
                          "false_positives": report.false_positives, "false_negatives": report.false_negatives}
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{result['articles']} article taggings per round (mean body {result['mean_chars']} chars), one thread, median of 3 rounds",
             "", "| KB | entities | aliases | build s | tables MB | newsflow articles/s | flashtext articles/s | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['kb']} | {r['entities']} | {r['aliases']} | {r['build_seconds']} | {r['tables_mb']} | "
                     f"{r['ours_articles_per_second']} | {r['flashtext_articles_per_second']} | {r['speedup']}× |")
    first, second = result["rows"]
    lines.append("")
    lines.append(f"Throughput ratio curated/100k: {first['ours_articles_per_second'] / second['ours_articles_per_second']:.2f}")
    if "gold" in result:
        g = result["gold"]
        lines += ["", f"Gold labels ({GOLD.name}, {g['tp'] + g['fn']} labels): micro precision {g['precision']:.4f}, "
                  f"recall {g['recall']:.4f}, F1 {g['f1']:.4f} (tp {g['tp']}, fp {g['fp']}, fn {g['fn']})"]
        lines += [f"- false positive: {a} {e}" for a, e in g["false_positives"]]
        lines += [f"- missed: {a} {n}" for a, n in g["false_negatives"]]
    return "\n".join(lines)
