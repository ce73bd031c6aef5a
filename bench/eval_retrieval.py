"""Retrieval quality on the dev set: our retriever next to naive baselines, per model.

    python bench/eval_retrieval.py [--embedding e5 minilm] [--data bench/data/retrieval_dev.jsonl]

Indexes `TUTOR_KNOWLEDGE_DIR` (incrementally, in `TUTOR_DATA_DIR`) with each model, then
prints recall@1, recall@3, MRR and abstention figures (see tutor/evaluation.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from tutor.evaluation import check_labels, evaluate_retrieval, load_queries
from tutor.service import Tutor
from tutor.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "retrieval_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", nargs="+", default=["e5", "minilm"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("-k", type=int, default=3)
    args = parser.parse_args()
    queries = load_queries(args.data)
    on_topic = sum(q.on_topic for q in queries)
    print(f"query set: {args.data.name}: {on_topic} on-topic, {len(queries) - on_topic} off-topic queries")
    for spec in args.embedding:
        settings = dataclasses.replace(Settings.from_env(), embedding=spec)
        tutor = Tutor(settings)
        started = time.perf_counter()
        report = tutor.ingest()
        print(f"\n== {tutor.embeddings.model_id}: {report.cards} cards "
              f"({report.added + report.updated} embedded in {time.perf_counter() - started:.1f}s)")
        missing = check_labels(queries, tutor.retriever.cards)
        if missing:
            raise SystemExit(f"labels that name no card: {missing}")
        results = evaluate_retrieval(tutor.retriever, queries, k=args.k)
        columns = ["recall@1", "recall@3", "mrr", "answered", "rejected", "abstention"]
        print(f"{'method':48s}" + "".join(f"{c:>11s}" for c in columns))
        for method, figures in results.items():
            print(f"{method:48s}" + "".join(f"{figures[c]:11.3f}" for c in columns))


if __name__ == "__main__":
    main()
