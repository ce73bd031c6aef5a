"""A restart reads the index saved beside the store instead of reading every chunk back out
of Chroma and segmenting every card again; a stale or damaged file is never served. Real
embedded Chroma; the deterministic hash embedder of test_indexing stands in for the model."""
from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from tutor.lexical import LexicalIndex
from tutor.store import CardStore

from ..conftest import make_tutor
from .test_indexing import EXTRA, NOTE, GatedEmbeddings

QUESTION = "为什么要除以根号 d_k？"


@pytest.fixture
def notes(notes_dir):
    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    return notes_dir


def _tutor(notes, tmp_path):
    return make_tutor(notes, tmp_path / "data", GatedEmbeddings())


def _saved_files(tmp_path):
    return sorted((tmp_path / "data" / "saved_index").rglob("index-*.npz"))


def _forbid_store_reads(monkeypatch):
    def refuse(self, previous=None):
        raise AssertionError("the index was read from the store")
    monkeypatch.setattr(CardStore, "snapshot", refuse)


def test_a_restart_serves_the_saved_index_without_reading_the_store(notes, tmp_path, monkeypatch):
    first = _tutor(notes, tmp_path)
    first.ingest()
    vector = first.embeddings.query(QUESTION)
    lookup = first.retriever.lookup(QUESTION, vector)
    assert len(_saved_files(tmp_path)) == 1

    _forbid_store_reads(monkeypatch)
    again = _tutor(notes, tmp_path)
    index, before = again.retriever.index, first.retriever.index
    assert index.cards == before.cards
    assert np.array_equal(index.chunk_vectors, before.chunk_vectors)
    assert np.array_equal(index.chunk_card, before.chunk_card)
    assert np.array_equal(index.card_is_chinese, before.card_is_chinese)
    scores, coverage = index.lexical.scores(QUESTION)
    expected_scores, expected_coverage = before.lexical.scores(QUESTION)
    assert np.array_equal(scores, expected_scores) and coverage == expected_coverage > 0
    assert np.array_equal(index.card_scores(vector), before.card_scores(vector))
    assert again.retriever.lookup(QUESTION, vector) == lookup


def test_after_the_notes_change_the_new_index_replaces_the_saved_one(notes, tmp_path, monkeypatch):
    first = _tutor(notes, tmp_path)
    first.ingest()
    first.ask(QUESTION)
    (old_file,) = _saved_files(tmp_path)
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    first.ingest()  # new store contents: the index is built and saved again before it returns
    (new_file,) = _saved_files(tmp_path)
    assert new_file != old_file

    _forbid_store_reads(monkeypatch)
    assert len(_tutor(notes, tmp_path).retriever.cards) == 3


def test_a_damaged_saved_index_is_rebuilt_from_the_store(notes, tmp_path, caplog):
    first = _tutor(notes, tmp_path)
    first.ingest()
    first.ask(QUESTION)
    (saved,) = _saved_files(tmp_path)
    saved.write_bytes(saved.read_bytes()[:1000])  # cut short, as by a full disk
    with caplog.at_level(logging.WARNING, logger="tutor.saved_index"):
        restarted = _tutor(notes, tmp_path)
        assert len(restarted.retriever.cards) == 2
    assert "ignoring the saved index" in caplog.text
    (rewritten,) = _saved_files(tmp_path)
    assert rewritten.stat().st_size > 1000


def test_lexical_index_postings():
    index = LexicalIndex.build(["KV cache 缓存 key 和 value", "RMSNorm 去掉了均值", "KV cache 的量化", "无关内容"])
    assert index.known("kv_cache") and not index.known("clip")
    assert index.in_card("kv_cache", 0) and index.in_card("kv_cache", 2) and not index.in_card("kv_cache", 1)
    assert not index.in_card("clip", 0)
    assert index.idf("rmsnorm") > index.idf("kv_cache") > 0
    scores, coverage = index.scores("RMSNorm 为什么去掉均值")
    assert int(np.argmax(scores)) == 1 and scores[0] == scores[2] == scores[3] == 0 and coverage == 1.0
    assert index.scores("completely unrelated words")[1] == 0.0


def test_a_sync_killed_before_it_completed_does_not_leave_the_old_index_served(notes, tmp_path):
    """Killed after writing its chunks but before marking the sync complete, a sync leaves
    the store's version as it was; the saved index of the old contents must not be served."""
    first = _tutor(notes, tmp_path)
    first.ingest()
    assert first.retriever.cards  # built and saved
    (notes / "a.md").write_text(NOTE.replace("拉回 1", "拉回到 1 附近"), encoding="utf-8")

    class Killed(Exception):
        pass

    def killed_after_writing(done, total):
        if done and done == total:
            raise Killed
    with pytest.raises(Killed):
        first.ingest(on_progress=killed_after_writing)
    restarted = _tutor(notes, tmp_path)
    assert any("拉回到 1 附近" in card.answer for card in restarted.retriever.cards)
    assert restarted.ingest().unchanged == 2  # the store holds the new text: nothing to redo


def test_a_rebuild_segments_only_the_cards_that_changed(monkeypatch):
    from tutor import lexical
    from tutor.index import Index, lexical_text
    from tutor.notes import Card

    def card(number, answer):
        return Card(f"a#{number}", f"问题 {number}：KV cache 是什么？", answer, (answer,), ("推理",), "a.md", number)
    before = [card(1, "缓存每层的 Key 和 Value，避免重复计算。"), card(2, "MQA 让所有头共享一组 K、V。")]
    after = [before[0], card(2, "GQA 把头分组，每组共享 K、V。"), card(3, "PagedAttention 按块管理显存。")]
    vectors = np.eye(8, dtype=np.float32)
    previous = Index.build(before, vectors[:2], np.array([0, 1]))
    segmented = []
    real_terms = lexical.terms
    monkeypatch.setattr(lexical, "terms", lambda text, *rest: segmented.append(text) or real_terms(text, *rest))
    rebuilt = Index.build(after, vectors[:3], np.array([0, 1, 2]), previous)
    assert segmented == [lexical_text(after[1]), lexical_text(after[2])]
    fresh = Index.build(after, vectors[:3], np.array([0, 1, 2]))
    fresh_counts, rebuilt_counts = fresh.lexical.term_counts(), rebuilt.lexical.term_counts()
    assert [rebuilt_counts(i) for i in range(3)] == [fresh_counts(i) for i in range(3)]
    for query in ("KV cache 缓存什么", "GQA 分组", "PagedAttention 显存", "MQA"):
        assert np.array_equal(rebuilt.lexical.scores(query)[0], fresh.lexical.scores(query)[0])


def test_an_index_read_while_a_sync_writes_is_not_saved(notes, tmp_path):
    """A build that reads the store while another sync is writing may see half of it: it
    is served (the store is all there is) but never saved for a later restart."""
    first = _tutor(notes, tmp_path)
    first.ingest()
    (saved,) = _saved_files(tmp_path)
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    first.indexer.embeddings.gate.clear()  # the sync stops after marking the store, before writing
    first.start_indexing()
    deadline = time.monotonic() + 10
    while first.store.contents_key() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.store.contents_key() is None

    meanwhile = _tutor(notes, tmp_path)
    assert len(meanwhile.retriever.cards) == 2
    assert _saved_files(tmp_path) == [saved]
    first.indexer.embeddings.gate.set()
    assert first.indexer.wait(30)
    assert len(_saved_files(tmp_path)) == 1 and _saved_files(tmp_path) != [saved]
