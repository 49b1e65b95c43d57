"""Dedup evaluation and benchmark: our core against datasketch MinHash + MinHashLSH.

Run `python -m service.bench.dedup [--quick] [--write docs/dedup-eval.md]`. Both
pipelines go from raw text to a first-seen-wins decision per article on one thread,
in the same process and run; each is warmed up (which also compiles our numba kernels
when their disk cache is cold), then timed as the median of 3 rounds.
"""

import argparse
import pickle
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
from datasketch import MinHash, MinHashLSH

from service.core.dedup import DEFAULT_CONFIG, DedupConfig, DedupIndex, fingerprint
from service.core.dedup.evalset import EvalDoc, build_evalset
from service.core.dedup.evaluate import Metrics, clustering_metrics, run_stream, score_pairs, sweep

DEFAULT_SEEDS = Path("/work/shared/seeds")
_ROUNDS = 3
_CONTAINMENTS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9)
_JACCARDS = (0.0, 0.15)
_GRID = ((3, 64, 32, 2), (4, 64, 32, 2), (5, 64, 32, 2), (5, 128, 64, 2), (5, 128, 42, 3), (5, 64, 16, 4))
_DATASKETCH_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6)
_WORD = re.compile(r"\w+")


def load_sources(folder: Path) -> list[str]:
    """Texts of the seed files, sorted by name; [] if the folder does not exist."""
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))] if folder.is_dir() else []


def run(quick: bool, seeds: Path = DEFAULT_SEEDS) -> dict[str, Any]:
    """Evaluate and benchmark on the seed articles; returns plain data for format_table."""
    sources = load_sources(seeds)
    if not sources:
        raise FileNotFoundError(f"no seed articles in {seeds}")
    eval_docs = build_evalset(sources, rounds=1 if quick else 3)
    bench_docs = build_evalset(sources, rounds=4 if quick else 18)
    scores = score_pairs(eval_docs, DEFAULT_CONFIG)
    ds_threshold, ds_f1 = max(
        ((t, _datasketch_stream(eval_docs, DEFAULT_CONFIG, t)[1].f1) for t in _DATASKETCH_THRESHOLDS),
        key=lambda row: row[1],
    )
    return {
        "config": asdict(DEFAULT_CONFIG),
        "eval_docs": len(eval_docs),
        "eval_pairs": len(scores),
        "eval_duplicate_pairs": sum(s.duplicate for s in scores),
        "sweep": {j: [(t, asdict(m)) for t, m in sweep(scores, _CONTAINMENTS, j)] for j in _JACCARDS},
        # Verification by Jaccard alone, to show why containment is needed.
        "jaccard_only": [(j, asdict(sweep(scores, [0.0], j)[0][1])) for j in (0.3, 0.5, 0.7)],
        "grid": [_grid_row(eval_docs, *row) for row in _GRID],
        "stream": asdict(clustering_metrics([d.group for d in eval_docs], run_stream(eval_docs, DEFAULT_CONFIG))),
        "datasketch_threshold": ds_threshold,
        "datasketch_eval_f1": ds_f1,
        "bench": _bench(bench_docs, DEFAULT_CONFIG, ds_threshold),
    }


def _grid_row(docs: Sequence[EvalDoc], k: int, bins: int, bands: int, rows: int) -> dict[str, Any]:
    config = DedupConfig(shingle_size=k, num_bins=bins, bands=bands, rows=rows)
    scores = score_pairs(docs, config)
    positives = [s for s in scores if s.duplicate]
    negatives = [s for s in scores if not s.duplicate]
    _, best = max(sweep(scores, _CONTAINMENTS, config.jaccard_threshold), key=lambda r: r[1].f1)
    return {
        "shingle_size": k, "num_bins": bins, "bands": bands, "rows": rows,
        "candidate_recall": sum(s.candidate for s in positives) / len(positives),
        "negative_candidate_rate": sum(s.candidate for s in negatives) / len(negatives),
        "best_f1": best.f1,
        "stream_f1": clustering_metrics([d.group for d in docs], run_stream(docs, config)).f1,
    }


def _ours(docs: Sequence[EvalDoc], config: DedupConfig) -> tuple[float, Metrics, float]:
    buckets: dict[str, Any] = {}
    records: dict[str, Any] = {}
    exact: dict[str, Any] = {}
    times: dict[str, Any] = {}
    index = DedupIndex(buckets, records, exact, times, config)
    roots = []
    started = time.perf_counter()
    for number, doc in enumerate(docs):
        decision = index.check_and_insert(fingerprint(doc.doc_id, doc.text, doc.url, config), now=number * 60.0)
        roots.append(decision.duplicate_of or doc.doc_id)
    elapsed = time.perf_counter() - started
    state = sum(
        len(orjson.dumps(key)) + len(orjson.dumps(value))
        for mapping in (buckets, records, exact, times)
        for key, value in mapping.items()
    )
    return elapsed, clustering_metrics([d.group for d in docs], roots), state / len(docs)


def _datasketch_stream(docs: Sequence[EvalDoc], config: DedupConfig, threshold: float) -> tuple[float, Metrics, float]:
    lsh = MinHashLSH(threshold=threshold, num_perm=config.num_bins)
    root: dict[str, str] = {}
    roots = []
    started = time.perf_counter()
    for doc in docs:
        words = _WORD.findall(doc.text.lower())
        k = config.shingle_size
        shingles = {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}
        minhash = MinHash(num_perm=config.num_bins)
        minhash.update_batch(list(shingles))
        found = lsh.query(minhash)
        # First-seen wins, as in our index: point at the root of the earliest match.
        root[doc.doc_id] = min((root[key] for key in found), key=lambda key: int(key[1:])) if found else doc.doc_id
        roots.append(root[doc.doc_id])
        lsh.insert(doc.doc_id, minhash)
    elapsed = time.perf_counter() - started
    size = len(pickle.dumps(lsh, protocol=pickle.HIGHEST_PROTOCOL)) / len(docs)
    return elapsed, clustering_metrics([d.group for d in docs], roots), size


def _bench(docs: Sequence[EvalDoc], config: DedupConfig, ds_threshold: float) -> dict[str, Any]:
    warmup = docs[: len(docs) // 10]
    _ours(warmup, config)
    _datasketch_stream(warmup, config, ds_threshold)
    # Alternating rounds share any load from other processes between the two pipelines.
    rounds = [(_ours(docs, config), _datasketch_stream(docs, config, ds_threshold)) for _ in range(_ROUNDS)]
    ours, theirs = [r[0] for r in rounds], [r[1] for r in rounds]
    ours_rate = len(docs) / statistics.median(r[0] for r in ours)
    theirs_rate = len(docs) / statistics.median(r[0] for r in theirs)
    return {
        "documents": len(docs),
        "ours_articles_per_s": ours_rate,
        "datasketch_articles_per_s": theirs_rate,
        "speedup": ours_rate / theirs_rate,
        "ours_f1": ours[0][1].f1, "ours_precision": ours[0][1].precision, "ours_recall": ours[0][1].recall,
        "datasketch_f1": theirs[0][1].f1, "datasketch_precision": theirs[0][1].precision,
        "datasketch_recall": theirs[0][1].recall,
        "ours_bytes_per_article": ours[0][2],
        "datasketch_bytes_per_article": theirs[0][2],
    }


def format_table(result: dict[str, Any]) -> str:
    """Markdown report of a run() result."""
    bench = result["bench"]
    lines = [
        f"Evaluation set: {result['eval_docs']} documents, {result['eval_pairs']} pairs, "
        f"{result['eval_duplicate_pairs']} duplicate pairs.",
        "",
        "Config: " + ", ".join(f"{k}={v}" for k, v in result["config"].items()),
        "",
        "### Pair sweep (LSH candidate and containment >= t and Jaccard >= j)",
        "",
        "| j | t | precision | recall | F1 | flagged |",
        "|---|---|---|---|---|---|",
    ]
    for jaccard, rows in result["sweep"].items():
        for threshold, m in rows:
            lines.append(f"| {jaccard} | {threshold} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['predicted']} |")
    lines += ["", "### Jaccard-only verification (no containment)", "", "| Jaccard >= | precision | recall | F1 |", "|---|---|---|---|"]
    for threshold, m in result["jaccard_only"]:
        lines.append(f"| {threshold} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} |")
    lines += [
        "", "### Shingle size and banding (default thresholds)", "",
        "| k | bins | bands x rows | duplicate pairs that are candidates | other pairs that are candidates | best pair F1 | streaming F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in result["grid"]:
        lines.append(
            f"| {g['shingle_size']} | {g['num_bins']} | {g['bands']}x{g['rows']} | {g['candidate_recall']:.4f} | "
            f"{g['negative_candidate_rate']:.4f} | {g['best_f1']:.4f} | {g['stream_f1']:.4f} |"
        )
    stream = result["stream"]
    lines += [
        "",
        f"Streaming DedupIndex with defaults (pairs sharing a root): precision {stream['precision']:.4f}, "
        f"recall {stream['recall']:.4f}, F1 {stream['f1']:.4f}.",
        "",
        f"### Benchmark ({bench['documents']} documents, one thread, median of 3 rounds)",
        "",
        f"datasketch MinHashLSH threshold {result['datasketch_threshold']} (best streaming F1 of "
        f"{', '.join(map(str, _DATASKETCH_THRESHOLDS))} on the evaluation set).",
        "",
        "| pipeline | articles/s | precision | recall | F1 | state bytes/article |",
        "|---|---|---|---|---|---|",
        f"| newsflow core | {bench['ours_articles_per_s']:.0f} | {bench['ours_precision']:.4f} | {bench['ours_recall']:.4f} | {bench['ours_f1']:.4f} | {bench['ours_bytes_per_article']:.0f} |",
        f"| datasketch | {bench['datasketch_articles_per_s']:.0f} | {bench['datasketch_precision']:.4f} | {bench['datasketch_recall']:.4f} | {bench['datasketch_f1']:.4f} | {bench['datasketch_bytes_per_article']:.0f} |",
        "",
        f"Speed-up: {bench['speedup']:.1f}x.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point: print the report, optionally write it to a file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller evaluation and benchmark")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS)
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    report = format_table(run(args.quick, args.seeds))
    print(report)
    if args.write:
        args.write.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
