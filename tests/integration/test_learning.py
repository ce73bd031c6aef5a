"""A learner's study on the real model and notes: scheduled, recorded interviews."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from tutor.interview import Interview
from tutor.progress import AttemptKind, ProgressStore, Submission
from tutor.scheduler import rating_for

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def test_tutor_interview_asks_due_cards_first_and_records_every_answer(slice_tutor):
    learner = slice_tutor.learner("monday-learner")
    first = learner.start_interview(["Normalization"], count=2, seed=5, now=MONDAY)
    asked = [c.id for c in first.cards]
    # the learner's answers are recorded with their grades (the real grader, real notes)
    feedback = first.answer("不知道")
    assert feedback.grade.score == 0 and feedback.not_saved is None
    assert feedback.next_kind == AttemptKind.QUESTION  # nothing to follow up on "don't know": the next question
    first.skip()  # the second question, given up: a failed review
    assert first.finished
    attempts = learner.attempts()
    assert [(a.kind, a.score, a.rating) for a in attempts] == [("question", 0, "Again"), ("skipped", None, "Again")]
    assert [a.card_id for a in attempts] == asked
    report = learner.report(now=TUESDAY)
    assert report.due == 2 and report.topics[0].topic == "Normalization"
    second = learner.start_interview(["Normalization"], count=3, seed=5, now=TUESDAY)
    due_ids = {c.id for c, _ in learner.due(TUESDAY)}
    assert due_ids == set(asked) and {c.id for c in second.cards[:2]} == due_ids
    assert len({c.id for c in second.cards}) == len(second.cards) == 3
    # "practise these": exactly the weakest cards
    weakest = [c.id for c, _ in learner.weakest()]
    again = learner.start_interview(None, count=len(weakest), card_ids=weakest)
    assert [c.id for c in again.cards] == weakest and set(weakest) == set(asked)
    # an interview without a learner records nothing
    before = len(learner.attempts())
    slice_tutor.start_interview(["Normalization"], count=1, seed=1).answer("不知道")
    assert len(learner.attempts()) == before


def test_an_interview_says_when_an_attempt_could_not_be_saved(slice_tutor, tmp_path):
    """The grade still stands; the learner is told, and nothing half-written remains."""
    store = ProgressStore(tmp_path / "progress.sqlite3", busy_timeout=0.2)
    cards = [c for c in slice_tutor.retriever.cards if c.topic == "Normalization"][:2]
    calls: list[Submission] = []

    def recorded(submission: Submission):
        calls.append(submission)
        s = submission
        return store.record("ann", s.card, s.score, s.answer, s.kind, s.hints)

    interview = Interview.begin(cards, slice_tutor.grader, recorded)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        feedback = interview.answer("不知道")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert feedback.grade.score == 0 and "locked" in feedback.not_saved
    assert store.attempts("ann") == []
    # the interview passes the hints used on to the store, whose rule caps such an answer at Good
    if interview.current.kind == AttemptKind.FOLLOW_UP:
        interview.skip()  # a skipped follow-up is not a review: nothing recorded
    second = interview.current
    interview.hint()
    interview.answer(second.card.answer)
    assert (calls[-1].card, calls[-1].kind, calls[-1].hints) == (second.card, AttemptKind.QUESTION, 1)
    attempt = store.attempts("ann")[-1]
    assert attempt.rating == ("Good" if attempt.score >= 70 else rating_for(attempt.score).name)
