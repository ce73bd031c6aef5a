"""A small lexical index for exact terms (`KV Cache`, `RMSNorm`, `O(n²d)`), Chinese-aware.

Chinese runs are segmented with jieba; Latin runs are lower-cased words plus adjacent-word
pairs, so "KV Cache" is one term as well as two, and a hyphenated name is also held under
its other spellings ("warm-up": warmup, warm_up), of which a question counts one. Scores are BM25, but a query is only
scored on its informative terms: stop words and terms that occur in a large share of the
cards are dropped, which keeps "什么", "为什么" or "你好" from pulling in cards — the
usual failure of naive BM25 fusion on Chinese. The stop words include how an interview
question is put ("面试被问到…", "了解 KTO 吗", "聊一聊 MoE", "奖励模型原理"): such words
name no topic, and as query terms they diluted the query's lexical share, one of the
signals the answerability model reads ("面试被问到 MLA，这是个啥" was declined).
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import jieba
import numpy as np
import snowballstemmer

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9]+(?:[._+\-][a-z0-9]+)*")
_FORMULA = re.compile(r"\bo\([^()]{1,20}\)")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc]")
_NEGATED = re.compile(r"\b(ca|wo|sha|ai)n't\b")
_NEGATED_WORDS = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}
_CONTRACTION = re.compile(r"(?<=[a-z0-9])(n't|'s|'d|'re|'ll|'ve|'m)\b")

STOP_WORDS = frozenset(
    """
    的 了 和 与 及 或 是 在 有 为 为什么 什么 怎么 怎样 如何 哪些 哪个 哪 吗 呢 吧 啊 呀 么 一下 一个 一种
    这个 那个 这些 那些 这样 那样 可以 能 会 要 需要 我们 你们 他们 它们 你 我 他 她 它 请 请问 介绍 解释 说说
    讲讲 谈谈 简述 区别 不同 作用 原因 主要 中 里 上 下 对 把 被 让 用 以及 还是 就是 以 及其 等 其 之 所以
    因为 如果 那么 时候 时 好 你好 您好 谢谢 怎么样 多少 一些 哪里 是否 是不是
    面试 面试官 问到 被问 聊聊 聊一聊 谈一谈 了解 知道 原理 基本原理
    a an the of to in on for and or is are was were be been why what how which who when where does do did
    can could would should will it its this that these those with by as at from about between vs versus
    explain describe tell me please difference differences compare role purpose use used using
    """.split()
)


def is_chinese(text: str) -> bool:
    """Mostly Chinese (English terms inside Chinese sentences are normal in these notes)."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]+", text))
    return cjk >= latin


def is_english(text: str) -> bool:
    """Written in English alone: Latin letters and not one Chinese character. A Chinese
    question with English terms ("KV Cache 和 MQA") is not: that is how these notes and
    their learners write Chinese."""
    return bool(_LATIN_LETTER.search(text)) and not _CJK.search(text)


def terms(text: str, variants: bool = True) -> list[str]:
    """Index terms of `text`: jieba words for Chinese, words and word pairs for Latin script.

    `variants`: a hyphenated name also yields its other spellings (`name_spellings`), so
    the index holds "warm-up" under "warmup" and "warm_up" too. Retrieval wants them, to
    match a question however it spells the name; grading does not, or naming "Pre-LN"
    would weigh as three terms of the point."""
    return [term for group in _term_groups(text, variants) for term in group]


def name_spellings(token: str) -> list[str]:
    """A hyphenated name's spellings, itself first: "warm-up" -> warm-up, warmup, warm_up
    ("cross attention" written apart is the pair `cross_attention`). Only names whose every
    part has a letter and is not a stop word: "3-5", "2023-01-15" and "state-of-the-art"
    are one term each."""
    parts = token.split("-")
    if len(parts) < 2 or not all(re.search(r"[a-z]", part) and part not in STOP_WORDS for part in parts):
        return [token]
    return [token, "".join(parts), *(f"{a}_{b}" for a, b in zip(parts, parts[1:]))]


def _term_groups(text: str, variants: bool) -> list[list[str]]:
    """`terms`, grouped: each group is one term, or one hyphenated name's spellings."""
    text = unicodedata.normalize("NFKC", text).lower()
    groups: list[list[str]] = []
    # Big-O formulas are matched whole, spaces and dots removed: "O(n^2 · d)" == "o(n2d)".
    for formula in _FORMULA.findall(text):
        groups.append([re.sub(r"[\s^·⋅*\\{}]|cdot", "", formula)])
    text = _FORMULA.sub(" ", text)
    text = re.sub(r"\\[a-z]+", " ", text)  # LaTeX commands are markup, not words
    # English contractions are not words ("what's model" is not "s_model", "isn't" not "isn")
    text = _APOSTROPHES.sub("'", text)
    text = _NEGATED.sub(lambda m: _NEGATED_WORDS[m.group(1)], text)
    text = _CONTRACTION.sub("", text)
    position = 0
    previous_latin: str | None = None
    for match in _WORD.finditer(text):
        gap = text[position : match.start()]
        position = match.end()
        token = match.group()
        if _CJK.fullmatch(token):
            previous_latin = None
            groups.extend([w] for w in jieba.lcut_for_search(token) if len(w) > 1 and w not in STOP_WORDS)
            continue
        spellings = name_spellings(token) if variants else [token]
        if len(token) > 1 and token not in STOP_WORDS:
            groups.append(spellings)
        # a name with other spellings pairs with the word before by its first part, and
        # with the word after by its last, as the same words written apart would
        parts = token.split("-") if len(spellings) > 1 else [token]
        if previous_latin and gap.strip(" -_") == "" and parts[0] not in STOP_WORDS:
            groups.append([f"{previous_latin}_{parts[0]}"])
        previous_latin = parts[-1] if parts[-1] not in STOP_WORDS else None
    return groups


@dataclass
class LexicalIndex:
    """BM25 over one text per card, with an IDF floor that ignores common terms.

    Postings are kept term by term in flat arrays (each term's cards ascending), not as
    Python lists: at 100k cards that is ~15M postings, which as tuples took over a gigabyte,
    and flat arrays can be saved with the index and read back without segmenting again."""

    vocabulary: dict[str, int]  # term -> its row in `offsets`
    offsets: np.ndarray  # (terms + 1,) int64: a term's postings are [offsets[r], offsets[r + 1])
    posting_cards: np.ndarray  # int32, ascending within each term
    posting_counts: np.ndarray  # int32: how often the term occurs in that card
    lengths: np.ndarray  # (cards,) int32: terms per card
    k1: float = 1.2
    b: float = 0.75
    # Terms found in more than this share of cards carry no evidence of relevance.
    max_document_share: float = 0.25

    @classmethod
    def build(cls, texts: list[str | dict[str, int]]) -> LexicalIndex:
        """One text per card; or a card's term counts instead of its text, taken from an
        earlier index (`term_counts`), so a card that did not change is not segmented again
        (jieba is nearly all of the build: ~150 s at 100k cards)."""
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cards: list[int] = []
        counts: list[int] = []
        lengths = []
        for index, text in enumerate(texts):
            found = text if isinstance(text, dict) else Counter(terms(text))
            lengths.append(sum(found.values()))
            for term, count in found.items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cards.append(index)
                counts.append(count)
        order = np.argsort(np.asarray(rows, np.int64), kind="stable")  # by term; cards stay ascending
        offsets = np.zeros(len(vocabulary) + 1, np.int64)
        np.cumsum(np.bincount(np.asarray(rows, np.int64), minlength=len(vocabulary)), out=offsets[1:])
        return cls(vocabulary=vocabulary, offsets=offsets,
                   posting_cards=np.asarray(cards, np.int32)[order], posting_counts=np.asarray(counts, np.int32)[order],
                   lengths=np.asarray(lengths, np.int32))

    def term_counts(self) -> Callable[[int], dict[str, int]]:
        """A card's terms with their counts, by card position (the postings turned card by card)."""
        by_card = np.argsort(self.posting_cards, kind="stable")
        rows = np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))[by_card]
        counts = self.posting_counts[by_card]
        bounds = np.searchsorted(self.posting_cards[by_card], np.arange(self.documents + 1))
        words = self.words()

        def of(card: int) -> dict[str, int]:
            start, end = bounds[card], bounds[card + 1]
            return {words[row]: int(count) for row, count in zip(rows[start:end], counts[start:end])}
        return of

    def words(self) -> list[str]:
        """The vocabulary in row order (the order `offsets` lists the terms in)."""
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)

    @property
    def documents(self) -> int:
        return len(self.lengths)

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        row = self.vocabulary.get(term)
        if row is None:
            return _NO_POSTINGS, _NO_POSTINGS
        start, end = self.offsets[row], self.offsets[row + 1]
        return self.posting_cards[start:end], self.posting_counts[start:end]

    def _frequency(self, term: str) -> int:
        row = self.vocabulary.get(term)
        return 0 if row is None else int(self.offsets[row + 1] - self.offsets[row])

    def known(self, term: str) -> bool:
        """Some card contains `term`."""
        return term in self.vocabulary

    def in_card(self, term: str, card: int) -> bool:
        """The card at position `card` contains `term`."""
        cards, _ = self._postings(term)
        at = int(np.searchsorted(cards, card))
        return at < len(cards) and int(cards[at]) == card

    def idf(self, term: str) -> float:
        frequency = self._frequency(term)
        return math.log(1 + (self.documents - frequency + 0.5) / (frequency + 0.5))

    def keywords(self, text: str, n: int) -> list[str]:
        """The `n` rarest terms of `text` that these cards know: a hint without the answer."""
        known = [t for t in dict.fromkeys(terms(text, variants=False)) if "_" not in t and t in self.vocabulary]
        return sorted(known, key=self.idf, reverse=True)[:n]

    def content_terms(self, query: str, variants: bool = True) -> list[str]:
        """The query's terms minus those too common in these cards to mean anything. A
        hyphenated name counts once, by the first of its spellings these cards hold (or
        by itself when they hold none): "warm-up" is `warmup` in notes that write that."""
        limit = max(1, self.max_document_share * self.documents)
        chosen = [next((t for t in group if t in self.vocabulary), group[0]) for group in _term_groups(query, variants)]
        return [t for t in dict.fromkeys(chosen) if self._frequency(t) <= limit]

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """BM25 per card over the query's content terms, and the share of the query's
        content-term weight (IDF) found in the best card: 0 when nothing matched."""
        result = np.zeros(self.documents, np.float64)
        query_terms = self.content_terms(query)
        if not query_terms or not self.documents:
            return result, 0.0
        average = max(float(self.lengths.mean()), 1e-9)
        matched_weight = np.zeros(self.documents, np.float64)
        # Terms absent from every card weigh most: a query about something else entirely.
        total_weight = sum(self.idf(t) for t in query_terms)
        for term in query_terms:
            cards, counts = self._postings(term)
            if not len(cards):
                continue
            idf = self.idf(term)
            norm = counts + self.k1 * (1 - self.b + self.b * self.lengths[cards] / average)
            result[cards] += idf * counts * (self.k1 + 1) / norm
            matched_weight[cards] += idf
        return result, float(matched_weight.max()) / total_weight


_NO_POSTINGS = np.zeros(0, np.int32)


_ENGLISH_STEMMER = snowballstemmer.stemmer("english")


def stem(term: str) -> str:
    """An English term (or word pair) by its words' Snowball stems: "hallucinate" and
    "hallucination" ask about the same thing. Other terms as they are."""
    if not term.isascii():
        return term
    return "_".join(_ENGLISH_STEMMER.stemWord(word) for word in term.split("_"))
