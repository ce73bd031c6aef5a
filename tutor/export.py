"""Exports: a user's attempts as CSV, the cards as an Anki deck (.apkg, via genanki)."""
from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from pathlib import Path

import genanki

from .notes import Card
from .progress import Attempt

CSV_COLUMNS = ("time_utc", "user", "card_id", "topic", "question", "kind", "score", "rating", "answer")
# Fixed ids: Anki recognises a re-imported deck, note type and notes and updates them
# instead of adding duplicates.
NOTE_TYPE_ID = 1_607_392_319
NOTE_TYPE = genanki.Model(
    NOTE_TYPE_ID,
    "Interview Tutor card",
    fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Source"}],
    templates=[{
        "name": "Card 1",
        "qfmt": "<div class=question>{{Question}}</div>",
        "afmt": "{{FrontSide}}<hr id=answer><div class=answer>{{Answer}}</div><div class=source>{{Source}}</div>",
    }],
    css=".card {font-family: system-ui, 'Noto Sans CJK SC', sans-serif; font-size: 18px; text-align: left;}"
        " .source {color: #888; font-size: 13px; margin-top: 1em;}",
)


# A cell starting with one of these is a formula to a spreadsheet program (=HYPERLINK(...)
# in a heading would run in every exporting user's spreadsheet); such text cells get a
# leading apostrophe, which spreadsheets read as "this is text" and do not show.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def attempts_csv_text(attempts: list[Attempt]) -> str:
    """One row per attempt, text cells made safe to open in a spreadsheet, with a leading
    byte-order mark so spreadsheet programs show Chinese correctly."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for a in attempts:
        text = [spreadsheet_safe(value) for value in (a.user, a.card_id, a.topic, a.question, a.kind)]
        writer.writerow([a.at.isoformat(timespec="seconds"), *text, "" if a.score is None else a.score,
                         a.rating or "", spreadsheet_safe(a.answer)])
    return "\ufeff" + stream.getvalue()


def write_attempts_csv(attempts: list[Attempt], target: Path) -> Path:
    Path(target).write_text(attempts_csv_text(attempts), encoding="utf-8", newline="")
    return Path(target)


def write_anki_deck(cards: list[Card], target: Path, deck_name: str = "LLM 面试 Interview Tutor") -> Path:
    """One note per card (question / answer / source), tagged with its topic; LaTeX is
    converted to Anki's MathJax delimiters."""
    if not cards:
        raise ValueError("there are no cards to export")
    deck_id = int(hashlib.sha1(deck_name.encode()).hexdigest()[:8], 16)
    deck = genanki.Deck(deck_id, deck_name)
    for card in cards:
        deck.add_note(genanki.Note(
            model=NOTE_TYPE,
            fields=[_anki_html(card.question), _anki_html(card.answer),
                    html.escape(card.citation)],
            tags=[_tag(card.topic), *(_tag(t) for t in card.tags)],
            guid=genanki.guid_for(card.id),
        ))
    genanki.Package(deck).write_to_file(str(target))
    return Path(target)


def _anki_html(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\$\$(.+?)\$\$", r"\\[\1\\]", text, flags=re.S)
    text = re.sub(r"(?<![\\$])\$([^$\n]+?)\$", r"\\(\1\\)", text)
    return text.replace("\n", "<br>")


def _tag(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip()) or "untagged"
