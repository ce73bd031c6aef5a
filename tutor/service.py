"""The one object the CLI, the UI and the tests talk to: ingest, ask, grade, practise."""
from __future__ import annotations

import functools
import hashlib
import os
import random
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from .conversation import Conversation
from .embeddings import TutorEmbeddings, load_embeddings
from .errors import IndexNotReady, InputError
from .export import attempts_csv_text, write_anki_deck, write_attempts_csv
from .grading import GOOD, Grade, Grader
from .indexing import Indexer, IndexingStatus, IngestReport
from .interview import Interview
from .limits import check_text
from .notes import Card, UnreadableNote, parse_markdown, read_note
from .progress import LOCAL_USER, Attempt, ProgressError, ProgressReport, ProgressStore, check_user, utc
from .retrieval import Hit, RetrievalConfig, Retriever
from .scheduler import CardSchedule, choose_cards
from .settings import Settings
from .store import CardStore, open_chroma

__all__ = ["Answer", "GradeNotSaved", "IngestReport", "IndexingStatus", "InputError", "Tutor"]

MAX_UPLOAD_BYTES = 1024 * 1024
# ~3 chunks a card at ~10 chunks/s: an upload at the limit indexes in about five minutes
MAX_CARDS_PER_UPLOAD = 1000
UPLOAD_FOLDER = "uploads"


class GradeNotSaved(ProgressError):
    """The answer was graded, but the attempt could not be recorded: the grade still stands."""

    def __init__(self, grade: Grade, problem: ProgressError) -> None:
        super().__init__(str(problem))
        self.grade = grade


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
    """Owns the embedding model, the index (see `Indexer`) and the progress store."""

    def __init__(
        self,
        settings: Settings | None = None,
        embeddings: TutorEmbeddings | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.embeddings = embeddings or load_embeddings(self.settings.embedding)
        self.retrieval_config = retrieval or RetrievalConfig()
        lock_file = None if self.settings.chroma_url else Path(self.settings.data_dir) / "sync.lock"
        self.index = Indexer(self._open_store, self.embeddings, self.settings.knowledge_dir, self.retrieval_config,
                             lock_file)
        self._grader: Grader | None = None
        self._progress: ProgressStore | None = None
        self._lock = threading.RLock()  # guards the grader/progress references, held briefly

    def _open_store(self) -> CardStore:
        return CardStore(open_chroma(self.settings.data_dir, self.settings.chroma_url), self.embeddings)

    # index --------------------------------------------------------------------------
    @property
    def store(self) -> CardStore:
        return self.index.store

    @property
    def last_report(self) -> IngestReport | None:
        return self.index.last_report

    def ingest(
        self,
        knowledge_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Sync the notes folder now, in this thread (the command line)."""
        return self.index.ingest(knowledge_dir, on_progress)

    def start_indexing(self) -> bool:
        """Sync the notes folder in the background (the web UI); see `indexing_status`."""
        return self.index.start()

    def indexing_status(self) -> IndexingStatus:
        return self.index.status()

    def add_note(self, file_name: str, source: Path, user: str = LOCAL_USER) -> Path:
        """Check an uploaded Markdown file and copy it into the notes folder.

        Rejected (InputError, nothing written): not .md, over 1 MiB, binary, not UTF-8,
        no heading with answer text under it, or more than MAX_CARDS_PER_UPLOAD cards.
        Uploads go to `uploads/<user>/` in the notes folder, under a name that keeps
        different names apart; the same user uploading the same name again replaces it.
        The caller indexes (`start_indexing`).
        """
        name = Path(str(file_name or "")).name
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
        if len(cards) > MAX_CARDS_PER_UPLOAD:
            raise InputError(f"{name}: {len(cards)} cards; one upload may add at most {MAX_CARDS_PER_UPLOAD} "
                             "(split the file)")
        folder = Path(self.settings.knowledge_dir) / UPLOAD_FOLDER / file_stem(_user(user))
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{file_stem(Path(name).stem)}.md"
        _replace_atomically(target, lambda path: path.write_text(text, encoding="utf-8"))
        return target

    def is_empty(self) -> bool:
        return self.store.count_chunks() == 0

    # retrieval ----------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        """The retriever over the last complete index (IndexNotReady before the first)."""
        return self.index.retriever

    def ask(self, question: str, k: int = 3) -> Answer:
        question = check_text(question, "the question")
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
        (GradeNotSaved, carrying the grade, when that fails). An empty answer, or a
        question no card matches, is an InputError and nothing is recorded."""
        question = check_text(question, "the question")
        answer = check_text(answer, "the answer")
        name = _user(user) if user is not None else None
        hits = self.retriever.search(question, k=1)
        if not hits:
            raise InputError(f"no card in the notes matches the question: {question[:80]}")
        grade = self.grader.grade(hits[0].card, answer, question=question)
        if name is not None:
            try:
                self.progress.record(name, hits[0].card, grade.score, answer)
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
        more), or None = no filter when nothing is indexed (yet)."""
        try:
            return {c.id for c in self.retriever.cards} or None
        except IndexNotReady:
            return None

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

    def attempts_csv(self, user: str) -> str:
        """The user's attempts as CSV text (the UI hands it to that user's browser only)."""
        return attempts_csv_text(self.progress.attempts(_user(user)))

    def export_attempts(self, user: str, target: Path) -> Path:
        """The user's attempts as a CSV file (replaced atomically)."""
        attempts = self.progress.attempts(_user(user))
        return _replace_atomically(target, lambda path: write_attempts_csv(attempts, path))

    def export_anki(self, target: Path | None = None) -> Path:
        """Every indexed card as an Anki deck. The cards are shared by all users, so the
        default file (in a private temporary folder of this process) is too."""
        if target is None:
            with self._lock:
                if getattr(self, "_deck_folder", None) is None:
                    self._deck_folder = Path(tempfile.mkdtemp(prefix="tutor-deck-"))
            target = self._deck_folder / "interview-tutor.apkg"
        return _replace_atomically(target, lambda path: write_anki_deck(list(self.retriever.cards), path))


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


def file_stem(name: str) -> str:
    """A file or folder name that keeps different names apart ("a b" and "a_b" stay two
    files): letters, digits, `_`, `-` and inner dots as they are, everything else as %XX;
    never hidden, never a path; very long names end in a hash of the whole name."""
    encoded = "".join(
        ch if (ch.isalnum() or ch in "_-" or (ch == "." and i > 0)) else "".join(f"%{b:02X}" for b in ch.encode())
        for i, ch in enumerate(name)
    ) or "notes"
    if len(encoded) > 120:
        encoded = encoded[:100] + "-" + hashlib.sha1(name.encode("utf-8", "replace")).hexdigest()[:12]
    return encoded
