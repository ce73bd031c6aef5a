"""The one object the CLI, the UI and the tests talk to: ingest, ask, grade, practise."""
from __future__ import annotations

import functools
import os
import random
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from .conversation import Conversation
from .embeddings import TutorEmbeddings, load_embeddings
from .export import write_anki_deck, write_attempts_csv
from .grading import GOOD, Grade, Grader
from .interview import Interview
from .notes import Card, Skipped, UnreadableNote, load_notes, parse_markdown, read_note
from .progress import Attempt, ProgressError, ProgressReport, ProgressStore, check_user, utc
from .retrieval import Hit, RetrievalConfig, Retriever
from .scheduler import CardSchedule, choose_cards
from .settings import Settings
from .store import CardStore, open_chroma

MAX_QUESTION_CHARS = 2000
MAX_UPLOAD_BYTES = 1024 * 1024
UPLOAD_FOLDER = "uploads"


class InputError(ValueError):
    """The caller's input cannot be used (empty question, unknown card...)."""


class GradeNotSaved(ProgressError):
    """The answer was graded, but the attempt could not be recorded: the grade still stands."""

    def __init__(self, grade: Grade, problem: ProgressError) -> None:
        super().__init__(str(problem))
        self.grade = grade


@dataclass(frozen=True)
class IngestReport:
    files: int
    cards: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    skipped: int
    seconds: float
    skipped_details: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped_details"] = [asdict(s) for s in self.skipped_details]
        return data


@dataclass(frozen=True)
class Answer:
    query: str
    hits: list[Hit]

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "hits": [
                {
                    "id": hit.card.id,
                    "question": hit.card.question,
                    "path": list(hit.card.path),
                    "source": hit.card.source,
                    "line": hit.card.line,
                    "score": hit.score,
                    "answer": hit.card.answer,
                }
                for hit in self.hits
            ],
        }


class Tutor:
    """Owns the embedding model, the store and a retriever over the current index."""

    def __init__(
        self,
        settings: Settings | None = None,
        embeddings: TutorEmbeddings | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.embeddings = embeddings or load_embeddings(self.settings.embedding)
        self.store = CardStore(open_chroma(self.settings.data_dir, self.settings.chroma_url), self.embeddings)
        self.retrieval_config = retrieval or RetrievalConfig()
        self._retriever: Retriever | None = None
        self._grader: Grader | None = None
        self._progress: ProgressStore | None = None
        self.last_report: IngestReport | None = None
        self._lock = threading.RLock()  # guards the retriever/grader references, held briefly
        self._ingest_lock = threading.Lock()

    # ingest -------------------------------------------------------------------------
    def ingest(
        self,
        knowledge_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        folder = Path(knowledge_dir or self.settings.knowledge_dir)
        # One ingest at a time, reading the folder inside the lock: a concurrent upload's
        # file is then either seen by this sync or synced by the next one, never deleted.
        # Questions keep being answered from the current retriever meanwhile; the next
        # question after the sync builds a new one (the grader follows the retriever).
        with self._ingest_lock:
            notes = load_notes(folder)
            counts = self.store.sync(notes.cards, on_progress=on_progress)
            with self._lock:
                self._retriever = None
            self.last_report = self._report(notes, counts, started)
            return self.last_report

    def _report(self, notes, counts, started: float) -> "IngestReport":
        return IngestReport(
            files=notes.files,
            cards=len(notes.cards),
            chunks=counts.chunks,
            added=counts.added,
            updated=counts.updated,
            removed=counts.removed,
            unchanged=counts.unchanged,
            skipped=len(notes.skipped),
            seconds=round(time.perf_counter() - started, 3),
            skipped_details=notes.skipped,
        )

    def add_note(self, file_name: str, source: Path) -> Path:
        """Check an uploaded Markdown file and copy it into the notes folder.

        Rejected (InputError, nothing written): not .md, over 1 MiB, binary, not UTF-8,
        or no heading with answer text under it. Uploads go to `uploads/` in the notes
        folder; uploading a file of the same name again replaces it.
        """
        name = Path(file_name or "").name
        if Path(name).suffix.lower() not in (".md", ".markdown"):
            raise InputError(f"{name or 'file'}: only Markdown (.md) notes can be added")
        size = Path(source).stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"{name}: too large ({size // 1024} KiB; at most {MAX_UPLOAD_BYTES // 1024} KiB)")
        try:
            text = read_note(Path(source))
        except UnreadableNote as problem:
            raise InputError(f"{name}: {problem}") from None
        cards, _ = parse_markdown(text, name)
        if not cards:
            raise InputError(f"{name}: no question headings with answer text found")
        folder = Path(self.settings.knowledge_dir) / UPLOAD_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.\-]+", "_", Path(name).stem).strip("._") or "notes"
        target = folder / f"{stem}.md"
        target.write_text(text, encoding="utf-8")
        return target

    def is_empty(self) -> bool:
        return self.store.count_chunks() == 0

    # retrieval ----------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is not None:
                return self._retriever
        retriever = Retriever(self.store.snapshot(), self.embeddings, self.retrieval_config)
        with self._lock:
            if self._retriever is None:
                self._retriever = retriever
            return self._retriever

    def ask(self, question: str, k: int = 3) -> Answer:
        question = _clean_question(question)
        if k < 1:
            raise InputError("k must be at least 1")
        return Answer(query=question, hits=self.retriever.search(question, k))

    def conversation(self) -> Conversation:
        """A fresh chat context (one per user session)."""
        return Conversation(self.retriever)

    def topics(self) -> list[tuple[str, int]]:
        """Topics of the indexed cards with their card counts, largest first."""
        counts: dict[str, int] = {}
        for card in self.retriever.cards:
            counts[card.topic] = counts.get(card.topic, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def start_interview(
        self,
        topics: list[str] | None = None,
        count: int = 5,
        seed: int | None = None,
        user: str | None = None,
        card_ids: list[str] | None = None,
        now: datetime | None = None,
    ) -> Interview:
        """An interview of `count` cards from `topics` (all when empty).

        With a `user`, cards come in the order of their schedule (due, weakest topics,
        new; see scheduler.choose_cards) and every answer is recorded; without one they
        are shuffled and nothing is recorded. `card_ids` asks exactly those cards.
        """
        if count < 1:
            raise InputError("an interview needs at least one question")
        retriever = self.retriever
        pool = [c for c in retriever.cards if not topics or c.topic in topics]
        if card_ids is not None:
            by_id = {c.id: c for c in pool}
            pool = [by_id[i] for i in dict.fromkeys(card_ids) if i in by_id]
            chosen = pool[:count]
        elif user is not None:
            schedule = self.progress.schedule(_user(user), {c.id for c in pool})
            chosen = choose_cards(pool, schedule, count, utc(now), seed)
        else:
            random.Random(seed).shuffle(pool)
            chosen = pool[:count]
        if not chosen:
            raise InputError("no cards for the chosen topics" if card_ids is None else "none of those cards are in the notes")
        record = functools.partial(self.progress.record, _user(user)) if user is not None else None
        return Interview.begin(chosen, self.grader, retriever.lexical.keywords, record)

    # grading ------------------------------------------------------------------------
    @property
    def grader(self) -> Grader:
        retriever = self.retriever
        with self._lock:
            if self._grader is None or self._grader.retriever is not retriever:
                self._grader = Grader(retriever)
            return self._grader

    def grade(self, question: str, answer: str, user: str | None = None) -> Grade:
        """Grade against the closest card; with a `user`, record it as that user's attempt
        (GradeNotSaved, carrying the grade, when that fails)."""
        question = _clean_question(question)
        name = _user(user) if user is not None else None
        hits = self.retriever.search(question, k=1)
        if not hits:
            raise InputError(f"no card in the notes matches the question: {question[:80]}")
        grade = self.grader.grade(hits[0].card, answer, question=question)
        if name is not None:
            try:
                self.progress.record(name, hits[0].card, grade.score, (answer or "").strip())
            except ProgressError as problem:
                raise GradeNotSaved(grade, problem) from None
        return grade

    # progress -----------------------------------------------------------------------
    @property
    def progress(self) -> ProgressStore:
        with self._lock:
            if self._progress is None:
                self._progress = ProgressStore(Path(self.settings.data_dir) / "progress.sqlite3")
            return self._progress

    def _current_card_ids(self) -> set[str] | None:
        """The indexed cards' ids (cards since removed from the notes are not due any
        more), or None = no filter when nothing is indexed."""
        return None if self.is_empty() else {c.id for c in self.retriever.cards}

    def progress_report(self, user: str, now: datetime | None = None) -> ProgressReport:
        return self.progress.report(_user(user), self._current_card_ids(), now)

    def attempts(self, user: str) -> list[Attempt]:
        return self.progress.attempts(_user(user))

    def due_cards(self, user: str, now: datetime | None = None) -> list[tuple[Card, CardSchedule]]:
        """Cards due for review at `now`, the longest overdue first."""
        now = utc(now)
        pairs = self._scheduled(user)
        return sorted(((c, s) for c, s in pairs if s.is_due(now)), key=lambda pair: pair[1].due)

    def weakest_cards(self, user: str, limit: int = 5) -> list[tuple[Card, CardSchedule]]:
        """Practised cards with the lowest last score (below "good")."""
        pairs = [(c, s) for c, s in self._scheduled(user) if s.score < GOOD]
        return sorted(pairs, key=lambda pair: (pair[1].score, pair[1].due))[:limit]

    def _scheduled(self, user: str) -> list[tuple[Card, CardSchedule]]:
        cards = {c.id: c for c in self.retriever.cards}
        schedule = self.progress.schedule(_user(user), set(cards))
        return [(cards[card_id], item) for card_id, item in schedule.items()]

    @property
    def exports_dir(self) -> Path:
        """Where exports are written (the UI serves downloads from here)."""
        return Path(self.settings.data_dir) / "exports"

    def export_attempts(self, user: str, target: Path | None = None) -> Path:
        """The user's attempts as CSV (default: exports/attempts-<user>.csv, replaced)."""
        name = _user(user)
        default = self.exports_dir / ("attempts-" + re.sub(r"[^\w.-]+", "_", name) + ".csv")
        return _replace_atomically(target or default, lambda path: write_attempts_csv(self.progress.attempts(name), path))

    def export_anki(self, target: Path | None = None) -> Path:
        """Every indexed card as an Anki deck (default: exports/interview-tutor.apkg, replaced)."""
        default = self.exports_dir / "interview-tutor.apkg"
        return _replace_atomically(target or default, lambda path: write_anki_deck(list(self.retriever.cards), path))


def _replace_atomically(target: Path, write: Callable[[Path], Path]) -> Path:
    """Write next to `target`, then rename: a reader never sees half a file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _user(user: str) -> str:
    try:
        return check_user(user)
    except ValueError as error:
        raise InputError(str(error)) from None


def _clean_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise InputError("the question is empty")
    return question[:MAX_QUESTION_CHARS]
