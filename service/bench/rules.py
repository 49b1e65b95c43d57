"""`python -m service.bench.rules`: per-article rule cost with 10, 1,000 and 10,000 rules.

Rules are generated from the shipped KB's entity ids and designations and the theme
taxonomy's phrases, in a handful of realistic shapes. Each size is measured twice in the same
run: the compiled `RuleSet` and a naive evaluator that tests every rule on its own (the same
leaf semantics, with the article's folded text and entity sets prepared once per article).
Target: compiled cost at 10,000 rules at most 5x the cost at 10.
"""

import argparse
import random
import statistics
import time
from typing import Any

from service.core.rules import Group, Leaf, Rule, RuleSet
from service.core.tagging import Tagger, load_kb, load_themes
from service.core.tagging.fold import fold
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES

SIZES = (10, 1_000, 10_000)
TARGET_RATIO = 5.0


def enriched_articles() -> list[dict[str, Any]]:
    """The benchmark articles, tagged with the shipped KB as the enrich stage would."""
    from service.bench.tagging import articles

    entities, stop = load_kb(DEFAULT_KB)
    tagger = Tagger(entities, load_themes(DEFAULT_THEMES), stop)
    out = []
    for i, (title, body) in enumerate(articles()):
        tags = tagger.tag(title, body)
        out.append({"id": f"a{i}", "source": f"src{i % 5}.example", "language": "en", "title": title,
                    "body": body, "entities": tags.entities, "themes": tags.themes})
    return out


def generated_rules(n: int, seed: int = 11) -> list[Rule]:
    """`n` rules over the shipped KB and themes: entity + keyword, entity pairs + theme,
    designation + keyword, title keyword + entity type, entity + keywords minus a language."""
    rng = random.Random(seed)
    entities, _ = load_kb(DEFAULT_KB)
    themes = load_themes(DEFAULT_THEMES)
    ids = [e.id for e in entities]
    designations = sorted({d.list for e in entities for d in e.designations})
    phrases = sorted({" ".join(fold(p).split()) for t in themes for ps in t.phrases.values() for p in ps})
    theme_ids = [t.id for t in themes]
    types = ["PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION"]

    def leaf(kind: str, *values: str, min_score: float = 0.0) -> Leaf:
        return Leaf(kind, tuple(values), min_score)

    shapes = [
        lambda: [Group("all", (leaf("entity", rng.choice(ids)), leaf("keyword", rng.choice(phrases))))],
        lambda: [Group("any", (leaf("entity", rng.choice(ids)), leaf("entity", rng.choice(ids)))),
                 Group("all", (leaf("theme", rng.choice(theme_ids), min_score=rng.choice([0.3, 0.5, 0.7])),))],
        lambda: [Group("all", (leaf("designation", rng.choice(designations)),
                               leaf("keyword", rng.choice(phrases), rng.choice(phrases)))),
                 Group("any", (leaf("entity", rng.choice(ids)),))],
        lambda: [Group("all", (leaf("title_keyword", rng.choice(phrases)), leaf("entity_type", rng.choice(types)))),
                 Group("none", (leaf("source", "satire.example"),))],
        lambda: [Group("all", (leaf("entity", rng.choice(ids)),)),
                 Group("any", (leaf("keyword", rng.choice(phrases)), leaf("keyword", rng.choice(phrases)))),
                 Group("none", (leaf("language", "es"),))],
    ]
    return [Rule(f"gen-{i}", f"Generated {i}", "info", Group("all", tuple(shapes[i % len(shapes)]())))
            for i in range(n)]


class NaiveEvaluator:
    """Each rule tested on its own, leaf by leaf: the reference the compiled set must beat."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def match(self, article: dict[str, Any]) -> list[str]:
        facts = {
            "padded": " " + fold(article.get("title") or "") + " \x00 " + fold(article.get("body") or "") + " ",
            "title": " " + fold(article.get("title") or "") + " ",
            "entity": {e["id"] for e in article.get("entities") or ()},
            "entity_type": {e["type"] for e in article.get("entities") or ()},
            "designation": {d["list"] for e in article.get("entities") or () for d in e.get("designations") or ()},
            "theme": {t["id"]: t["score"] for t in article.get("themes") or ()},
            "source": (article.get("source") or "").lower(),
            "language": (article.get("language") or "").lower(),
        }
        return [rule.id for rule in self.rules if _holds(rule.when, facts)]


def _holds(cond, facts: dict[str, Any]) -> bool:
    if isinstance(cond, Group):
        results = (_holds(item, facts) for item in cond.items)
        return all(results) if cond.op == "all" else (not any(results) if cond.op == "none" else any(results))
    kind = cond.kind
    for value in cond.values:
        if kind == "keyword" and f" {value} " in facts["padded"]:
            return True
        if kind == "title_keyword" and f" {value} " in facts["title"]:
            return True
        if kind == "theme" and facts["theme"].get(value, -1.0) >= cond.min_score:
            return True
        if kind in ("entity", "entity_type", "designation") and value in facts[kind]:
            return True
        if kind == "source" and facts["source"] == value:
            return True
        if kind == "language" and value in (facts["language"], facts["language"].split("-")[0]):
            return True
    return False


def _per_article_us(fn, articles: list[dict[str, Any]], rounds: int) -> float:
    fn(articles[0])
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for article in articles:
            fn(article)
        times.append((time.perf_counter() - start) / len(articles) * 1e6)
    return statistics.median(times)


def run(quick: bool = False) -> dict[str, Any]:
    """Cost per article (microseconds, median of rounds) of the compiled set and the naive
    evaluator at each size, whether they agree, and the 10k/10 cost ratio against the target."""
    articles = enriched_articles()
    rounds = 3 if quick else 7
    rows = []
    for n in SIZES:
        rules = generated_rules(n)
        start = time.perf_counter()
        ruleset = RuleSet.compile(rules)
        compile_ms = (time.perf_counter() - start) * 1e3
        naive = NaiveEvaluator(rules)
        agree = all([m.rule.id for m in ruleset.match(a)] == naive.match(a) for a in articles)
        compiled_us = _per_article_us(ruleset.match, articles, rounds)
        naive_us = _per_article_us(naive.match, articles, 1 if quick and n == SIZES[-1] else rounds)
        matches = sum(len(ruleset.match(a)) for a in articles) / len(articles)
        rows.append({"rules": n, "compiled_us": compiled_us, "naive_us": naive_us, "compile_ms": compile_ms,
                     "matches_per_article": matches, "agree": agree})
    ratio = rows[-1]["compiled_us"] / rows[0]["compiled_us"]
    return {"articles": len(articles), "rounds": rounds, "rows": rows, "ratio": ratio,
            "target_ratio": TARGET_RATIO, "meets_target": ratio <= TARGET_RATIO}


def format_table(result: dict[str, Any]) -> str:
    """A markdown report of `run`'s result."""
    lines = [
        f"### Rules benchmark ({result['articles']} articles, one thread, median of {result['rounds']} rounds)",
        "",
        "| rules | compiled µs/article | naive µs/article | speed-up | compile ms | matches/article | same answers |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['rules']:,} | {row['compiled_us']:.1f} | {row['naive_us']:.1f} | "
            f"{row['naive_us'] / row['compiled_us']:.1f}x | {row['compile_ms']:.1f} | "
            f"{row['matches_per_article']:.1f} | {'yes' if row['agree'] else 'NO'} |"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    lines += ["", f"Compiled cost at {SIZES[-1]:,} rules is {result['ratio']:.2f}x the cost at {SIZES[0]} "
              f"({verdict} the target of at most {result['target_ratio']:.0f}x)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point: print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    print(format_table(run(args.quick)))


if __name__ == "__main__":
    main()
