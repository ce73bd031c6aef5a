"""Grading agreement with human grades: our grader next to plain cosine, same run.

    python bench/eval_grading.py [--data bench/data/grading_dev.jsonl ...]

Each answer is graded against the card its label names (question matching is measured
by the retrieval harness). Prints Spearman and Pearson against the 0-5 human grades
(rubric: bench/data/GRADING_RUBRIC.md), overall and per language, and our mean score per
answer kind and per human grade.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tutor.evaluation import evaluate_grading, load_graded_answers
from tutor.service import Tutor

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[DATA / "grading_dev.jsonl", DATA / "grading_check.jsonl"])
    args = parser.parse_args()
    tutor = Tutor()
    tutor.ingest()
    for path in args.data:
        answers = load_graded_answers(path)
        result = evaluate_grading(tutor.grader, tutor.embeddings, tutor.retriever.cards, answers)
        print(f"\n== {path.name}: {len(answers)} graded answers to {len({a.card for a in answers})} cards")
        print(f"{'subset':8s}{'n':>5s}{'ours ρ':>10s}{'ours r':>10s}{'cosine ρ':>11s}{'cosine r':>11s}")
        for subset in ("all", "zh", "en"):
            f = result[subset]
            print(f"{subset:8s}{f['n']:5d}{f['ours']['spearman']:10.3f}{f['ours']['pearson']:10.3f}"
                  f"{f['cosine']['spearman']:11.3f}{f['cosine']['pearson']:11.3f}")
        print("our mean score by answer kind: " + ", ".join(f"{k} {v}" for k, v in result["mean score by kind"].items()))
        by_grade = result["mean score by human grade"]
        print("our mean score by human grade: " + ", ".join(f"{k}: {v}" for k, v in by_grade.items()))


if __name__ == "__main__":
    main()
