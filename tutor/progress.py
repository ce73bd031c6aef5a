"""Per-user progress: every graded attempt and each card's FSRS schedule, in SQLite.

One file, `progress.sqlite3` under TUTOR_DATA_DIR, in WAL mode: several UI sessions (and
a command line run) can write at once; each write is one short transaction, committed
before the call returns (synchronous=FULL), so a killed process loses nothing that was
reported as saved. Every query is scoped by user: there is no call that reads or
writes another user's rows without naming that user.

A damaged or foreign file is never repaired or overwritten: opening it raises
ProgressError naming the file, and the tutor refuses to record until it is moved aside.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from fsrs import Card as FsrsCard

from .errors import TutorError
from .notes import Card
from .scheduler import CardSchedule, new_scheduler, rating_for, topic_mastery

LOCAL_USER = "local"  # the one user when the UI runs without TUTOR_AUTH
MAX_USER_CHARS = 64
BUSY_TIMEOUT_SECONDS = 15
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    card_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,
    answer TEXT NOT NULL,
    score INTEGER,
    rating TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_user ON attempts (user, at);
CREATE TABLE IF NOT EXISTS schedule (
    user TEXT NOT NULL,
    card_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    question TEXT NOT NULL,
    due TEXT NOT NULL,
    last_score INTEGER,
    reviews INTEGER NOT NULL,
    fsrs TEXT NOT NULL,
    PRIMARY KEY (user, card_id)
);
"""


class ProgressError(TutorError, RuntimeError):
    """The progress database cannot be used (damaged, locked, unwritable)."""


class AttemptKind(StrEnum):
    QUESTION = "question"  # a card's main question: also an FSRS review of the card
    FOLLOW_UP = "follow-up"  # recorded, but the card's schedule does not move again
    SKIPPED = "skipped"  # a main question given up: a failed review


@dataclass(frozen=True)
class Submission:
    """One answer (or skip) to record, as an interview hands it over."""

    card: Card
    score: int | None  # None when skipped
    answer: str = ""
    kind: AttemptKind = AttemptKind.QUESTION
    hints: int = 0


@dataclass(frozen=True)
class Attempt:
    user: str
    card_id: str
    topic: str
    question: str
    kind: AttemptKind
    answer: str
    score: int | None  # None when skipped
    rating: str | None  # the FSRS rating it gave the card; None for follow-ups
    at: datetime


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    attempts: int
    mastery: float  # 0-1: mean last score of the topic's practised cards


@dataclass(frozen=True)
class ProgressReport:
    user: str
    attempts: int
    due: int
    topics: list[TopicProgress] = field(default_factory=list)  # weakest first

    def to_dict(self) -> dict:
        return asdict(self)


def check_user(user: str) -> str:
    name = (user or "").strip()
    if not name:
        raise ValueError("the user name is empty")
    if len(name) > MAX_USER_CHARS or any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise ValueError(f"the user name must be at most {MAX_USER_CHARS} printable characters")
    return name


def utc(moment: datetime | None = None) -> datetime:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    # one fixed format, so text order is time order in SQL
    return utc(moment).isoformat(timespec="microseconds")


class ProgressStore:
    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.scheduler = new_scheduler()
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ProgressError(f"cannot create {self.path.parent}: {error.strerror or error}") from None
        with self._failures("open"):
            connection = self._connection()
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise ProgressError(f"{self.path} is damaged ({check}); it was left untouched: "
                                    "move it aside to start afresh")
            # nothing is written until the file is known to be ours (or new and empty)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version > SCHEMA_VERSION:
                raise ProgressError(f"{self.path} was written by a newer version of the tutor (schema {version})")
            if (version == 0 and tables) or (version and not {"attempts", "schedule"} <= tables):
                raise ProgressError(f"{self.path} is some other SQLite database, not the tutor's progress; "
                                    "it was left untouched: point TUTOR_DATA_DIR elsewhere or move it aside")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # connections ----------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections must not be shared across threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
        return connection

    def _failures(self, action: str):
        return _TranslateErrors(self.path, action, self.busy_timeout)

    # writing --------------------------------------------------------------------------
    def record(
        self,
        user: str,
        card: Card,
        score: int | None,
        answer: str = "",
        kind: AttemptKind = AttemptKind.QUESTION,
        hints: int = 0,
        at: datetime | None = None,
    ) -> Attempt:
        """Store one attempt; a main question (or a skip) is also an FSRS review of the card."""
        user = check_user(user)
        kind = AttemptKind(kind)  # ValueError for anything else
        if kind == AttemptKind.SKIPPED:
            score = None
        elif score is None or not 0 <= int(score) <= 100:
            raise ValueError("a graded attempt needs a score from 0 to 100")
        moment = utc(at)
        rating = None if kind == AttemptKind.FOLLOW_UP else rating_for(score, hints)
        with self._failures("record the attempt in"):
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")  # read-modify-write of the schedule row
            try:
                connection.execute(
                    "INSERT INTO attempts (user, card_id, topic, question, kind, answer, score, rating, at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (user, card.id, card.topic, card.question, kind.value, answer, score,
                     rating.name if rating else None, _stamp(moment)),
                )
                if rating is not None:
                    row = connection.execute(
                        "SELECT fsrs, reviews FROM schedule WHERE user = ? AND card_id = ?", (user, card.id)
                    ).fetchone()
                    state, reviews = (self._fsrs_state(row[0], user, card.id), row[1]) if row else (FsrsCard(), 0)
                    state, _ = self.scheduler.review_card(state, rating, review_datetime=moment)
                    connection.execute(
                        "INSERT OR REPLACE INTO schedule (user, card_id, topic, question, due, last_score, reviews, fsrs)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (user, card.id, card.topic, card.question, _stamp(state.due), score, reviews + 1, state.to_json()),
                    )
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:  # SQLite may have rolled back already (I/O error, full disk)
                    connection.execute("ROLLBACK")
                raise
        return Attempt(user, card.id, card.topic, card.question, kind, answer, score,
                       rating.name if rating else None, moment)

    def _fsrs_state(self, text: str, user: str, card_id: str) -> FsrsCard:
        try:
            return FsrsCard.from_json(text)
        except (ValueError, KeyError, TypeError) as error:
            raise ProgressError(f"{self.path}: the saved schedule of {card_id} for {user} is unreadable ({error}); "
                                "nothing was written") from None

    # reading --------------------------------------------------------------------------
    def attempts(self, user: str) -> list[Attempt]:
        user = check_user(user)
        with self._failures("read"):
            rows = self._connection().execute(
                "SELECT user, card_id, topic, question, kind, answer, score, rating, at FROM attempts"
                " WHERE user = ? ORDER BY at, id", (user,)
            ).fetchall()
        return [Attempt(row[0], row[1], row[2], row[3], AttemptKind(row[4]), *row[5:8], datetime.fromisoformat(row[8]))
                for row in rows]

    def schedule(self, user: str, card_ids: set[str] | None = None) -> dict[str, CardSchedule]:
        """The user's practised cards (only those in `card_ids` when given: cards since
        removed from the notes keep their history but are not scheduled)."""
        user = check_user(user)
        with self._failures("read"):
            rows = self._connection().execute(
                "SELECT card_id, topic, question, due, last_score, reviews FROM schedule WHERE user = ?", (user,)
            ).fetchall()
        return {
            row[0]: CardSchedule(row[0], row[1], row[2], datetime.fromisoformat(row[3]), row[4], row[5])
            for row in rows
            if card_ids is None or row[0] in card_ids
        }

    def report(self, user: str, card_ids: set[str] | None = None, now: datetime | None = None) -> ProgressReport:
        user = check_user(user)
        schedule = self.schedule(user, card_ids)
        now = utc(now)
        with self._failures("read"):
            counts = dict(self._connection().execute(
                "SELECT topic, COUNT(*) FROM attempts WHERE user = ? GROUP BY topic", (user,)
            ).fetchall())
        mastery = topic_mastery(schedule)
        topics = [
            TopicProgress(topic, counts.get(topic, 0), round(value, 3))
            for topic, value in sorted(mastery.items(), key=lambda item: (item[1], item[0]))
        ]
        return ProgressReport(
            user=user,
            attempts=sum(counts.values()),
            due=sum(1 for item in schedule.values() if item.is_due(now)),
            topics=topics,
        )


class _TranslateErrors:
    """sqlite3's errors, said in the user's terms (the operation itself has rolled back)."""

    def __init__(self, path: Path, action: str, busy_timeout: float) -> None:
        self.path, self.action, self.busy_timeout = path, action, busy_timeout

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or not isinstance(error, sqlite3.Error):
            return False
        text = str(error)
        if "locked" in text or "busy" in text:
            raise ProgressError(
                f"could not {self.action} {self.path}: another program has held it locked for "
                f"{self.busy_timeout:g}s; nothing was written, try again"
            ) from None
        if isinstance(error, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            raise ProgressError(
                f"{self.path} is not a readable progress database ({text}); it was left untouched: "
                "move it aside to start afresh"
            ) from None
        raise ProgressError(f"could not {self.action} {self.path}: {text}") from None
