"""Grading agreement with human grades: our grader next to plain cosine, same run.

    python bench/eval_grading.py [--data FILE ...] [--split dev|check|all] [--notes DIR [--alone]]
                                 [--without-model-offset]

Each answer is graded against the card its label names. Prints Spearman and Pearson
against the 0-5 human grades, for our grader, the previous one (bullet points only, one
baseline, the matched card only: `GradingConfig.whole_notes=False`) and plain cosine
(rubric: bench/data/GRADING_RUBRIC.md), overall and per language, and our mean score per
answer kind and per human grade. "End to end" grades each answer as `grade --question Q
--answer A` does, the question matched to a card first, as an outside tool would measure
it: a question matched to no card scores 0.

`--notes DIR` adds a folder of notes in a learner's style (bench/data/prose_notes) to the
shipped ones, the way a learner's own notes sit beside them, indexed in a temporary folder;
without it the index of TUTOR_KNOWLEDGE_DIR is used. With `--alone` the folder replaces the
shipped notes instead, as a learner's own notes folder would: notes without English
renderings, graded with the model's language offset from the shipped vectors.
`--without-model-offset` grades such notes with no offset, as the grader did before that
offset shipped (retrieval, which finds each card's second reference, still uses it).
"""
from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

from tutor.evaluation import THIN_CARD_POINTS, evaluate_grading, load_graded_answers, settings_with_notes
from tutor.grading import Grader
from tutor.service import Tutor
from tutor.settings import Settings

DATA = Path(__file__).resolve().parent / "data"


def tutor_with(notes: Path | None, scratch: Path, alone: bool = False) -> Tutor:
    if notes is None:
        return Tutor()
    return Tutor(settings_with_notes(Settings.from_env(), [notes], scratch, alone))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[DATA / "grading_dev.jsonl", DATA / "grading_check.jsonl",
                                                                  DATA / "grading_seed.jsonl"])
    parser.add_argument("--split", default="all", help="dev, check or all (answers without a split always count)")
    parser.add_argument("--notes", type=Path, help="a notes folder to add to the shipped notes")
    parser.add_argument("--alone", action="store_true", help="the --notes folder replaces the shipped notes")
    parser.add_argument("--without-model-offset", action="store_true",
                        help="no language offset for notes without English renderings")
    args = parser.parse_args()
    if args.alone and args.notes is None:
        parser.error("--alone needs --notes")
    if args.without_model_offset and not args.alone:
        parser.error("--without-model-offset needs --alone (notes with renderings measure their own offset)")
    with tempfile.TemporaryDirectory() as scratch:
        tutor = tutor_with(args.notes, Path(scratch), args.alone)
        tutor.ingest()
        grader = tutor.grader
        if args.without_model_offset:  # the same index without the model's offset, for grading only
            index = copy.copy(grader.index)
            index.model_language_offset = None
            grader = Grader(index, tutor.embeddings, companions=grader.companions, point_vectors=grader.point_vectors)
        for path in args.data:
            answers = [a for a in load_graded_answers(path) if args.split == "all" or a.split in (args.split, "")]
            # end to end (the question matched as `grade` matches it) only with the tutor's own grader
            result = evaluate_grading(grader, tutor.embeddings, tutor.retriever.cards, answers,
                                      grade=None if args.without_model_offset else tutor.grade)
            cards = len({a.card for a in answers})
            print(f"\n== {path.name} ({args.split}): {len(answers)} graded answers to {cards} cards")
            end_to_end = "end to end" in result["all"]
            print(f"{'subset':8s}{'n':>5s}{'ours ρ':>10s}{'ours r':>10s}{'previous ρ':>12s}{'previous r':>12s}"
                  f"{'cosine ρ':>11s}{'cosine r':>11s}"
                  + (f"{'end-to-end ρ':>14s}{'end-to-end r':>14s}" if end_to_end else ""))
            for subset in ("all", "zh", "en"):
                f = result[subset]
                print(f"{subset:8s}{f['n']:5d}{f['ours']['spearman']:10.3f}{f['ours']['pearson']:10.3f}"
                      f"{f['previous']['spearman']:12.3f}{f['previous']['pearson']:12.3f}"
                      f"{f['cosine']['spearman']:11.3f}{f['cosine']['pearson']:11.3f}"
                      + (f"{f['end to end']['spearman']:14.3f}{f['end to end']['pearson']:14.3f}" if end_to_end else ""))
            if end_to_end:
                print(f"end to end, the question matched as `grade` matches it: {result['questions unmatched']} "
                      f"questions matched no card (scored 0), {result['questions matched elsewhere']} were graded "
                      "without the labelled card")
            by_kind = result["mean score by kind"]
            by_grade = result["mean score by human grade"]
            print("our mean score by answer kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.items()))
            print("previous grader's mean score by answer kind: "
                  + ", ".join(f"{k} {v}" for k, v in result["previous mean score by kind"].items()))
            print("our mean score by human grade: " + ", ".join(f"{k}: {v}" for k, v in by_grade.items()))
            thin, wrong = result["grade-5 answers on thin cards"], result["fluent wrong answers"]
            print(f"grade-5 answers on thin cards (<= {THIN_CARD_POINTS} points; issue 13: >= 80): "
                  + (f"n {thin['n']}, mean {thin['mean']}, min {thin['min']}" if thin["n"] else "none"))
            print("fluent wrong answers (issue 13: mean <= 25, none above 50): "
                  + (f"n {wrong['n']}, mean {wrong['mean']}, max {wrong['max']}, above 50: {wrong['above 50']}"
                     if wrong["n"] else "none"))


if __name__ == "__main__":
    main()
