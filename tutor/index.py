"""One complete index in memory: the cards, their chunk vectors and the lexical index.

Retrieval, grading and the chat read the same `Index` (built once from the store after a
sync, read-only afterwards, so shared across threads). What is embedded for a card is
defined once, here (`card_texts`): the store embeds it and the grader reads it back.
"""
from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter

from .english_opinion import EnglishVectors
from .lexical import LexicalIndex, is_chinese, is_english
from .notes import Card, without_code

log = logging.getLogger(__name__)

CHUNK_CHARS = 360
CHUNK_OVERLAP = 60

_splitter = RecursiveCharacterTextSplitter(
    chunk_size=CHUNK_CHARS,
    chunk_overlap=CHUNK_OVERLAP,
    separators=["\n\n", "\n", "。", "；", "! ", "? ", ". ", "，", ", ", " ", ""],
    keep_separator="end",
)


# Up to this many chunks a query is scored against every chunk (exactly, in memory); above
# it, against the cards of the store's nearest chunks. bench/scale.py: the full scan takes
# 2.0 ms over 31k chunks and 20 ms over 309k, where Chroma's HNSW query takes 3 ms at both.
EXACT_SCAN_CHUNKS = 100_000
# At 309k chunks the cards of the nearest 200 / 500 / 1,000 chunks gave the same hits as the
# full scan for 97.8 / 99.3 / 100 % of 137 real-style questions, in 6.6 / 8.6 / 13.4 ms
NEAREST_CHUNKS = 500
NEAREST_RETRY_SECONDS = 60  # after a failed search (a server down), scan until then

# How much higher e5 scores an English question against a card's English rendering than
# against the card's Chinese question chunk: the median over the dev split's English
# questions with gold cards that have a rendering (122 pairs with 409 cards, quartiles
# 0.026 / 0.048; 101 pairs and 0.032 with 233 cards; printed by bench/fit_answerability.py).
RENDERING_ADVANTAGE = 0.032
# Fewest question / rendering pairs from which the notes' language offset is measured
MIN_LANGUAGE_PAIRS = 20


def measure_language_offset(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """Mean Chinese vector minus mean English vector over (question chunk, English
    rendering) pairs; None below `MIN_LANGUAGE_PAIRS`. It is a property of the model more
    than of the notes: measured on alternate halves of the shipped notes' files (about 200
    pairs each, different topics) the two offsets have cosine 0.98
    (tests/unit/test_shipped_vectors.py), so
    the shipped notes' offset serves notes without renderings
    (`ShippedVectors.language_offset`)."""
    if len(pairs) < MIN_LANGUAGE_PAIRS:
        return None
    questions, renderings = map(np.asarray, zip(*pairs))
    return (questions.mean(axis=0) - renderings.mean(axis=0)).astype(np.float32)


def question_text(card: Card) -> str:
    """A card's first chunk: its question with the topic path, what a paraphrase meets."""
    return _with_headings(card.question, card)


def _with_headings(text: str, card: Card) -> str:
    return f"{text}\n{card.heading_path}" if card.path else text


def rendering_text(card: Card) -> str:
    """The chunk embedded for a card's English rendering (only when it has one)."""
    return _with_headings(card.english, card)


def card_texts(card: Card) -> list[str]:
    """The texts embedded for a card: the question chunk, the question's English rendering
    when the notes give one (an English query meets its own language: e5's cross-lingual
    similarities run lower than same-language ones), then ~360-character pieces of the
    answer, each with the question in front so a piece of a long answer keeps its context."""
    pieces = _splitter.split_text(card.answer) or [card.answer]
    english = [rendering_text(card)] if card.english else []
    return [question_text(card)] + english + [f"{card.question}\n{piece.strip()}" for piece in pieces]


_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
_BIG_O = re.compile(r"\bO\([^()]{1,20}\)")


def lexical_text(card: Card) -> str:
    """What the lexical index reads of a card. The question counts twice: it is what a
    paraphrase most resembles. Inside formulas only Big-O terms count: an operator's name
    in a formula (`\\text{CLIP}` in PPO's objective) is not what the card is about."""
    answer = _MATH.sub(lambda m: " ".join(_BIG_O.findall(m.group())) or " ", card.answer)
    return "\n".join((card.question, card.question, card.english, " ".join(card.path), answer))


def largest(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` largest values, largest first: a partial sort, because sorting
    every card's score cost more than the rest of a query at 100k cards."""
    n = min(n, len(values))
    if n <= 0:
        return np.zeros(0, np.int64)
    top = np.argpartition(-values, n - 1)[:n] if n < len(values) else np.arange(len(values))
    return top[np.argsort(-values[top], kind="stable")]


@dataclass
class Index:
    cards: list[Card]
    chunk_vectors: np.ndarray  # (chunks, dim), L2-normalised
    chunk_card: np.ndarray  # the position in `cards` of each chunk's card
    lexical: LexicalIndex
    card_is_chinese: np.ndarray  # per card: its answer is written in Chinese (English terms inside are normal)
    positions: dict[str, int] = field(init=False)  # card id -> position in `cards`
    # the ids of the chunks nearest a vector, from the store's own nearest-neighbour index
    # (set by whoever knows the store; see search_scores)
    nearest: Callable[[np.ndarray, int], list[str]] | None = field(default=None, compare=False)
    # the embedding model's language offset, measured on the shipped notes
    # (`ShippedVectors.language_offset`), for notes too short of renderings to measure their
    # own; set by whoever knows the shipped vectors, before the first query
    model_language_offset: np.ndarray | None = field(default=None, compare=False)
    # MiniLM's vectors of the cards' English questions, for English questions' second
    # opinion (english_opinion.py); None without that model
    english_vectors: EnglishVectors | None = field(default=None, compare=False)
    _nearest_retry_at: float = field(default=0.0, init=False, compare=False)

    @classmethod
    def build(cls, cards: list[Card], chunk_vectors: np.ndarray, chunk_card: np.ndarray,
              previous: Index | None = None) -> Index:
        """`chunk_vectors` are stored card by card, each card's question chunk first. The
        lexical terms of cards whose text is as in `previous` are taken from it."""
        texts: list[str | dict[str, int]] = [lexical_text(card) for card in cards]
        if previous is not None:
            counts_of = previous.lexical.term_counts()
            for i, card in enumerate(cards):
                before = previous.positions.get(card.id)
                if before is not None and lexical_text(previous.cards[before]) == texts[i]:
                    texts[i] = counts_of(before)
        return cls(cards=cards, chunk_vectors=chunk_vectors, chunk_card=np.asarray(chunk_card, np.int64),
                   lexical=LexicalIndex.build(texts),
                   card_is_chinese=np.array([is_chinese(card.answer) for card in cards], bool))

    def __post_init__(self) -> None:
        self.positions = {card.id: i for i, card in enumerate(self.cards)}
        self._first_chunk = np.searchsorted(self.chunk_card, np.arange(len(self.cards)))
        self._chunk_end = np.searchsorted(self.chunk_card, np.arange(len(self.cards)), side="right")
        # each card's English rendering is its second chunk (see card_texts)
        self._rendering = np.zeros(len(self.chunk_card), bool)
        for position, card in enumerate(self.cards):
            second = self._first_chunk[position] + 1
            if card.english and second < len(self.chunk_card) and self.chunk_card[second] == position:
                self._rendering[second] = True
        # here, where the index is built, not on the first English question (~12 µs a card)
        self._english_chunks = self._chunks_in_english()

    def __len__(self) -> int:
        return len(self.cards)

    def card(self, card_id: str) -> Card | None:
        position = self.positions.get(card_id)
        return None if position is None else self.cards[position]

    def question_vector(self, position: int) -> np.ndarray:
        """The embedding of the question chunk of the card at `position`."""
        return self.chunk_vectors[self._first_chunk[position]]

    def rendering_vector(self, position: int) -> np.ndarray | None:
        """The embedding of the English rendering of the card at `position`, if it has one."""
        second = self._first_chunk[position] + 1
        return self.chunk_vectors[second] if second < len(self._rendering) and self._rendering[second] else None

    @functools.cached_property
    def language_offset(self) -> np.ndarray | None:
        """Chinese minus English in e5's space, measured on the notes' own parallel text:
        the mean question chunk minus the mean English rendering, over the cards that have
        one. Multilingual embeddings carry a shared per-language component (language
        centroids; see Libovický et al. 2020, "On the language neutrality of pre-trained
        multilingual representations"); adding this offset to an English text's vector
        before comparing it with Chinese text (subtracting it for the reverse) narrows the
        gap between e5's cross-lingual and same-language similarities (on the two grading dev
        sets, grade-5 answers' evidence in the notes' language over that across languages
        fell from 1.27 / 1.43 to 1.19 / 1.26). None when the notes have too few renderings
        to measure it (the grader then takes the model's, see `measure_language_offset`)."""
        pairs = [(self.question_vector(position), rendering) for position in range(len(self.cards))
                 if (rendering := self.rendering_vector(position)) is not None]
        return measure_language_offset(pairs)

    @property
    def cross_language_offset(self) -> np.ndarray | None:
        """The offset that moves a text before it is compared across languages: the notes'
        own, else the model's."""
        own = self.language_offset
        return own if own is not None else self.model_language_offset

    @functools.cached_property
    def _virtual_renderings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The model's language offset, which cards stand in for an English rendering by
        their Chinese question chunk moved by it, and the length of that moved vector per
        card (read once: the index is not changed afterwards). Only in notes without a
        single real rendering: a virtual rendering sits a little nearer every English
        question than a real one (on the dev split's English questions, +0.009 for
        unrelated cards, -0.002 for the right ones), so among real renderings the cards
        without one would draw unrelated English questions (the seed's positional-encoding
        card drew "Why do power transformers have laminated iron cores?"); when no card has
        a real one, all are moved alike."""
        offset = self.model_language_offset
        if offset is None or self._rendering.any() or not len(self.chunk_card):
            return None
        virtual = np.array([is_chinese(card.question) for card in self.cards], bool)
        virtual &= self._first_chunk < self._chunk_end  # a card without chunks has no question vector
        # |q - o|² = 1 - 2 q·o + o·o for a unit q, without a copy of the question vectors
        question_dot_offset = (self.chunk_vectors @ offset)[np.minimum(self._first_chunk, len(self.chunk_card) - 1)]
        lengths = np.sqrt(np.maximum(1 - 2 * question_dot_offset + float(offset @ offset), 1e-12))
        return offset, virtual, lengths.astype(np.float32)

    def card_scores(self, vector: np.ndarray, english_query: bool = False) -> np.ndarray:
        """Each card's best chunk cosine with `vector` (-1 for a card without chunks). An
        English rendering counts `RENDERING_ADVANTAGE` less: an English question scores
        that much higher against English text than against the same question in Chinese,
        and a learner's own card, which has no rendering, must not lose for that alone.
        For an English query (`english_query`: `is_english`) every chunk written in English
        counts that much less, for the same reason: in notes that mix the languages a card
        written in English otherwise drew English questions on whatever it shared a few
        words with (other people's notes alone, the dev split of othernotes_questions.jsonl:
        English questions' recall@1 0.444 -> 0.704; the shipped notes' dev questions: the
        same rankings).

        In notes without renderings (a learner's own folder), a card with a Chinese
        question is also scored on a virtual rendering: its question chunk moved by the
        model's language offset, Chinese to English, counted like a rendering (see
        `_virtual_renderings`). An
        English question then meets it about as it meets a real rendering, where the
        answerability model was fitted (English questions on the dev split against the
        notes without renderings: recall@3 0.857 -> 0.893, nothing else changed)."""
        chunk_scores = self.chunk_vectors @ vector
        scores = self._best_per_card(chunk_scores, slice(None), english_query)
        if self._virtual_renderings is None:  # the usual case: no per-card positions to build
            return scores
        return self._with_virtual_renderings(scores, chunk_scores, self._first_chunk, np.arange(len(self.cards)), vector)

    def search_scores(self, vector: np.ndarray, english_query: bool = False) -> np.ndarray:
        """`card_scores` for ranking a question's cards. From `EXACT_SCAN_CHUNKS` chunks up,
        with a `nearest` search, only the cards of the `NEAREST_CHUNKS` nearest chunks are
        scored (exactly, every chunk of theirs) and the others get -1: the best cards, and
        the crowd of ranks 5-20 the answerability evidence reads, are among them. Callers
        that walk further down every card's order use `card_scores`."""
        if self.nearest is not None and len(self.chunk_card) >= EXACT_SCAN_CHUNKS:
            candidates = self._nearest_cards(vector)
            if candidates is not None:
                return self._scores_of(candidates, vector, english_query)
        return self.card_scores(vector, english_query)

    def _nearest_cards(self, vector: np.ndarray) -> np.ndarray | None:
        if time.monotonic() < self._nearest_retry_at:
            return None
        try:
            ids = self.nearest(vector, NEAREST_CHUNKS)
        except Exception as error:  # the store is being reopened or unreachable: scan instead
            log.warning("nearest-neighbour search failed (%s): scanning every chunk for %d s", error,
                        NEAREST_RETRY_SECONDS)
            self._nearest_retry_at = time.monotonic() + NEAREST_RETRY_SECONDS
            return None
        positions = {self.positions.get(chunk_id.rsplit("::", 1)[0]) for chunk_id in ids}
        positions.discard(None)  # chunks of cards this index does not hold (a sync in progress)
        return np.array(sorted(positions), np.int64) if positions else None

    def _scores_of(self, cards: np.ndarray, vector: np.ndarray, english_query: bool = False) -> np.ndarray:
        starts, ends = self._first_chunk[cards], self._chunk_end[cards]
        chunks = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        chunk_scores = self.chunk_vectors[chunks] @ vector
        scores = self._best_per_card(chunk_scores, chunks, english_query)
        first = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])  # each card's question chunk in `chunks`
        return self._with_virtual_renderings(scores, chunk_scores, first, cards, vector)

    def _with_virtual_renderings(self, scores: np.ndarray, chunk_scores: np.ndarray, first: np.ndarray,
                                 cards: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """`scores` raised, for the scored `cards` that have a virtual rendering, to that one's
        cosine with `vector` less `RENDERING_ADVANTAGE`: (q - offset) . v / |q - offset|,
        from the question chunk's score (`chunk_scores[first[i]]` for `cards[i]`) already
        computed, so it costs one more dot product per query."""
        virtual = self._virtual_renderings
        if virtual is None:
            return scores
        offset, virtual_cards, lengths = virtual
        has_one = virtual_cards[cards]
        if not has_one.any():
            return scores
        targets = cards[has_one]
        moved = (chunk_scores[first[has_one]] - float(offset @ vector)) / lengths[targets] - RENDERING_ADVANTAGE
        scores[targets] = np.maximum(scores[targets], moved)
        return scores

    def _best_per_card(self, chunk_scores: np.ndarray, chunks: np.ndarray | slice, english_query: bool) -> np.ndarray:
        """Each card's best of `chunk_scores` (the scores of the chunks at `chunks`), its
        English rendering (for an English query, all its English text) discounted; -1 for a
        card none of whose chunks were scored."""
        discounted = self._english_chunks if english_query else self._rendering
        chunk_scores[discounted[chunks]] -= RENDERING_ADVANTAGE
        scores = np.full(len(self.cards), -1.0, np.float32)
        np.maximum.at(scores, self.chunk_card[chunks], chunk_scores)
        return scores

    def chunks_not_of(self, card_id: str, chinese: bool | None = None) -> np.ndarray:
        """Indices of every chunk that belongs to another card (a baseline for grading).

        Without `chinese`: the notes' own text, so not the English renderings of their
        questions. With it: only text in that language, the renderings counting as English
        (in notes written in Chinese they are most of the English text there is)."""
        position = self.positions.get(card_id)
        selected = self._chunk_masks[chinese]
        if position is None:
            return np.flatnonzero(selected)
        return np.flatnonzero(selected & (self.chunk_card != position))

    def mean_chunk_not_of(self, card_id: str, chinese: bool | None = None) -> tuple[np.ndarray, int]:
        """The mean vector of the chunks `chunks_not_of(card_id, chinese)` selects (the
        centre of the notes' other text) and how many they are, from sums kept per
        language: only the card's own chunks are read per call."""
        total, count = self._chunk_sums[chinese]
        position = self.positions.get(card_id)
        if position is not None:
            own = np.arange(self._first_chunk[position], self._chunk_end[position])
            own = own[self._chunk_masks[chinese][own]]
            total, count = total - self.chunk_vectors[own].sum(axis=0), count - len(own)
        return total / max(count, 1), count

    @functools.cached_property
    def _chunk_masks(self) -> dict[bool | None, np.ndarray]:
        """Which chunks `chunks_not_of` reads, per `chinese` value (before leaving a card out)."""
        return {None: ~self._rendering, True: self._chunk_is_chinese, False: ~self._chunk_is_chinese}

    @functools.cached_property
    def _chunk_sums(self) -> dict[bool | None, tuple[np.ndarray, int]]:
        return {chinese: (self.chunk_vectors[mask].sum(axis=0, dtype=np.float64), int(mask.sum()))
                for chinese, mask in self._chunk_masks.items()}

    def _chunks_in_english(self) -> np.ndarray:
        """The chunks written in English (`is_english`): the renderings, the question
        chunks of questions so written and the other chunks of answers so written, code
        aside (a Chinese card whose answer is mostly code is a Chinese card). Not
        `card_is_chinese`, which counts words of code as English: the answerability model
        and the grader's baselines were fitted and measured with that one. A card with a
        Chinese question never has its question chunk here, so its virtual rendering is
        the only discounted stand-in for it (`_with_virtual_renderings`)."""
        english_answers = np.array([is_english(without_code(card.answer)) for card in self.cards], bool)
        english = self._rendering | english_answers[self.chunk_card]
        with_chunks = np.flatnonzero(self._first_chunk < self._chunk_end)
        english[self._first_chunk[with_chunks]] = [is_english(self.cards[i].question) for i in with_chunks]
        return english

    @functools.cached_property
    def _chunk_is_chinese(self) -> np.ndarray:
        return self.card_is_chinese[self.chunk_card] & ~self._rendering
