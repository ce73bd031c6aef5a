"""A learner's answer + the matched card -> Grade (score 0-100, verdict, covered, missed).

First version, kept deliberately simple and explainable:
- each key point of the reference is matched against the answer's sentences and against
  the whole answer; a point counts as covered when its best match clears the point's own
  off-topic baseline (its similarity to everyday chatter) by a margin;
- the whole answer is compared with the whole reference the same way, on the same scale;
- the score blends the two, and answers with no content ("不知道", empty, the question
  copied back) score zero.
Embeddings use the symmetric ("query") side of the model for both texts, since an answer
and a reference are the same kind of text.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from .embeddings import TutorEmbeddings
from .notes import Card
from .retrieval import off_topic_vectors

MAX_ANSWER_CHARS = 5000
_SEGMENT_END = re.compile(r"(?<=[。！？；!?;\n])|(?<=[.])\s+")
_NON_ANSWERS = re.compile(
    r"^(不知道|不清楚|不会|不了解|没学过|忘了|不记得|跳过|pass|skip|idk|i don'?t know|no idea|dunno|n/?a|\?+|？+)[。.!！\s]*$",
    re.I,
)


@dataclass(frozen=True)
class Grade:
    question: str
    card_id: str
    score: int
    verdict: str
    covered: list[str]
    missed: list[str]
    reference: str
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GradingConfig:
    """Global knobs (no per-card tuning)."""

    # cosine above the off-topic baseline that counts as "says the same thing"
    point_margin: float = 0.07
    # cosine above the baseline that earns full marks for overall similarity
    full_marks_margin: float = 0.14
    similarity_weight: float = 0.5


def verdict_for(score: int) -> str:
    if score >= 85:
        return "优秀 excellent"
    if score >= 70:
        return "良好 good"
    if score >= 50:
        return "部分正确 partial"
    if score >= 25:
        return "较弱 weak"
    return "未答到要点 off the mark"


def card_source(card: Card) -> str:
    where = f"{card.source}:{card.line}"
    return f"{where} · {' > '.join(card.path)}" if card.path else where


def answer_segments(answer: str) -> list[str]:
    pieces = [p.strip(" \t-*•，,") for p in _SEGMENT_END.split(answer)]
    return [p for p in pieces if len(re.sub(r"\W", "", p)) >= 2]


class Grader:
    def __init__(self, embeddings: TutorEmbeddings, config: GradingConfig | None = None) -> None:
        self.embeddings = embeddings
        self.config = config or GradingConfig()
        self._anchors = off_topic_vectors(embeddings)

    def grade(self, card: Card, answer: str, question: str | None = None) -> Grade:
        answer = (answer or "").strip()[:MAX_ANSWER_CHARS]
        points = list(card.key_points) or [card.answer]
        if not _has_content(answer) or _NON_ANSWERS.match(answer):
            return self._result(card, question, 0, [], points)

        segments = answer_segments(answer) or [answer]
        vectors = self.embeddings.queries([answer, *segments, card.answer, card.question, *points])
        answer_vector = vectors[0]
        segment_vectors = vectors[1 : 1 + len(segments)]
        reference_vector = vectors[1 + len(segments)]
        question_vector = vectors[2 + len(segments)]
        point_vectors = vectors[3 + len(segments) :]
        candidates = np.vstack([answer_vector[None, :], segment_vectors])

        # Baselines: how similar each reference text is to chatter that answers nothing.
        point_floor = (point_vectors @ self._anchors.T).max(axis=1)
        reference_floor = float((self._anchors @ reference_vector).max())

        point_best = (point_vectors @ candidates.T).max(axis=1)
        covered_mask = point_best - point_floor >= self.config.point_margin
        coverage = float(covered_mask.mean())

        overall = float(answer_vector @ reference_vector)
        similarity = np.clip((overall - reference_floor) / self.config.full_marks_margin, 0.0, 1.0)

        # Copying the question back says nothing the question did not already say.
        if float(answer_vector @ question_vector) > overall + 0.02 and coverage < 0.5:
            coverage, covered_mask = 0.0, np.zeros_like(covered_mask)
            similarity = min(similarity, 0.2)

        weight = self.config.similarity_weight
        score = int(round(100 * (weight * similarity + (1 - weight) * coverage)))
        covered = [p for p, hit in zip(points, covered_mask) if hit]
        missed = [p for p, hit in zip(points, covered_mask) if not hit]
        return self._result(card, question, score, covered, missed)

    def _result(self, card: Card, question: str | None, score: int, covered: list[str], missed: list[str]) -> Grade:
        score = max(0, min(100, score))
        return Grade(
            question=question or card.question,
            card_id=card.id,
            score=score,
            verdict=verdict_for(score),
            covered=covered,
            missed=missed,
            reference=card.answer,
            source=card_source(card),
        )


def _has_content(text: str) -> bool:
    return len(re.sub(r"[\W_]", "", text)) >= 2
