"""Write notes folders again in another form that question collections use, same cards.

    python bench/restyle_notes.py FORM OUT_DIR NOTES_DIR [NOTES_DIR ...]

FORM is one of:
  qa       "Q: question" / "A: answer" lines
  list     a numbered list of bold questions, each answer indented under its question
  table    a "| 问题 | 答案 |" table (line breaks as <br>)
  details  <details><summary>question</summary> answer </details> per card

Each NOTES_DIR is written to OUT_DIR/<its name>, file by file: a file's cards (as
`tutor.notes` reads them) in their order under one `##` heading, the file's name, as a
collection of questions is written, so every card keeps its file and its question, and with
them its key in the evaluation sets (`evaluation.card_key`); its topic path is lost. With
the restyled folders in `--notes`, `eval_retrieval.py` and `eval_grading.py` measure the
same questions and answers on notes written in that form, e.g.

    python bench/restyle_notes.py qa /tmp/qa bench/data/prose_notes bench/data/crossling_notes \\
        bench/data/shortanswer_notes
    python bench/eval_retrieval.py --data bench/data/othernotes_questions.jsonl \\
        --notes /tmp/qa/prose_notes /tmp/qa/crossling_notes /tmp/qa/shortanswer_notes --alone --split check
"""
from __future__ import annotations

import argparse
from itertools import groupby
from pathlib import Path

from tutor.notes import Card, load_notes

FORMS = ("qa", "list", "table", "details")


def restyle(cards: list[Card], form: str, title: str) -> str:
    """One file's cards in `form`, under one `## title` heading."""
    parts = [f"## {title}\n"]
    if form == "table":
        rows = [f"| {_cell(card.question)} | {_cell(card.answer)} |" for card in cards]
        parts.append("\n".join(["| 问题 | 答案 |", "| --- | --- |", *rows]) + "\n")
    for number, card in enumerate(cards if form != "table" else [], start=1):
        if form == "qa":
            parts.append(f"Q: {card.question}\nA: {card.answer}\n")
        elif form == "list":
            answer = "\n".join(f"   {line}" if line.strip() else "" for line in card.answer.splitlines())
            parts.append(f"{number}. **{card.question}**\n\n{answer}\n")
        else:
            parts.append(f"<details>\n<summary>{card.question}</summary>\n\n{card.answer}\n\n</details>\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("form", choices=FORMS)
    parser.add_argument("out", type=Path)
    parser.add_argument("notes", type=Path, nargs="+")
    args = parser.parse_args()
    for folder in args.notes:
        cards = load_notes(folder).cards
        for source, file_cards in groupby(cards, key=lambda card: card.source):
            target = args.out / folder.name / source
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(restyle(list(file_cards), args.form, Path(source).stem), encoding="utf-8")
        print(f"{folder} -> {args.out / folder.name}: {len(cards)} cards as {args.form}")


if __name__ == "__main__":
    main()
