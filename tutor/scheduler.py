"""Spaced repetition: a grade becomes an FSRS rating, and the schedule picks what to ask.

Rating rule (the automatic grade replaces Anki's self-rating; the bands are the
verdicts' bands, see `grading.Band`):

    score  0-49  (weak / off the mark), or skipped  -> Again
    score 50-69  (partial)                          -> Hard
    score 70-84  (good)                             -> Good
    score 85-100 (excellent)                        -> Easy
    an answer given after asking for a hint is rated at most Good.

Only a card's main question is a review; a follow-up answer is recorded as an attempt
but does not move the card's schedule again (one review per card per interview).

A card is due when its FSRS due time has come, and at once when its last answer failed
(Again or skipped): FSRS would bring it back after a one-minute learning step anyway, and
a learner who just failed a card should see it listed as due, not a minute later.

Question choice for a mock interview, within the chosen topics, no card twice:
1. due cards, the longest overdue first;
2. new cards from the weakest topics (practised topics whose mastery is below
   `WEAK_TOPIC_MASTERY`, weakest first);
3. other new cards, shuffled;
4. cards not due yet, the lowest last score first (practice ahead).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from fsrs import Rating, Scheduler

from .grading import Band
from .notes import Card

WEAK_TOPIC_MASTERY = 0.7


def rating_for(score: int | None, hints: int = 0) -> Rating:
    """The FSRS rating of a main answer's score (None = skipped)."""
    if score is None or score < Band.PARTIAL:
        return Rating.Again
    if score < Band.GOOD:
        rating = Rating.Hard
    elif score < Band.EXCELLENT:
        rating = Rating.Good
    else:
        rating = Rating.Easy
    return min(rating, Rating.Good) if hints else rating


def new_scheduler() -> Scheduler:
    # FSRS-6 default parameters and 90 % target retention; no interval fuzzing, so the
    # same answers always give the same schedule (reproducible for learners and tests).
    return Scheduler(desired_retention=0.9, enable_fuzzing=False)


@dataclass(frozen=True)
class CardSchedule:
    """One user's state for one card."""

    card_id: str
    topic: str
    question: str
    due: datetime
    last_score: int | None  # None: the last review was a skip
    reviews: int

    @property
    def score(self) -> int:
        """The last score, a skip counting as 0."""
        return self.last_score or 0

    @property
    def failed(self) -> bool:
        return self.score < Band.PARTIAL

    def is_due(self, now: datetime) -> bool:
        return self.failed or self.due <= now


def topic_mastery(schedule: dict[str, CardSchedule]) -> dict[str, float]:
    """Mastery per topic: mean last score (0-1) over the topic's practised cards."""
    scores: dict[str, list[float]] = {}
    for item in schedule.values():
        scores.setdefault(item.topic, []).append(item.score / 100)
    return {topic: sum(values) / len(values) for topic, values in scores.items()}


def choose_cards(
    cards: list[Card],
    schedule: dict[str, CardSchedule],
    count: int,
    now: datetime,
    seed: int | None = None,
) -> list[Card]:
    """Up to `count` cards in the order above (`cards` is already topic-filtered)."""
    practised = [c for c in cards if c.id in schedule]
    due = sorted((c for c in practised if schedule[c.id].is_due(now)), key=lambda c: schedule[c.id].due)
    new = [c for c in cards if c.id not in schedule]
    random.Random(seed).shuffle(new)
    mastery = topic_mastery({c.id: schedule[c.id] for c in practised})
    weak_topics = sorted((t for t, m in mastery.items() if m < WEAK_TOPIC_MASTERY), key=lambda t: (mastery[t], t))
    rank = {topic: i for i, topic in enumerate(weak_topics)}
    weak_new = sorted((c for c in new if c.topic in rank), key=lambda c: rank[c.topic])  # stable: keeps the shuffle
    other_new = [c for c in new if c.topic not in rank]
    ahead = sorted(
        (c for c in practised if not schedule[c.id].is_due(now)),
        key=lambda c: (schedule[c.id].score, schedule[c.id].due),
    )
    return (due + weak_new + other_new + ahead)[:count]
