"""Do the notes answer this question? A calibrated decision from a few measured signals.

e5's cosines between any two technical texts are high, so no fixed threshold separates a
question the notes answer from a technical question they do not (CLIP, SimPO, a database
question that shares a word with the notes). The decision combines signals that are each
evidence of coverage, in a logistic model fitted on a labelled dev split
(`bench/fit_answerability.py`) and judged on a separate check split:

- the best card's cosine, and how far it stands above everyday chatter (fixed anchor
  sentences) and above the crowd of other cards (ranks 5-20): a covered question has a
  card that stands out;
- the share of the question's rare terms (IDF-weighted) that the best card contains;
- salient terms: names written like technical terms (inner capitals or digits, CLIP,
  SimPO, o1, word2vec; or any Latin-script term inside a Chinese question, two words side
  by side counting as one name when the notes hold them together). The share of
  their weight that no card contains at all ("the notes never mention SimPO") and the
  share found in the three best cards;
- whether the question and the best card are in different languages (e5 aligns languages
  imperfectly, which lowers the other signals for equally relevant text);
- for an English question, a second opinion: MiniLM's best cosine between the question and
  any card's English question (english_opinion.py). English questions have their own
  model over all eight signals, fitted on the English dev rows.

When the notes decline, `Evidence.unexplained` names the salient term they never mention,
so the reply can say so ("我的笔记里没有讲 SimPO").
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .index import Index, largest
from .lexical import STOP_WORDS, LexicalIndex, is_chinese, name_spellings, terms

_LATIN = re.compile(r"[0-9]*[A-Za-z][A-Za-z0-9]*(?:[-_.+][A-Za-z0-9]+)*")
_SIZE = re.compile(r"\d+(?:\.\d+)?[kmbgt]?b?")  # 7B, 70b, 1GB: sizes, not subjects
CROWD_RANKS = 20  # the crowd a covered question's best card stands out from: ranks 5-20
EVIDENCE_RANKS = 3  # how much of the fused ranking the evidence reads
FEATURES = ("best", "chatter_margin", "standout", "lexical_share", "cross_lingual", "salient_absent",
            "salient_found")
ENGLISH_FEATURES = (*FEATURES, "english_best")


@dataclass(frozen=True)
class Evidence:
    best: float  # the best card's dense score
    chatter_margin: float  # best minus the best everyday anchor
    standout: float  # best minus the mean of cards ranked 5-20
    lexical_share: float  # share of the query's rare-term weight found in the best card
    cross_lingual: float  # 1 when query and best card are in different languages
    salient_absent: float  # share of salient-term weight found in no card
    salient_found: float  # share of salient-term weight found in the three best cards
    unexplained: str | None = None  # a salient term of the query no card mentions
    english_best: float | None = None  # MiniLM's best card, for an English question (None: not asked)

    def vector(self, features: tuple[str, ...] = FEATURES) -> np.ndarray:
        return np.array([getattr(self, name) for name in features], float)


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic model over standardised `Evidence` (means and spreads of the fit set)."""

    means: tuple[float, ...]
    spreads: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    features: tuple[str, ...] = FEATURES  # the Evidence fields it reads, in the order of the weights

    def probability(self, evidence: Evidence) -> float:
        missing = [name for name in self.features if getattr(evidence, name) is None]
        if missing:  # a missing signal would be NaN, and NaN < threshold answers everything
            raise ValueError(f"this model reads {', '.join(missing)}, which the evidence lacks")
        z = (evidence.vector(self.features) - np.asarray(self.means)) / np.asarray(self.spreads)
        return 1.0 / (1.0 + math.exp(-(self.bias + float(np.asarray(self.weights) @ z))))


def salient_terms(query: str, known: Callable[[str], bool] | None = None) -> list[tuple[str, str]]:
    """(index term, as written) for the query's technical-looking Latin-script names.

    With `known` (does some card hold this term?), a hyphenated name is known by the first
    of its spellings the notes hold ("warm-up" in notes that write "warmup"), and two words
    written side by side in a Chinese question are one name when the notes hold the pair:
    "cross attention" is the notes' "cross-attention", though no card has the word "cross"."""
    chinese = is_chinese(query)
    tokens = [m for m in _LATIN.finditer(query) if len(m.group()) >= 2 and not _SIZE.fullmatch(m.group().lower())]
    if not chinese:
        tokens = [m for m in tokens if re.search(r"[A-Z]", m.group()[1:]) or re.search(r"\d", m.group())]
    names: list[tuple[str, str, int, int]] = []  # term, as written, where it starts and ends
    for match in tokens:
        for term in terms(match.group(), variants=False):
            if "_" in term or term in STOP_WORDS:
                continue
            if "-" in term and known is not None:  # a hyphenated name, by a spelling the notes hold
                term = next((spelling for spelling in name_spellings(term) if known(spelling)), term)
            if known is not None and chinese and names and query[names[-1][3]:match.start()].isspace():
                before, _, begins, _ = names[-1]
                if "_" not in before and known(f"{before}_{term}"):
                    names[-1] = (f"{before}_{term}", query[begins:match.end()], begins, match.end())
                    continue
            names.append((term, match.group(), match.start(), match.end()))
    found: dict[str, str] = {}
    for term, written, _, _ in names:
        found.setdefault(term, written)
    return list(found.items())


def gather_evidence(index: Index, query: str, dense: np.ndarray, order: np.ndarray, anchors_best: float,
                    query_terms: list[str], card_is_chinese: np.ndarray) -> Evidence:
    """The signals for `query`, given its dense card scores and the fused ranking `order`
    (its first `EVIDENCE_RANKS` at least)."""
    lexical = index.lexical
    top = int(order[0])
    best = float(dense[top])
    ranked = dense[largest(dense, CROWD_RANKS)]
    crowd = ranked[4:CROWD_RANKS] if len(ranked) > 5 else np.array([anchors_best])
    salient = salient_terms(query, lexical.known)
    salient_names = [term for term, _ in salient]
    best_cards = [int(i) for i in order[:EVIDENCE_RANKS]]
    absent = [term for term in salient_names if not lexical.known(term)]
    return Evidence(
        best=best,
        chatter_margin=best - anchors_best,
        standout=best - float(crowd.mean()),
        lexical_share=_weight_share(lexical, query_terms, lambda t: lexical.in_card(t, top)),
        cross_lingual=float(is_chinese(query) != card_is_chinese[top]),
        salient_absent=_weight_share(lexical, salient_names, lambda t: t in absent),
        salient_found=_weight_share(lexical, salient_names, lambda t: any(lexical.in_card(t, i) for i in best_cards)),
        unexplained=next((written for term, written in salient if term in absent), None),
    )


def _weight_share(lexical: LexicalIndex, names: list[str], holds: Callable[[str], bool]) -> float:
    """The share of the terms' IDF weight carried by the terms for which `holds` is true
    (each distinct term counted once; 0 without weight)."""
    weights = {t: lexical.idf(t) for t in names}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if holds(t)) / total if total else 0.0
