"""Indexing never blocks serving: background syncs, the previous index meanwhile. Real
embedded Chroma; a deterministic embedder that can be held mid-sync stands in for the model."""
from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
import pytest

from tutor.embeddings import TutorEmbeddings
from tutor.errors import IndexNotReady

from ..conftest import make_tutor

NOTE = """# 笔记

## Attention

### 为什么 Attention 要除以根号 d_k？
点积的方差随维度 d_k 增大，softmax 会饱和、梯度变小；除以根号 d_k 把方差拉回 1。

### 什么是多头注意力？
把 Q、K、V 投影到多个子空间分别计算注意力再拼接，让不同的头关注不同的关系。
"""
EXTRA = """# 新笔记

## Decoding

### 什么是 top-p 采样？
按概率从大到小累加，取累计概率刚超过 p 的最小词集合，在其中重新归一化后采样。
"""


class GatedEmbeddings(TutorEmbeddings):
    """Deterministic vectors from a hash of the text; passages wait while `gate` is closed,
    so a test can hold a sync in the middle."""

    model_id = "test:gated-hash-32"
    dimension = 32

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()

    def passages(self, texts):
        assert self.gate.wait(30), "the test never opened the gate"  # waits outside the model gate
        return super().passages(texts)

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:32].astype(np.float32) - 127
                for t in texts]
        vectors = np.vstack(rows)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def gated(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(NOTE, encoding="utf-8")
    embeddings = GatedEmbeddings()
    return make_tutor(notes, tmp_path / "data", embeddings), embeddings, notes


def test_first_index_runs_in_the_background_and_questions_wait_for_it(gated):
    tutor, embeddings, _ = gated
    embeddings.gate.clear()
    assert tutor.start_indexing()
    status = tutor.indexing_status()
    assert status.running and not status.ready
    with pytest.raises(IndexNotReady, match="being indexed"):
        tutor.ask("为什么要除以根号 d_k？")
    embeddings.gate.set()
    assert tutor.indexer.wait(30)
    status = tutor.indexing_status()
    assert status.ready and not status.running and status.report.added == 2
    assert len(tutor.retriever.cards) == 2


def test_a_resync_serves_the_previous_index_until_the_new_one_is_built(gated):
    tutor, embeddings, notes = gated
    tutor.start_indexing()
    assert tutor.indexer.wait(30)
    before = tutor.retriever
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    embeddings.gate.clear()
    tutor.start_indexing()
    tutor.start_indexing()  # asked again while running: runs once more afterwards, not twice at once
    deadline = time.monotonic() + 10
    while tutor.indexing_status().total == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    status = tutor.indexing_status()
    assert status.running and status.ready and status.total > 0 and status.done < status.total
    assert tutor.retriever is before and len(tutor.retriever.cards) == 2  # still answering, from the old index
    embeddings.gate.set()
    assert tutor.indexer.wait(30)
    assert {c.question for c in tutor.retriever.cards} >= {"什么是 top-p 采样？", "什么是多头注意力？"}


def test_a_sync_that_changes_nothing_keeps_the_retriever_it_has(gated, monkeypatch):
    """A restart's sync usually finds nothing to do: the index is not read a second time."""
    tutor, _, notes = gated
    tutor.start_indexing()
    assert tutor.indexer.wait(30)
    before = tutor.retriever
    built = []
    monkeypatch.setattr(tutor.indexer, "_build", lambda real=tutor.indexer._build: built.append(1) or real())
    tutor.start_indexing()
    assert tutor.indexer.wait(30) and tutor.retriever is before and built == []
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    tutor.start_indexing()
    assert tutor.indexer.wait(30) and built == [1] and len(tutor.retriever.cards) == 3


def test_a_failed_sync_is_reported_and_serving_goes_on(gated):
    tutor, _, notes = gated
    tutor.start_indexing()
    assert tutor.indexer.wait(30)
    (notes / "a.md").rename(notes.parent / "moved.md")
    notes.rmdir()
    tutor.start_indexing()
    assert tutor.indexer.wait(30)
    status = tutor.indexing_status()
    assert "notes folder not found" in status.error and status.ready
    assert len(tutor.retriever.cards) == 2


def test_a_sync_that_works_clears_the_last_ones_error(gated):
    tutor, embeddings, notes = gated
    (notes / "a.md").rename(notes.parent / "away.md")
    notes.rmdir()
    embeddings.gate.clear()
    tutor.start_indexing()  # fails: no notes folder
    notes.mkdir()
    (notes.parent / "away.md").rename(notes / "a.md")
    tutor.start_indexing()  # asked again while (or just after) the first ran
    embeddings.gate.set()
    assert tutor.indexer.wait(30)
    if tutor.indexing_status().error:  # the first run ended before the second was asked for
        tutor.start_indexing()
        assert tutor.indexer.wait(30)
    status = tutor.indexing_status()
    assert status.error is None and status.ready and status.report.cards == 2


def test_an_english_rendering_counts_its_same_language_advantage_less_and_is_no_baseline():
    """Card 0 (a team card) has an English rendering, card 1 (a learner's) has none. An
    English query that meets the rendering exactly as well as the learner's card meets it
    cross-lingually must not rank the team card first for that alone."""
    from tutor.index import RENDERING_ADVANTAGE, Index, card_texts
    from tutor.notes import Card

    team = Card("a#1", "为什么 NLP 不用 BN？", "因为长度不一。", ("因为长度不一。",), ("Norm",), "a.md", 1,
                english="Why is BatchNorm rarely used in NLP?")
    own = Card("b#1", "为什么NLP不用BN？", "batch 里句子长度不等。", ("batch 里句子长度不等。",), ("Norm",), "b.md", 1)
    chunks = [card_texts(team), card_texts(own)]
    assert len(chunks[0]) == 3 and chunks[0][1].startswith(team.english) and len(chunks[1]) == 2
    query = np.eye(4, dtype=np.float32)[0]
    vectors = np.array([[0.5, 0.8, 0, 0], [0.9, 0.3, 0, 0], [0.2, 0, 1, 0],  # team: question, rendering, answer
                        [0.9 - RENDERING_ADVANTAGE / 2, 0, 0, 1], [0.1, 0, 0, 1]], np.float32)  # own: question, answer
    index = Index.build([team, own], vectors, np.array([0, 0, 0, 1, 1]))
    scores = index.card_scores(query)
    assert scores[0] == pytest.approx(0.9 - RENDERING_ADVANTAGE)  # the rendering's 0.9, less the advantage
    assert scores[1] > scores[0]
    assert 1 not in index.chunks_not_of("b#1") and list(index.chunks_not_of("b#1")) == [0, 2]
    # a baseline in one language: the renderings are the English text of Chinese notes
    assert list(index.chunks_not_of("b#1", chinese=True)) == [0, 2]
    assert list(index.chunks_not_of("b#1", chinese=False)) == [1]
    assert list(index.chunks_not_of("a#1", chinese=True)) == [3, 4]
    assert list(index.chunks_not_of("a#1", chinese=False)) == []


def test_for_an_english_query_every_english_chunk_counts_its_language_advantage_less():
    """In notes that mix the languages, an English card must not outrank a Chinese one on
    an English query for its language alone; a Chinese query is scored as before."""
    from tutor.index import RENDERING_ADVANTAGE, Index
    from tutor.notes import Card

    english = Card("a#1", "Why keep an fp32 master copy?", "Small updates vanish in fp16.",
                   ("Small updates vanish in fp16.",), ("Mixed precision",), "a.md", 1)
    chinese = Card("b#1", "为什么要 causal mask？", "防止看到未来的 token。", ("防止看到未来的 token。",), ("Attention",), "b.md", 1)
    mixed = Card("c#1", "为什么要做 loss scaling？", "Gradients underflow in fp16 without it.",
                 ("Gradients underflow in fp16 without it.",), ("Mixed precision",), "c.md", 1)
    code = Card("d#1", "手写 top-p 采样？", "```python\ndef top_p(probs, p):\n    return sorted(probs)[:p]\n```",
                (), ("Decoding",), "d.md", 1)
    heading = Card("e#1", "DPO loss and why it's simpler than RLHF", "不需要奖励模型，也不用在线采样。",
                   ("不需要奖励模型，也不用在线采样。",), ("Alignment",), "e.md", 1)
    terms = Card("f#1", "KV Cache 和 MQA", "MQA 让所有头共享一组 K、V。", ("MQA 让所有头共享一组 K、V。",), ("Attention",), "f.md", 1)
    rendered = Card("g#1", "什么是 GQA？", "分组共享 K、V。", ("分组共享 K、V。",), ("Attention",), "g.md", 1,
                    english="What is GQA?")
    query = np.eye(4, dtype=np.float32)[0]
    vectors = np.array([[0.90, 0, 1, 0], [0.80, 0, 1, 0],  # English: question, answer
                        [0.90 - RENDERING_ADVANTAGE / 2, 1, 0, 0], [0.1, 1, 0, 0],  # Chinese
                        [0.5, 0, 0, 1], [0.85, 0, 0, 1],  # Chinese question, English answer
                        [0.2, 1, 0, 0], [0.8, 1, 0, 0],  # Chinese question, code
                        [0.88, 0, 1, 0], [0.3, 1, 0, 0],  # English question, Chinese answer
                        [0.87, 1, 0, 0], [0.2, 1, 0, 0],  # Chinese written with English terms
                        [0.5, 1, 0, 0], [0.86, 0, 1, 0], [0.1, 1, 0, 0]], np.float32)  # rendering second
    cards = [english, chinese, mixed, code, heading, terms, rendered]
    index = Index.build(cards, vectors, np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6]))
    chinese_query = index.card_scores(query)
    assert chinese_query == pytest.approx([0.9, 0.9 - RENDERING_ADVANTAGE / 2, 0.85, 0.8, 0.88, 0.87, 0.86 - RENDERING_ADVANTAGE])
    scores = index.card_scores(query, english_query=True)
    advantage = RENDERING_ADVANTAGE
    assert scores == pytest.approx([0.9 - advantage,  # English, all of it
                                    0.9 - advantage / 2,  # Chinese text: not discounted
                                    0.85 - advantage,  # its English answer is
                                    0.8,  # code is no language
                                    0.88 - advantage,  # its English question is
                                    0.87,  # "KV Cache 和 MQA" is Chinese with English terms
                                    0.86 - advantage])  # a rendering, as for any question
    assert np.array_equal(index.search_scores(query, english_query=True), scores)
    assert index._scores_of(np.arange(len(cards)), query, english_query=True) == pytest.approx(scores)
    assert index._scores_of(np.arange(len(cards)), query) == pytest.approx(chinese_query)


def test_the_retriever_asks_for_the_english_discount_only_for_questions_in_english(notes_dir, tmp_path, monkeypatch):
    from tutor.index import Index

    from .test_english_opinion import NOTES, WordsEmbeddings

    (notes_dir / "decoding.md").write_text(NOTES, encoding="utf-8")
    tutor = make_tutor(notes_dir, tmp_path / "data", WordsEmbeddings())
    tutor.ingest()
    asked = []
    search_scores = Index.search_scores
    monkeypatch.setattr(Index, "search_scores", lambda self, vector, english_query=False: asked.append(english_query)
                        or search_scores(self, vector, english_query))
    for question in ("What is top-k sampling?", "什么是 top-k 采样？", "KV Cache 和 MQA", "top-k 和 top-p 区别"):
        tutor.retriever.search(question)
    assert asked == [True, False, False, False]


def test_the_language_offset_is_measured_on_question_and_rendering_pairs(monkeypatch):
    """Chinese minus English: the mean question chunk of the cards with a rendering minus
    the mean rendering; a card without one does not count, and too few pairs give None."""
    from tutor import index as index_module
    from tutor.index import Index
    from tutor.notes import Card

    cards = [Card(f"a#{i}", f"问题{i}？", "答。", ("答。",), (), "a.md", i, english=f"Question {i}?") for i in range(2)]
    cards.append(Card("b#1", "自己的问题？", "答。", ("答。",), (), "b.md", 1))
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1],  # card 0: question, rendering, answer
                        [0.6, 0.8, 0], [0, 0.6, 0.8], [0, 0, 1],  # card 1
                        [0, 0, 1], [0, 1, 0]], np.float32)  # card 2, no rendering
    chunk_card = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    monkeypatch.setattr(index_module, "MIN_LANGUAGE_PAIRS", 2)
    offset = Index.build(cards, vectors, chunk_card).language_offset
    assert offset == pytest.approx(np.array([0.8, 0.4, 0]) - np.array([0, 0.8, 0.4]))
    monkeypatch.setattr(index_module, "MIN_LANGUAGE_PAIRS", 3)
    assert Index.build(cards, vectors, chunk_card).language_offset is None


def test_the_centre_of_the_other_cards_text_is_the_mean_of_the_chunks_the_baseline_reads():
    """`mean_chunk_not_of` (the grader's centre for question shares) equals the mean and
    count of `chunks_not_of` for every card and language, renderings counting as English."""
    from tutor.index import Index
    from tutor.notes import Card

    cards = [Card("a#1", "问题？", "中文的回答。", ("中文的回答。",), (), "a.md", 1, english="Question?"),
             Card("b#1", "What is it?", "An English answer.", ("An English answer.",), (), "b.md", 1),
             Card("c#1", "另一个问题？", "另一段中文回答。", ("另一段中文回答。",), (), "c.md", 1)]
    chunk_card = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    vectors = np.random.default_rng(7).normal(size=(len(chunk_card), 5)).astype(np.float32)
    index = Index.build(cards, vectors, chunk_card)
    for card in [*cards, Card("new#1", "?", "x", ("x",), (), "n.md", 1)]:  # a card not in the index too
        for chinese in (None, True, False):
            chunks = index.chunks_not_of(card.id, chinese=chinese)
            mean, count = index.mean_chunk_not_of(card.id, chinese=chinese)
            assert mean == pytest.approx(vectors[chunks].mean(axis=0), abs=1e-5) and count == len(chunks)


def test_question_shares_and_second_references_without_the_model():
    """Grading step 3 without the model: the share of a point that repeats its card's
    question is ~1, of one orthogonal to it after centring ~0; with fewer than
    MIN_BASELINE_CHUNKS chunks of other cards there is no centre, and the previous fixed
    discount is used."""
    from tutor.followups import point_card
    from tutor.grading import MIN_BASELINE_CHUNKS, Grader, GradingConfig
    from tutor.index import Index
    from tutor.notes import Card

    rng = np.random.default_rng(3)
    common = rng.normal(size=16) * 4  # e5's shared direction: every raw cosine is high

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    def build(others: int):
        cards = [Card(f"c#{i}", f"Question {i}?", f"Answer {i}.", (f"Answer {i}.",), (), "c.md", i) for i in range(others + 1)]
        vectors = np.stack([unit(common + rng.normal(size=16)) for _ in range(2 * len(cards))])
        return Index.build(cards, vectors, np.repeat(np.arange(len(cards)), 2)), cards[0]

    index, card = build(others=MIN_BASELINE_CHUNKS)
    question = index.question_vector(0)
    centre, _ = index.mean_chunk_not_of(card.id, chinese=False)
    aside = rng.normal(size=16)
    aside -= (aside @ (question - centre)) / np.sum((question - centre) ** 2) * (question - centre)  # orthogonal once centred
    points = {"the question again": question, "something else": unit(centre + 0.3 * aside / np.linalg.norm(aside))}
    grader = Grader(index, None, point_vectors=lambda texts: np.stack([points[t] for t in texts]))
    again, other = grader._question_shares(card, list(points))
    assert again == pytest.approx(1.0, abs=1e-3) and other == pytest.approx(0.0, abs=0.02)
    assert float(points["something else"] @ question) > 0.5  # uncentred, the two look alike

    # a follow-up's one-point card (same id, one point as its answer) has no second reference
    fuller = index.cards[1]
    grader.companions = lambda asked: [fuller]
    assert grader._companions_of(card) == (fuller,)
    assert grader._companions_of(point_card(card, "Answer 0.")) == (fuller,)  # the same text: as indexed
    assert grader._companions_of(point_card(card, "one point of it")) == ()

    tiny, card = build(others=2)
    grader = Grader(tiny, None, point_vectors=lambda texts: np.stack([tiny.question_vector(0)] * len(texts)))
    assert list(grader._question_shares(card, ["a", "b"])) == [GradingConfig().question_discount] * 2


def test_in_notes_without_renderings_a_chinese_card_is_scored_on_a_virtual_one():
    """Its question chunk moved by the model's language offset, counted like a rendering,
    in a full scan and in the nearest-chunks path alike; not for an English question, not
    without the model's offset, and not in notes where any card has a real rendering."""
    from tutor.index import RENDERING_ADVANTAGE, Index
    from tutor.notes import Card

    cards = [Card("d#1", "另一个问题？", "答。", ("答。",), (), "d.md", 1),
             Card("c#1", "What is it?", "An answer.", ("An answer.",), (), "c.md", 1),
             Card("b#1", "自己的问题？", "答。", ("答。",), (), "b.md", 1)]
    vectors = np.array([[0.6, 0, 0.8, 0], [0, 0, 1, 0], [0, 0, 0, 1],  # d: question, two answer pieces
                        [0, 1, 0, 0], [0, 0, 0, 1],  # c: question, answer
                        [0.6, 0, 0.8, 0], [0, 0, 0, 1]], np.float32)  # b: question, answer
    chunk_card = np.array([0, 0, 0, 1, 1, 2, 2])
    offset = np.array([0, 0, 0.5, 0], np.float32)
    query = np.array([0.6, 0, 0.3, 0], np.float32)  # b's and d's question moved by the offset
    query /= np.linalg.norm(query)
    plain = Index.build(cards, vectors, chunk_card).card_scores(query)
    assert plain == pytest.approx([0.894, 0, 0.894], abs=1e-3)

    index = Index.build(cards, vectors, chunk_card)
    index.model_language_offset = offset
    moved = 1 - RENDERING_ADVANTAGE
    assert index.card_scores(query) == pytest.approx([moved, 0, moved], abs=1e-3)
    assert index._scores_of(np.array([0, 1, 2]), query) == pytest.approx([moved, 0, moved], abs=1e-3)
    assert index._scores_of(np.array([1, 2]), query) == pytest.approx([-1, 0, moved], abs=1e-3)

    rendered = [*cards, Card("a#0", "问题？", "答。", ("答。",), (), "a.md", 0, english="Question?")]
    with_one = Index.build(rendered, np.vstack([vectors, np.eye(4, dtype=np.float32)[:3]]),
                           np.append(chunk_card, [3, 3, 3]))
    with_one.model_language_offset = offset
    assert with_one.card_scores(query)[:3] == pytest.approx(plain, abs=1e-6)


def test_a_large_index_scores_the_cards_of_the_stores_nearest_chunks(gated, monkeypatch):
    """From EXACT_SCAN_CHUNKS up a question is scored against the cards of Chroma's nearest
    chunks only: the same scores for those cards as a full scan, -1 for the rest, and a
    full scan again (for a while) when the store cannot answer. `card_scores` stays exact."""
    from tutor import index as index_module

    tutor, _, notes = gated
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    tutor.ingest()
    index = tutor.retriever.index
    vector = tutor.embeddings.query("什么是 top-p 采样？")
    exact = index.card_scores(vector)
    assert np.array_equal(index.search_scores(vector), exact)  # below the limit: the scan
    monkeypatch.setattr(index_module, "EXACT_SCAN_CHUNKS", 0)
    monkeypatch.setattr(index_module, "NEAREST_CHUNKS", 1)
    nearest = index.search_scores(vector)
    (scored,) = np.flatnonzero(nearest > -1)
    first_chunk = tutor.store.nearest_chunk_ids(vector, 1)[0]
    assert index.cards[scored].id == first_chunk.rsplit("::", 1)[0]
    assert nearest[scored] == pytest.approx(exact[scored]) and exact[scored] == exact.max()
    assert np.array_equal(index.card_scores(vector), exact)
    monkeypatch.setattr(index_module, "NEAREST_CHUNKS", 10)
    assert np.allclose(index.search_scores(vector), exact)  # every card's chunks among the nearest 10

    calls = []

    def unreachable(vector, n):
        calls.append(n)
        raise ConnectionError("server gone")
    index.nearest = unreachable
    assert np.array_equal(index.search_scores(vector), exact)
    assert np.array_equal(index.search_scores(vector), exact) and len(calls) == 1  # not retried at once
