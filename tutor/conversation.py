"""Free-form questions in a conversation: short follow-ups use what was asked before.

- "详细一点" / "more detail" / "why?" expand the last answer (its card plus related cards);
- "那 MQA 呢？" / "what about MQA?" ask about the new subject, preferring cards near the
  last one's topic, and fall back to the subject plus the last question as context;
- anything else is a fresh question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from .index import largest
from .lexical import is_english
from .notes import Card
from .retrieval import Hit, Retriever

_EXPAND = re.compile(
    r"^\s*(详细(一)?点|详细说说|详细些|展开(说说|讲讲)?|具体(一)?点|再详细(一)?点|还有吗|继续|为什么|为啥|why|more|"
    r"more detail(s)?|tell me more|elaborate|go on|explain more|details?)\s*[?？!！。.]*\s*$",
    re.I,
)
_WHAT_ABOUT = re.compile(
    r"^\s*(?:那么?|那个)?\s*(?P<zh>.{1,40}?)\s*(?:呢|又如何|又怎么样|怎么样)\s*[?？]?\s*$"
    r"|^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<en>.{1,60}?)\s*\??\s*$"
    r"|^\s*and\s+(?P<and>.{1,60}?)\s*\?\s*$",
    re.I,
)
SAME_TOPIC_BONUS = 0.02
NEAREST_DEPTH = 50  # cards read for the nearest topics before sorting them all
NOT_COVERED = "我的笔记里没有涉及这个问题。(Not covered by the notes.)"


def not_covered_message(term: str | None) -> str:
    """What to say when declining: the term the notes never mention, when there is one."""
    if term:
        return f"我的笔记里没有讲 {term}。(The notes do not cover {term}.)"
    return NOT_COVERED


class ReplyKind(StrEnum):
    ANSWER = "answer"  # a fresh question answered
    EXPAND = "expand"  # "详细一点": the last card again, with related ones
    NOT_COVERED = "not-covered"


@dataclass
class Reply:
    kind: ReplyKind
    query: str  # what was actually searched
    hits: list[Hit]
    related: list[Card] = field(default_factory=list)
    unexplained: str | None = None  # when not covered: a term of the question the notes never mention


@dataclass
class Conversation:
    retriever: Retriever
    last_card: Card | None = None

    def ask(self, message: str, k: int = 3) -> Reply:
        message = message.strip()
        if self.last_card is not None and _EXPAND.match(message):
            card = self.last_card
            related = related_cards(self.retriever, card, 3)
            hit = Hit(card=card, score=1.0, dense=1.0, lexical=0.0)
            return Reply(ReplyKind.EXPAND, card.question, [hit], related)
        subject = _subject(message) if self.last_card is not None else None
        vector = None if subject else self.retriever.embeddings.query(message)
        lookup = None if subject else self.retriever.lookup(message, vector, k)
        hits = self._about(subject, k) if subject else lookup.hits
        query = subject or message
        # An elliptical subject the notes know ("那 ZeRO-3 呢？") may need the last question
        # as context; one they do not know ("那今天天气呢？") must not borrow it.
        if not hits and subject and self.retriever.index.lexical.keywords(subject, 1):
            query = f"{subject} {self.last_card.question}"
            hits = self.retriever.search(query, k)
        if not hits:
            if vector is None:
                vector = self.retriever.embeddings.query(message)
                lookup = self.retriever.lookup(message, vector, k)
            return Reply(ReplyKind.NOT_COVERED, query, [], nearest_topics(self.retriever, message, vector),
                         lookup.unexplained)
        self.last_card = hits[0].card
        return Reply(ReplyKind.ANSWER, query, hits, related_cards(self.retriever, hits[0].card, 3, exclude=hits))

    def _about(self, subject: str, k: int) -> list[Hit]:
        hits = self.retriever.search(subject, max(k, 8))
        topic = self.last_card.topic
        ranked = sorted(hits, key=lambda h: h.score + (SAME_TOPIC_BONUS if h.card.topic == topic else 0), reverse=True)
        return ranked[:k]


def _subject(message: str) -> str | None:
    match = _WHAT_ABOUT.match(message)
    if not match:
        return None
    subject = next(g for g in match.groups() if g)
    return subject.strip(" ，,。") or None


def related_cards(retriever: Retriever, card: Card, n: int, exclude: list[Hit] | None = None) -> list[Card]:
    """Cards whose question is nearest to this card's question (by its question chunk)."""
    index = retriever.index
    position = index.positions.get(card.id)
    if position is None:
        return []
    # a card's question against the others': no query language to discount for
    scores = index.card_scores(index.question_vector(position))
    skip = {card.id} | {h.card.id for h in exclude or []}
    return [index.cards[i] for i in np.argsort(-scores) if index.cards[i].id not in skip][:n]


def nearest_topics(retriever: Retriever, query: str, vector: np.ndarray, n: int = 3) -> list[Card]:
    """For "not in my notes": the closest cards to the query (embedded as `vector`) anyway,
    one per topic, so the user sees what is covered (scored as its hits are:
    `Index.card_scores`)."""
    index = retriever.index
    scores = index.card_scores(vector, is_english(query))
    # the best few cards usually hold n topics; sorting every card's score (100k of them in
    # a large folder) only when they do not
    for order in (largest(scores, NEAREST_DEPTH), np.argsort(-scores)):
        seen: set[str] = set()
        result = []
        for i in order:
            card = index.cards[i]
            if card.topic not in seen:
                seen.add(card.topic)
                result.append(card)
            if len(result) == n:
                return result
    return result
