"""A mock interview: ask cards' questions, grade replies, follow up on a missed point.

The interview owns no UI: it is a small state machine the chat (or a script) drives with
`answer`, `hint`, `skip` and `summary`. It asks `cards` in the order given (the service
orders them by the learner's schedule, see `scheduler.choose_cards`) and hands every
graded answer and skip to `record` (the progress store) when one is set.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from . import followups
from .followups import FollowUpKind
from .grading import Grade, Grader
from .notes import Card
from .progress import AttemptKind, ProgressError, Submission

logger = logging.getLogger(__name__)

# Stores one answer or skip (a learner's progress store); raises ProgressError on failure.
Recorder = Callable[[Submission], object]


@dataclass
class Turn:
    card: Card
    prompt: str
    kind: AttemptKind  # QUESTION or FOLLOW_UP
    reference: Card | None = None  # a follow-up is graded against this (a card, or one point)
    follow_up: FollowUpKind | None = None
    answer: str = ""
    grade: Grade | None = None
    skipped: bool = False
    hints: int = 0


@dataclass(frozen=True)
class Feedback:
    """What the interviewer says after a reply: the grade and what comes next."""

    grade: Grade
    kind: AttemptKind
    next_prompt: str | None  # a follow-up or the next question; None when the interview is over
    next_kind: AttemptKind | None
    not_saved: str | None = None  # why the attempt could not be recorded (the grade still stands)
    follow_up: FollowUpKind | None = None  # what kind of follow-up comes next, if one does


@dataclass(frozen=True)
class SummaryRow:
    number: int
    question: str
    topic: str
    score: int | None  # None when skipped
    verdict: str
    follow_up_score: int | None
    study_next: str | None = None  # the most important point missed, to study next
    source: str = ""  # where the card is written


@dataclass(frozen=True)
class Summary:
    rows: list[SummaryRow]
    average: float | None
    by_topic: dict[str, float]
    answered: int
    skipped: int


@dataclass
class Interview:
    cards: list[Card]
    grader: Grader
    record: Recorder | None = None
    follow_ups: bool = True
    language: str = "zh"  # "zh" or "en": the language questions and follow-ups are asked in
    turns: list[Turn] = field(default_factory=list)
    _next_card: int = 0

    @classmethod
    def begin(
        cls,
        cards: list[Card],
        grader: Grader,
        record: Recorder | None = None,
        language: str = "zh",
        follow_ups: bool = True,
    ) -> Interview:
        """Start asking `cards` in this order (no card twice)."""
        cards = list(dict.fromkeys(cards))
        if not cards:
            raise ValueError("no cards to ask")
        if language not in ("zh", "en"):
            raise ValueError("the interview language is zh or en")
        interview = cls(cards=cards, grader=grader, record=record, follow_ups=follow_ups, language=language)
        interview._advance()
        return interview

    # state ----------------------------------------------------------------------------
    @property
    def current(self) -> Turn | None:
        if self.turns and self.turns[-1].grade is None and not self.turns[-1].skipped:
            return self.turns[-1]
        return None

    @property
    def finished(self) -> bool:
        return self.current is None

    @property
    def progress(self) -> tuple[int, int]:
        """(number of the main question being asked, total main questions)."""
        return self._next_card, len(self.cards)

    def _advance(self) -> Turn | None:
        if self._next_card >= len(self.cards):
            return None
        card = self.cards[self._next_card]
        self._next_card += 1
        turn = Turn(card=card, prompt=card.asked_in(self.language), kind=AttemptKind.QUESTION)
        self.turns.append(turn)
        # while the learner thinks and types: the grader's first look at a card (its second
        # reference, the points' vectors) would otherwise add to the reply (~0.1 s for a
        # shipped card, whose points' vectors ship; ~0.5 s for a learner's own)
        threading.Thread(target=_prepare, args=(self.grader, card), daemon=True).start()
        return turn

    # actions --------------------------------------------------------------------------
    def answer(self, text: str) -> Feedback:
        turn = self.current
        if turn is None:
            raise ValueError("the interview is over")
        turn.answer = text
        turn.grade = self.grader.grade(turn.reference or turn.card, text, question=turn.prompt)
        following = self._follow_up(turn) if turn.kind == AttemptKind.QUESTION and self.follow_ups else None
        not_saved = self._save(turn)
        if following is None:
            following = self._advance()
        return Feedback(
            grade=turn.grade,
            kind=turn.kind,
            next_prompt=following.prompt if following else None,
            next_kind=following.kind if following else None,
            not_saved=not_saved,
            follow_up=following.follow_up if following else None,
        )

    def _save(self, turn: Turn) -> str | None:
        if self.record is None:
            return None
        kind = AttemptKind.SKIPPED if turn.skipped else turn.kind
        score = turn.grade.score if turn.grade else None
        try:
            self.record(Submission(turn.card, score, turn.answer, kind, turn.hints))
        except ProgressError as error:
            return str(error)
        return None

    def hint(self) -> str:
        """A sentence that points the way: first the kind of thing missing, then the start
        of the most important point (see followups.hint)."""
        turn = self.current
        if turn is None:
            raise ValueError("the interview is over")
        turn.hints += 1
        reference = turn.reference or turn.card
        points = list(reference.key_points) or [re.sub(r"\s+", " ", reference.answer)]
        point = followups.most_important(points, reference, self.grader.index)
        return followups.hint(point, reference, turn.hints, self.language)

    def skip(self) -> tuple[Turn | None, str | None]:
        """Give up on the current prompt (a skipped question counts as failed in the
        schedule). Returns the next turn (None when finished) and why the skip could not
        be recorded, if it could not."""
        turn = self.current
        if turn is None:
            raise ValueError("the interview is over")
        turn.skipped = True
        not_saved = self._save(turn) if turn.kind == AttemptKind.QUESTION else None
        return self._advance(), not_saved

    def end(self) -> None:
        """Stop early: the rest of the planned questions are dropped."""
        if self.current is not None:
            self.current.skipped = True
        self.cards = self.cards[: self._next_card]

    def summary(self) -> Summary:
        rows: list[SummaryRow] = []
        follow_up_scores: dict[int, int] = {}
        for turn in self.turns:
            if turn.kind == AttemptKind.FOLLOW_UP and turn.grade is not None and rows:
                follow_up_scores[len(rows) - 1] = turn.grade.score
            if turn.kind == AttemptKind.QUESTION:
                rows.append(
                    SummaryRow(
                        number=len(rows) + 1,
                        question=turn.prompt,
                        topic=turn.card.topic,
                        score=turn.grade.score if turn.grade else None,
                        verdict=turn.grade.verdict if turn.grade else "跳过 skipped",
                        follow_up_score=None,
                        study_next=self._study_next(turn),
                        source=turn.card.location,
                    )
                )
        rows = [
            SummaryRow(r.number, r.question, r.topic, r.score, r.verdict, follow_up_scores.get(i), r.study_next, r.source)
            for i, r in enumerate(rows)
        ]
        scored = [r for r in rows if r.score is not None]
        topics: dict[str, list[int]] = defaultdict(list)
        for row in rows:  # a skipped question counts as zero for its topic
            topics[row.topic].append(row.score or 0)
        return Summary(
            rows=rows,
            average=round(sum(r.score for r in scored) / len(scored), 1) if scored else None,
            by_topic={topic: round(sum(s) / len(s), 1) for topic, s in topics.items()},
            answered=len(scored),
            skipped=len(rows) - len(scored),
        )

    # follow-ups -----------------------------------------------------------------------
    def _follow_up(self, turn: Turn) -> Turn | None:
        asked = {t.card.id for t in self.turns} | {c.id for c in self.cards}
        move = followups.follow_up(turn.card, turn.grade, self.grader.index, asked, self.language)
        if move is None:
            return None
        card = move.reference if move.kind == FollowUpKind.DEEPER else turn.card
        follow = Turn(card=card, prompt=move.prompt, kind=AttemptKind.FOLLOW_UP, reference=move.reference,
                      follow_up=move.kind)
        self.turns.append(follow)
        return follow

    def _study_next(self, turn: Turn) -> str | None:
        """The one thing to study after this question: its most important missed point."""
        points = list(turn.grade.missed) if turn.grade is not None else list(turn.card.key_points)
        return followups.most_important(points, turn.card, self.grader.index) if points else None


def _prepare(grader: Grader, card: Card) -> None:
    try:
        grader.prepare(card)
    except Exception:  # only a head start: the grade does this work again and reports what fails
        logger.debug("preparing to grade %s failed", card.id, exc_info=True)
