"""Among near-tied cards, the one whose question asks no more than the query comes first
(`Retriever._asked_first`), read in the query's language; with a bag-of-words stand-in for
e5 (tests/integration/test_retrieval.py runs the real model on the shipped notes)."""
from __future__ import annotations

import numpy as np
import pytest

from tutor.lexical import stem
from tutor.retrieval import RetrievalConfig, Retriever

from ..conftest import make_tutor
from .test_english_opinion import WordsEmbeddings

NOTES = """# Inference
## 什么是 KV cache？
自回归生成时缓存每层已算过的 key 和 value，下一步只算新 token。

## 长上下文推理时 KV cache 占多少显存？用 GQA 能省多少？
按层数、头数、头维度和序列长度相乘；GQA 让一组 query 头共用一份 key / value。

## What is PagedAttention?
It stores the KV cache in fixed-size blocks, like virtual memory pages.
""" + "".join(f"\n## 什么是 {name}？\n{name} 的一句话说明，写得足够长可以评分。\n" for name in (
    "dropout", "beam search", "LoRA", "RMSNorm", "RoPE", "MoE", "RLHF", "DPO", "tokenizer", "warmup"))
# the ten cards on other subjects keep "KV cache" a rare term (one card in four or fewer)


@pytest.fixture
def retriever(notes_dir, tmp_path):
    (notes_dir / "inference.md").write_text(NOTES, encoding="utf-8")
    tutor = make_tutor(notes_dir, tmp_path / "data", WordsEmbeddings())
    tutor.ingest()
    return tutor.retriever


def _asked_first(retriever, query, chosen, fused):
    return retriever._asked_first(query, retriever.index.lexical.content_terms(query), chosen, fused)


def _positions(retriever):
    by_question = {card.question: i for i, card in enumerate(retriever.cards)}
    return (by_question["什么是 KV cache？"], by_question["长上下文推理时 KV cache 占多少显存？用 GQA 能省多少？"],
            by_question["What is PagedAttention?"])


def test_a_near_tie_goes_to_the_card_that_asks_no_more_than_the_query(retriever):
    general, specific, english = _positions(retriever)
    fused = np.zeros(len(retriever.cards))
    fused[[specific, general, english]] = 0.902, 0.900, 0.899
    chosen = [specific, general, english]

    order, scores = _asked_first(retriever, "KV cache 是干什么的？", chosen, fused)
    assert order[0] == general
    assert [scores[i] for i in order] == sorted(scores.values(), reverse=True)
    unchanged, _ = _asked_first(Retriever(retriever.index, retriever.embeddings, RetrievalConfig(specificity_weight=0.0)),
                                "KV cache 是干什么的？", chosen, fused)
    assert unchanged == chosen
    # a clear lead is kept: the penalty only decides near ties
    fused[specific] = 0.95
    assert _asked_first(retriever, "KV cache 是干什么的？", chosen, fused)[0][0] == specific


def test_a_question_in_the_other_language_takes_the_mean_share_not_a_penalty_for_its_language(retriever):
    general, specific, english = _positions(retriever)
    fused = np.zeros(len(retriever.cards))
    fused[[specific, general, english]] = 0.902, 0.900, 0.899
    _, scores = _asked_first(retriever, "KV cache 是干什么的？", [specific, general, english], fused)
    shares = {i: (fused[i] - scores[i]) / retriever.config.specificity_weight for i in (general, specific)}
    # the general card's question is all asked ("KV cache"); the other asks about more
    assert retriever._question_terms(general, english=False)
    assert shares[general] == pytest.approx(0.0) and 0.3 < shares[specific] < 1.0
    assert fused[english] - scores[english] == pytest.approx(
        retriever.config.specificity_weight * (shares[general] + shares[specific]) / 2)


def test_english_words_are_compared_by_their_stems():
    assert stem("hallucination") == stem("hallucinate") == stem("hallucinates")
    assert stem("kv_caches") == stem("kv_cache")
    assert stem("幻觉") == "幻觉"


def test_a_query_without_a_rare_term_reorders_nothing_and_a_question_without_one_takes_the_mean(retriever):
    general, specific, english = _positions(retriever)
    fused = np.zeros(len(retriever.cards))
    fused[[specific, general, english]] = 0.902, 0.900, 0.899
    chosen = [specific, general, english]
    assert _asked_first(retriever, "是什么？", chosen, fused)[0] == chosen
    retriever._question_term_cache[(general, False)] = []  # a question of common words only
    _, scores = _asked_first(retriever, "KV cache 是干什么的？", chosen, fused)
    penalty = {i: fused[i] - scores[i] for i in chosen}
    # the one share there is (the specific card's) stands for the other two
    assert penalty[specific] > 0
    assert penalty[general] == pytest.approx(penalty[specific]) and penalty[english] == pytest.approx(penalty[specific])
