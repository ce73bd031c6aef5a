"""Progress store, FSRS scheduling, question choice, exports and accounts."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import threading
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from tutor.export import write_anki_deck, write_attempts_csv
from tutor.notes import Card
from tutor.progress import ProgressError, ProgressStore
from tutor.scheduler import CardSchedule, choose_cards, rating_for
from tutor.users import Accounts, AuthError

from ..conftest import ROOT

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def card(number: int, topic: str = "Attention") -> Card:
    return Card(id=f"notes.md#{number:04d}", question=f"问题 {number}？", answer=f"答案 {number}。",
                key_points=(f"答案 {number}。",), path=(topic, f"问题 {number}"), source="notes.md", line=number)


@pytest.fixture
def store(tmp_path) -> ProgressStore:
    return ProgressStore(tmp_path / "progress.sqlite3")


def test_rating_rule_follows_the_verdict_bands():
    assert [rating_for(s).name for s in (0, 49, 50, 69, 70, 84, 85, 100)] == [
        "Again", "Again", "Hard", "Hard", "Good", "Good", "Easy", "Easy"]
    assert rating_for(None).name == "Again"  # skipped
    assert rating_for(95, hints=1).name == "Good" and rating_for(60, hints=2).name == "Hard"


def test_a_failed_card_comes_back_sooner_than_an_easy_one(store):
    failed, easy, good = card(1), card(2), card(3)
    store.record("ann", failed, 10, "不太清楚", at=MONDAY)
    store.record("ann", easy, 95, "完整的回答", at=MONDAY)
    store.record("ann", good, 75, "大致正确", at=MONDAY)
    due = {card_id: item.due for card_id, item in store.schedule("ann").items()}
    assert due[failed.id] < due[good.id] < due[easy.id]
    assert due[failed.id] - MONDAY <= timedelta(minutes=10)
    assert due[easy.id] - MONDAY >= timedelta(days=1)
    # reviewing the easy card well again pushes it further out
    store.record("ann", easy, 95, "again complete", at=due[easy.id])
    assert store.schedule("ann")[easy.id].due - due[easy.id] > due[easy.id] - MONDAY


def test_follow_ups_are_attempts_but_not_reviews(store):
    store.record("ann", card(1), 40, "partly", at=MONDAY)
    before = store.schedule("ann")[card(1).id]
    store.record("ann", card(1), 90, "the missed point", kind="follow-up", at=MONDAY + timedelta(minutes=1))
    after = store.schedule("ann")[card(1).id]
    assert (after.due, after.reviews, after.last_score) == (before.due, 1, 40)
    assert [(a.kind, a.rating) for a in store.attempts("ann")] == [("question", "Again"), ("follow-up", None)]
    store.record("ann", card(2), None, kind="skipped", at=MONDAY)
    assert store.schedule("ann")[card(2).id].last_score is None  # a skip is a failed review
    with pytest.raises(ValueError):
        store.record("ann", card(3), 101, "x")
    with pytest.raises(ValueError):
        store.record(" ", card(3), 50, "x")


def test_monday_practice_shows_due_cards_and_weak_topics_on_tuesday(store):
    store.record("ann", card(1, "Attention"), 20, "weak", at=MONDAY)
    store.record("ann", card(2, "Attention"), 45, "weak", at=MONDAY)
    store.record("ann", card(3, "RLHF"), 95, "strong", at=MONDAY)
    store.record("ann", card(4, "RLHF"), 75, "good", at=MONDAY)
    # right after practice only the failed cards are due; the good one (10 min step) and
    # the excellent one (days) are not
    assert store.report("ann", now=MONDAY + timedelta(minutes=1)).due == 2
    report = store.report("ann", now=TUESDAY)
    assert report.attempts == 4 and report.due == 3  # the failed two and the good one; not the excellent one
    assert [(t.topic, t.attempts) for t in report.topics] == [("Attention", 2), ("RLHF", 2)]  # weakest first
    assert report.topics[0].mastery == pytest.approx(0.325) and report.topics[1].mastery == pytest.approx(0.85)
    # the other user sees none of it
    other = store.report("bob", now=TUESDAY)
    assert (other.attempts, other.due, other.topics) == (0, 0, [])
    assert store.attempts("bob") == [] and store.schedule("bob") == {}


def test_question_choice_due_then_weak_topics_then_new_without_repeats():
    cards = [card(i, topic) for i, topic in enumerate(["A", "A", "A", "B", "B", "B", "C", "C", "C"], start=1)]
    schedule = {
        cards[0].id: CardSchedule(cards[0].id, "A", "", MONDAY + timedelta(hours=2), 30, 1),   # due, later
        cards[1].id: CardSchedule(cards[1].id, "A", "", MONDAY + timedelta(hours=1), 40, 1),   # due, earlier
        cards[3].id: CardSchedule(cards[3].id, "B", "", TUESDAY + timedelta(days=5), 95, 1),  # strong, not due
        cards[6].id: CardSchedule(cards[6].id, "C", "", TUESDAY + timedelta(days=3), 55, 1),  # weak topic C, not due
    }
    order = choose_cards(cards, schedule, count=len(cards), now=TUESDAY, seed=7)
    ids = [c.id for c in order]
    assert len(ids) == len(set(ids)) == len(cards)
    assert ids[:2] == [cards[1].id, cards[0].id]  # due, longest overdue first
    # then new cards of the weak topics, weakest (A: 0.35) before C (0.55); B (0.95) is not weak
    assert [c.topic for c in order[2:5]] == ["A", "C", "C"]
    assert {c.topic for c in order[5:7]} == {"B"} and all(c.id not in schedule for c in order[5:7])
    assert ids[7:] == [cards[6].id, cards[3].id]  # practice ahead: lowest last score first
    assert [c.id for c in choose_cards(cards, schedule, count=3, now=TUESDAY, seed=7)] == ids[:3]


def test_progress_survives_a_restart_and_a_killed_process(tmp_path):
    path = tmp_path / "progress.sqlite3"
    ProgressStore(path).record("ann", card(1), 80, "answer")
    script = (
        "import os, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.unit.test_progress import card; from tutor.progress import ProgressStore;"
        "ProgressStore(sys.argv[2]).record('ann', card(2), 30, 'answer before the kill');"
        "os.kill(os.getpid(), 9)"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(ROOT), str(path)], timeout=120)
    assert killed.returncode == -9
    reopened = ProgressStore(path)
    assert [a.answer for a in reopened.attempts("ann")] == ["answer", "answer before the kill"]
    assert set(reopened.schedule("ann")) == {card(1).id, card(2).id}


def test_many_threads_record_at_once_without_losing_anything(store):
    shared = card(99)
    errors = []

    def practise(user: str) -> None:
        try:
            for i in range(20):
                store.record(user, card(i), i * 5, f"{user} answer {i}")
                store.record(user, shared, 60, f"{user} shared {i}")
        except Exception as error:  # collected so the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=practise, args=(f"user{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n in range(8):
        attempts = store.attempts(f"user{n}")
        assert len(attempts) == 40
        assert store.schedule(f"user{n}")[shared.id].reviews == 20  # every review read the latest state
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_corrupt_database_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "progress.sqlite3"
    path.write_bytes(b"this is not a database, but somebody's data" * 100)
    before = path.read_bytes()
    with pytest.raises(ProgressError, match="progress.sqlite3"):
        ProgressStore(path)
    assert path.read_bytes() == before


def test_a_locked_database_is_a_clear_error_and_writes_nothing(tmp_path):
    path = tmp_path / "progress.sqlite3"
    store = ProgressStore(path, busy_timeout=0.3)
    store.record("ann", card(1), 50, "first", at=MONDAY)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ProgressError, match="locked"):
            store.record("ann", card(2), 50, "second", at=MONDAY)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [a.answer for a in store.attempts("ann")] == ["first"]
    store.record("ann", card(2), 50, "second", at=MONDAY)  # works again once released
    assert len(store.attempts("ann")) == 2


def test_attempts_export_as_csv(store, tmp_path):
    store.record("ann", card(1), 88, "多头注意力, \"quoted\"\n第二行", at=MONDAY)
    store.record("ann", card(2), None, kind="skipped", at=MONDAY)
    target = write_attempts_csv(store.attempts("ann"), tmp_path / "attempts.csv")
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read the Chinese right
    with open(target, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["card_id"], r["kind"], r["score"], r["rating"]) for r in rows] == [
        (card(1).id, "question", "88", "Easy"), (card(2).id, "skipped", "", "Again")]
    assert rows[0]["answer"] == "多头注意力, \"quoted\"\n第二行" and rows[0]["user"] == "ann"


def test_cards_export_as_a_valid_anki_deck(tmp_path):
    cards = [card(1), card(2, "RLHF"), Card(id="x.md#1", question="公式？", answer="复杂度 $O(n^2 d)$ <b>", key_points=(),
                                            path=("Transformer", "公式"), source="x.md", line=3, tags=("math",))]
    target = write_anki_deck(cards, tmp_path / "deck.apkg")
    with zipfile.ZipFile(target) as package:
        assert package.testzip() is None and "collection.anki2" in package.namelist()
        package.extract("collection.anki2", tmp_path)
    with sqlite3.connect(tmp_path / "collection.anki2") as collection:
        notes = collection.execute("SELECT flds, tags FROM notes ORDER BY id").fetchall()
        assert collection.execute("SELECT COUNT(*) FROM cards").fetchone()[0] == 3
        decks = collection.execute("SELECT decks FROM col").fetchone()[0]
    assert "Interview Tutor" in decks
    fields = [row[0].split("\x1f") for row in notes]
    assert [f[0] for f in fields] == ["问题 1？", "问题 2？", "公式？"]
    assert fields[2][1] == "复杂度 \\(O(n^2 d)\\) &lt;b&gt;"  # MathJax delimiters, HTML shown as text
    assert "RLHF" in notes[1][1] and "math" in notes[2][1]
    with pytest.raises(ValueError):
        write_anki_deck([], tmp_path / "empty.apkg")


def test_accounts_from_pairs_or_a_file(tmp_path):
    accounts = Accounts.parse("alice:s3cret, bob:pa:ss")
    assert accounts.check("alice", "s3cret") and accounts.check("bob", "pa:ss")
    assert not accounts.check("alice", "pa:ss") and not accounts.check("carol", "") and not accounts.check("alice", "")
    listing = tmp_path / "users.txt"
    listing.write_text("# the study group\nalice:one\n\ncarol:three,with,commas\n", encoding="utf-8")
    from_file = Accounts.parse(str(listing))
    assert from_file.check("carol", "three,with,commas") and set(from_file.passwords) == {"alice", "carol"}
    for bad in ("alice", "alice:", ":pw", "alice:1,alice:2", str(tmp_path / "missing.txt")):
        with pytest.raises(AuthError):
            Accounts.parse(bad)


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "progress.sqlite3"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE recipes (name TEXT)")
        other.execute("INSERT INTO recipes VALUES ('红烧肉')")
    other.close()
    before = path.read_bytes()
    with pytest.raises(ProgressError, match="not the tutor's progress"):
        ProgressStore(path)
    assert path.read_bytes() == before
