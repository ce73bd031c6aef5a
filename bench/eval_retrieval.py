"""Retrieval quality: our retriever next to the previous rule and naive baselines, same run.

    python bench/eval_retrieval.py [--embedding e5 minilm] [--data FILE] [--split dev|check|all]
                                   [--without-renderings] [--notes DIR ... [--alone]]

Indexes `TUTOR_KNOWLEDGE_DIR` (incrementally, in `TUTOR_DATA_DIR`) with each model, then
prints recall@1, recall@3, MRR, all shown and abstention figures (see tutor/evaluation.py), how
many questions whose gold cards include one of the user's own notes (llm_interview_notes.md)
show it among the hits, and for a set with kinds and languages (realstyle_questions.jsonl)
the same per kind and language.

`--without-renderings` indexes, in a temporary folder, a copy of the notes without the
English renderings of their questions (`en:` in a card's metadata comment): the notes as a
learner writes them. The team's cards carry renderings and the learner's own do not, so
this measures English questions against notes like the learner's.

`--notes DIR ...` adds folders of notes in other people's style to the shipped notes (each
a subfolder, as a learner's uploads sit beside them), indexed in a temporary folder; with
`--alone` they replace the shipped notes, as a learner's own notes folder would
(othernotes_questions.jsonl is labelled against bench/data/prose_notes, crossling_notes and
shortanswer_notes).
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path

from tutor.evaluation import (
    OURS,
    SEED_NOTES,
    check_labels,
    load_queries,
    own_cards_shown,
    retrieval_rankings,
    score_rankings,
    settings_with_notes,
    subset_figures,
)
from tutor.notes import METADATA_COMMENT, read_metadata
from tutor.service import Tutor
from tutor.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "retrieval_dev.jsonl"
COLUMNS = ["recall@1", "recall@3", "mrr", "all shown", "answered", "rejected", "abstention"]


def without_renderings(notes: Path, copy: Path) -> Path:
    """A copy of the notes folder (uploads included) in which every card's metadata comment
    keeps its difficulty and tags but not its English rendering (`en:`). The comments are
    found and read by the notes parser's own pattern, so the copy parses to the same cards."""
    shutil.copytree(notes, copy)

    def without_english(comment: re.Match) -> str:
        difficulty, tags, _ = read_metadata(comment.group(0))
        fields = ([f"difficulty: {difficulty}"] if difficulty is not None else []) + \
            ([f"tags: {', '.join(tags)}"] if tags else [])
        return f"<!-- {'; '.join(fields)} -->" if fields else ""

    for path in copy.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        path.write_text(METADATA_COMMENT.sub(without_english, text), encoding="utf-8")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", nargs="+", default=["e5"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="all", help="dev, check or all (rows without a split always count)")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--without-renderings", action="store_true",
                        help="index a copy of the notes without the English renderings of their questions")
    parser.add_argument("--notes", type=Path, nargs="+", default=[], help="notes folders to add to the shipped notes")
    parser.add_argument("--alone", action="store_true", help="the --notes folders replace the shipped notes")
    args = parser.parse_args()
    if args.alone and not args.notes:
        parser.error("--alone needs --notes")
    if args.alone and args.without_renderings:
        parser.error("--without-renderings changes the shipped notes, which --alone leaves out")
    if any(not folder.is_dir() for folder in args.notes):
        parser.error(f"not a folder: {next(str(f) for f in args.notes if not f.is_dir())}")
    if len({folder.resolve().name for folder in args.notes}) < len(args.notes):
        parser.error("each --notes folder becomes a subfolder by its name: give folders of different names")
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.from_env()
        if args.without_renderings:
            print(f"notes without English renderings: a copy of {settings.knowledge_dir}")
            notes = without_renderings(settings.knowledge_dir, Path(scratch) / "notes")
            settings = dataclasses.replace(settings, knowledge_dir=notes, data_dir=Path(scratch) / "data", chroma_url=None)
        if args.notes:
            print(f"notes: {', '.join(str(folder) for folder in args.notes)}"
                  + (" alone" if args.alone else f" beside {settings.knowledge_dir}"))
            settings = settings_with_notes(settings, args.notes, Path(scratch) / "with_notes", args.alone)
        evaluate(args, settings)


def evaluate(args: argparse.Namespace, settings: Settings) -> None:
    queries = [q for q in load_queries(args.data) if args.split == "all" or q.split in (args.split, "")]
    on_topic = sum(q.on_topic for q in queries)
    print(f"query set: {args.data.name} ({args.split}): {on_topic} covered, {len(queries) - on_topic} not covered")
    for spec in args.embedding:
        tutor = Tutor(dataclasses.replace(settings, embedding=spec))
        started = time.perf_counter()
        report = tutor.ingest()
        print(f"\n== {tutor.embeddings.model_id}: {report.cards} cards "
              f"({report.added + report.updated} embedded in {time.perf_counter() - started:.1f}s)")
        missing = check_labels(queries, tutor.retriever.cards)
        if missing:
            raise SystemExit(f"labels that name no card: {missing}")
        rankings = retrieval_rankings(tutor.retriever, queries, k=args.k)
        print(f"{'method':48s}" + "".join(f"{c:>11s}" for c in COLUMNS))
        for method, ranked in rankings.items():
            figures = score_rankings(queries, ranked, args.k)
            print(f"{method:48s}" + "".join(f"{figures[c]:11.3f}" for c in COLUMNS))
        print(f"(all shown: over the {figures['several expected']} covered questions with several expected cards)")
        shown, asked = own_cards_shown(queries, rankings[OURS])
        if asked:
            print(f"the user's own card ({SEED_NOTES}.md) among the hits, when one is gold: {shown} of {asked} questions")
        subsets = {method: subset_figures(queries, ranked, args.k) for method, ranked in rankings.items()}
        names = list(next(iter(subsets.values())))
        if len(names) > 2:
            methods = list(subsets)[:3]
            print(f"\n{'by kind and language':36s}" + "".join(f"{m[:22]:>24s}" for m in methods))
            for name in names:
                print(f"{name:36s}" + "".join(f"{subsets[m][name]:24.3f}" for m in methods))


if __name__ == "__main__":
    main()
