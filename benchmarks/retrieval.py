"""Knowledge retrieval on the demo knowledge base: quality and speed of BM25, dense and hybrid.

Loads all-MiniLM-L6-v2 (from its PyPI package), indexes prompts/knowledge/acme into a fresh
SQLite file in a temporary folder, then scores each method on the labelled questions of
evals/knowledge/acme_retrieval.yaml (recall@1/3/5, MRR@5) and times queries (query embedding
included for dense and hybrid) over the questions repeated ``--repeat`` times, for each torch
thread count given. Also reports model load time, the full index build, a no-change re-sync,
re-opening the file, peak memory, and the machine's load average (other work skews timings).
Prints a table and writes JSON (default: benchmarks/results/retrieval.json).

    .venv/bin/python -m benchmarks.retrieval --repeat 5 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.knowledge import KnowledgeIndex, MiniLMEmbedder
from agent.knowledge.evaluation import (
    LabelledSet,
    RetrievalScores,
    load_labelled_set,
    score_retrieval,
)
from benchmarks.common import ROOT, percentile, write_report

KB = ROOT / "prompts/knowledge/acme"
LABELLED = ROOT / "evals/knowledge/acme_retrieval.yaml"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def latency_ms(durations_s: list[float]) -> dict[str, float]:
    """p50, p95, mean and max in milliseconds, to the microsecond (BM25 alone is that fast)."""
    ms = [d * 1000 for d in durations_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def timed(
    search: Callable[[str, int], Sequence[object]], queries: list[str], k: int
) -> list[float]:
    durations = []
    for query in queries:
        started = time.perf_counter()
        search(query, k)
        durations.append(time.perf_counter() - started)
    return durations


def measure(
    embedder: MiniLMEmbedder, labelled: LabelledSet, repeat: int, k: int
) -> tuple[dict[str, Any], dict[str, RetrievalScores]]:
    """Build the index in a temporary folder, score and time it; the timings and the scores."""
    questions = [q.question for q in labelled.questions]
    with tempfile.TemporaryDirectory() as tmp:
        index_path = Path(tmp) / "acme.sqlite3"
        with KnowledgeIndex("acme", KB, index_path, embedder) as index:
            build = index.sync()
            resync = index.sync()
            stats = index.stats()
            methods = {
                "bm25": index.bm25_search,
                "dense": index.dense_search,
                "hybrid": index.search,
            }
            quality = {
                name: score_retrieval(labelled.questions, search, depth=5)
                for name, search in methods.items()
            }
            for search in methods.values():  # warm-up
                timed(search, questions[:5], k)
            latency = {
                name: latency_ms(timed(search, questions * repeat, k))
                for name, search in methods.items()
            }
            embed_only = latency_ms(
                timed(lambda q, _k: [embedder.embed([q])], questions * repeat, 1)
            )
        started = time.perf_counter()
        with KnowledgeIndex("acme", KB, index_path, embedder) as reopened:
            reopen_s = time.perf_counter() - started
            assert reopened.stats().chunks == stats.chunks
    run = {
        "index": {
            "documents": stats.documents,
            "chunks": stats.chunks,
            "build_s": round(build.seconds, 3),
            "resync_unchanged_ms": round(resync.seconds * 1000, 1),
            "reopen_ms": round(reopen_s * 1000, 1),
            "file_bytes": stats.index_bytes,
            "vector_bytes": stats.vector_bytes,
        },
        "latency": latency,
        "query_embedding": embed_only,
    }
    return run, quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the questions")
    parser.add_argument("--k", type=int, default=4, help="passages per query when timing")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/retrieval.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    load_before = os.getloadavg()
    rss_start = peak_rss_mb()
    started = time.perf_counter()
    embedder = MiniLMEmbedder(threads=args.threads[0])
    model_load_s = time.perf_counter() - started
    rss_model = peak_rss_mb()
    labelled = load_labelled_set(LABELLED)
    runs: list[dict[str, Any]] = []
    quality: dict[str, RetrievalScores] = {}
    for threads in args.threads:
        embedder = MiniLMEmbedder(threads=threads)  # the loaded model; sets torch's threads
        run, quality = measure(embedder, labelled, args.repeat, args.k)
        runs.append({"torch_threads": threads, **run})
    rss_end = peak_rss_mb()
    load_after = os.getloadavg()

    n = len(labelled.questions)
    print(f"model load {model_load_s:.2f} s · peak RSS {rss_end:.0f} MB · {n} labelled questions")
    print(f"{'method':<7} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR@5':>6}")
    for name, score in quality.items():
        print(
            f"{name:<7} {score.recall[1]:>6.3f} {score.recall[3]:>6.3f} {score.recall[5]:>6.3f} "
            f"{score.mrr:>6.3f}"
        )
    for run in runs:
        index, latency = run["index"], run["latency"]
        print(
            f"torch threads {run['torch_threads']}: index build {index['build_s']:.2f} s "
            f"({index['documents']} documents, {index['chunks']} chunks), re-sync unchanged "
            f"{index['resync_unchanged_ms']:.0f} ms, reopen {index['reopen_ms']:.0f} ms; "
            f"query p50/p95 (k={args.k}, {n * args.repeat} queries):"
        )
        for name in quality:
            p50, p95 = latency[name]["p50_ms"], latency[name]["p95_ms"]
            print(f"    {name:<7} {p50:>8.2f} ms {p95:>8.2f} ms")
        embed = run["query_embedding"]
        print(f"    {'embed':<7} {embed['p50_ms']:>8.2f} ms {embed['p95_ms']:>8.2f} ms")
    print(f"load average (1 min): {load_before[0]:.2f} before, {load_after[0]:.2f} after")

    write_report(
        args.out,
        "knowledge_retrieval",
        knowledge_base="prompts/knowledge/acme",
        labelled_set="evals/knowledge/acme_retrieval.yaml",
        questions=n,
        model=embedder.model_id,
        k=args.k,
        model_load_s=round(model_load_s, 2),
        quality={
            name: {
                "recall_at_1": round(score.recall[1], 3),
                "recall_at_3": round(score.recall[3], 3),
                "recall_at_5": round(score.recall[5], 3),
                "mrr_at_5": round(score.mrr, 3),
                "ranks": score.ranks,
            }
            for name, score in quality.items()
        },
        runs=runs,
        memory_mb={
            "peak_rss_start": rss_start,
            "peak_rss_after_model": rss_model,
            "peak_rss_end": rss_end,
        },
        # Other work on the machine skews timings: the 1-minute load average before and after.
        load_average={"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
    )


if __name__ == "__main__":
    main()
