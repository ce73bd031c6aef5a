"""A small lexical index for exact terms (`KV Cache`, `RMSNorm`, `O(n²d)`), Chinese-aware.

Chinese runs are segmented with jieba; Latin runs are lower-cased words plus adjacent-word
pairs, so "KV Cache" is one term as well as two. Scores are BM25, but a query is only
scored on its informative terms: stop words and terms that occur in a large share of the
cards are dropped, which keeps "什么", "为什么" or "你好" from pulling in cards — the
usual failure of naive BM25 fusion on Chinese.
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import jieba

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9]+(?:[._+\-][a-z0-9]+)*")
_FORMULA = re.compile(r"\bo\([^()]{1,20}\)")

STOP_WORDS = frozenset(
    """
    的 了 和 与 及 或 是 在 有 为 为什么 什么 怎么 怎样 如何 哪些 哪个 哪 吗 呢 吧 啊 呀 么 一下 一个 一种
    这个 那个 这些 那些 这样 那样 可以 能 会 要 需要 我们 你们 他们 它们 你 我 他 她 它 请 请问 介绍 解释 说说
    讲讲 谈谈 简述 区别 不同 作用 原因 主要 中 里 上 下 对 把 被 让 用 以及 还是 就是 以 及其 等 其 之 所以
    因为 如果 那么 时候 时 好 你好 您好 谢谢 怎么样 多少 一些 哪里 是否 是不是
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


def terms(text: str) -> list[str]:
    """Index terms of `text`: jieba words for Chinese, words and word pairs for Latin script."""
    text = unicodedata.normalize("NFKC", text).lower()
    found: list[str] = []
    # Big-O formulas are matched whole, spaces and dots removed: "O(n^2 · d)" == "o(n2d)".
    for formula in _FORMULA.findall(text):
        found.append(re.sub(r"[\s^·⋅*\\{}]|cdot", "", formula))
    text = _FORMULA.sub(" ", text)
    text = re.sub(r"\\[a-z]+", " ", text)  # LaTeX commands are markup, not words
    position = 0
    previous_latin: str | None = None
    for match in _WORD.finditer(text):
        gap = text[position : match.start()]
        position = match.end()
        token = match.group()
        if _CJK.fullmatch(token):
            previous_latin = None
            found.extend(w for w in jieba.lcut_for_search(token) if len(w) > 1 and w not in STOP_WORDS)
            continue
        if len(token) > 1 and token not in STOP_WORDS:
            found.append(token)
        if previous_latin and gap.strip(" -_") == "" and token not in STOP_WORDS:
            found.append(f"{previous_latin}_{token}")
        previous_latin = token if token not in STOP_WORDS else None
    return found


@dataclass
class LexicalIndex:
    """BM25 over one text per card, with an IDF floor that ignores common terms."""

    postings: dict[str, list[tuple[int, int]]]
    lengths: list[int]
    documents: int
    k1: float = 1.2
    b: float = 0.75
    # Terms found in more than this share of cards carry no evidence of relevance.
    max_document_share: float = 0.25
    _cards_of: dict[str, frozenset[int]] = field(default_factory=dict, repr=False)  # filled on demand

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for index, text in enumerate(texts):
            counts = Counter(terms(text))
            lengths.append(sum(counts.values()))
            for term, count in counts.items():
                postings.setdefault(term, []).append((index, count))
        return cls(postings=postings, lengths=lengths, documents=len(texts))

    def known(self, term: str) -> bool:
        """Some card contains `term`."""
        return term in self.postings

    def in_card(self, term: str, card: int) -> bool:
        """The card at position `card` contains `term`."""
        cards = self._cards_of.get(term)
        if cards is None:
            cards = self._cards_of[term] = frozenset(index for index, _ in self.postings.get(term, ()))
        return card in cards

    def idf(self, term: str) -> float:
        frequency = len(self.postings.get(term, ()))
        return math.log(1 + (self.documents - frequency + 0.5) / (frequency + 0.5))

    def keywords(self, text: str, n: int) -> list[str]:
        """The `n` rarest terms of `text` that these cards know: a hint without the answer."""
        known = [t for t in dict.fromkeys(terms(text)) if "_" not in t and t in self.postings]
        return sorted(known, key=self.idf, reverse=True)[:n]

    def content_terms(self, query: str) -> list[str]:
        """The query's terms minus those too common in these cards to mean anything."""
        limit = max(1, self.max_document_share * self.documents)
        return [t for t in dict.fromkeys(terms(query)) if len(self.postings.get(t, ())) <= limit]

    def scores(self, query: str) -> tuple[list[float], float]:
        """BM25 per card over the query's content terms, and the share of the query's
        content-term weight (IDF) found in the best card: 0 when nothing matched."""
        result = [0.0] * self.documents
        query_terms = self.content_terms(query)
        if not query_terms or not self.documents:
            return result, 0.0
        average = sum(self.lengths) / self.documents
        matched_weight: dict[int, float] = {}
        # Terms absent from every card weigh most: a query about something else entirely.
        total_weight = sum(self.idf(t) for t in query_terms)
        for term in query_terms:
            idf = self.idf(term)
            for index, count in self.postings.get(term, ()):
                norm = count + self.k1 * (1 - self.b + self.b * self.lengths[index] / max(average, 1e-9))
                result[index] += idf * count * (self.k1 + 1) / norm
                matched_weight[index] = matched_weight.get(index, 0.0) + idf
        coverage = max(matched_weight.values()) / total_weight if matched_weight else 0.0
        return result, coverage
