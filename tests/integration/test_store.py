"""Incremental, self-repairing ingest into a real Chroma (embedded and a real server)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tutor.embeddings import load_embeddings
from tutor.index import card_texts
from tutor.settings import Settings
from tutor.vectors import ShippedVectors, shipped_cards, shipped_texts

from ..conftest import KNOWLEDGE

NOTE = """# 我的笔记

## 训练

#### 什么是梯度累积？
把多个小 batch 的梯度相加后再更新一次参数，用时间换显存，等效于更大的 batch。

#### 学习率 warm-up 有什么用？
训练初期参数和 Adam 的二阶矩估计都不稳定，先用较小学习率逐步升高，可以避免早期发散。

## 推理

#### 什么是 KV Cache？
自回归生成时把每层已经算过的 Key 和 Value 缓存下来，新 token 只需计算自己的 Q、K、V，避免重复计算。
"""


def total_chunks(cards):
    return sum(len(card_texts(c)) for c in cards)


def test_second_ingest_embeds_nothing_and_edits_update_only_what_changed(tutor_for, notes_dir):
    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    tutor = tutor_for(notes_dir)
    first = tutor.ingest()
    assert (first.files, first.cards, first.added, first.updated, first.removed) == (1, 3, 3, 0, 0)
    assert tutor.store.count_chunks() == first.chunks

    again = tutor.ingest()
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 3)

    edited = NOTE.replace("用时间换显存", "用更多的前向反向次数换取显存")
    (notes_dir / "a.md").write_text(edited, encoding="utf-8")
    after_edit = tutor.ingest()
    assert (after_edit.added, after_edit.updated, after_edit.unchanged) == (0, 1, 2)
    hit = tutor.ask("梯度累积为什么能省显存？", k=1).hits[0]
    assert "前向反向次数" in hit.card.answer

    # cards moved down by inserted lines: same text, new line numbers, nothing re-embedded
    (notes_dir / "a.md").write_text(edited.replace("## 训练\n", "\n\n\n## 训练\n"), encoding="utf-8")
    moved = tutor.ingest()
    assert (moved.added, moved.updated, moved.unchanged) == (0, 0, 3)
    hit = tutor.ask("梯度累积为什么能省显存？", k=1).hits[0]
    assert hit.card.line == 8


def test_deleted_cards_and_files_are_removed(tutor_for, notes_dir):
    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    (notes_dir / "b.md").write_text("## 其它\n\n#### 什么是 dropout？\n训练时随机把一部分神经元输出置零，防止过拟合。\n", encoding="utf-8")
    tutor = tutor_for(notes_dir)
    tutor.ingest()
    (notes_dir / "b.md").unlink()
    (notes_dir / "a.md").write_text(NOTE.split("## 推理")[0], encoding="utf-8")
    report = tutor.ingest()
    assert (report.cards, report.removed, report.unchanged, report.added) == (2, 2, 2, 0)
    assert tutor.store.count_chunks() == report.chunks
    assert {c.question for c in tutor.retriever.cards} == {"什么是梯度累积？", "学习率 warm-up 有什么用？"}


def test_interrupted_ingest_is_repaired_without_duplicates(tutor_for, notes_dir, monkeypatch):
    many = "\n".join(
        f"## 主题{i}\n\n#### 第 {i} 个问题是什么？\n这是第 {i} 个问题的回答，内容足够长，说明一个独立的知识点。\n"
        for i in range(40)
    )
    (notes_dir / "many.md").write_text(many, encoding="utf-8")
    tutor = tutor_for(notes_dir)
    monkeypatch.setattr("tutor.store.WRITE_BATCH_CHUNKS", 8)

    class Killed(Exception):
        pass

    def die_after_first_batch(done, total):
        if done > 0:
            raise Killed

    with pytest.raises(Killed):
        tutor.ingest(on_progress=die_after_first_batch)
    written = tutor.store.count_chunks()
    assert 0 < written < 80

    repaired = tutor.ingest()
    assert repaired.cards == 40
    assert repaired.added + repaired.updated + repaired.unchanged == 40
    assert repaired.added > 0 and repaired.unchanged > 0
    assert tutor.store.count_chunks() == repaired.chunks  # nothing duplicated, nothing missing
    assert len(tutor.retriever.cards) == 40
    assert tutor.ingest().added == 0


def test_half_written_card_is_rewritten(tutor_for, notes_dir):
    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    tutor = tutor_for(notes_dir)
    tutor.ingest()
    victim = tutor.retriever.cards[0]
    tutor.store.begin_writing()  # as a sync does before it writes anything ...
    tutor.store.collection.delete(ids=[f"{victim.id}::1"])  # ... and killed mid-card
    tutor = tutor_for(notes_dir)  # ... and started again
    assert victim.id not in {c.id for c in tutor.retriever.cards}  # incomplete cards are not served
    report = tutor.ingest()
    assert (report.updated, report.unchanged) == (1, 2)
    assert tutor.store.count_chunks() == report.chunks


def test_switching_model_uses_a_separate_collection(tutor_for, notes_dir, e5):
    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    e5_tutor = tutor_for(notes_dir)
    e5_tutor.ingest()
    minilm = load_embeddings("minilm")
    assert minilm.dimension == e5.dimension == 384  # same size: only the binding keeps them apart
    minilm_tutor = tutor_for(notes_dir, embeddings=minilm)
    assert minilm_tutor.store.collection.name != e5_tutor.store.collection.name
    report = minilm_tutor.ingest()
    assert report.added == 3  # nothing reused from the other model's vectors
    assert e5_tutor.ingest().added == 0
    assert minilm_tutor.store.collection.metadata["embedding_model"] == minilm.model_id
    assert e5_tutor.store.collection.metadata["embedding_model"] == e5.model_id
    assert minilm_tutor.ask("What is a KV cache?", k=1).hits[0].card.question == "什么是 KV Cache？"


def test_empty_folder_ingests_to_an_empty_index(tutor_for, notes_dir):
    tutor = tutor_for(notes_dir)
    report = tutor.ingest()
    assert (report.files, report.cards, report.chunks) == (0, 0, 0)
    assert tutor.ask("什么是 KV Cache？").hits == []


def test_any_langchain_embedding_plugs_in(tutor_for, notes_dir):
    """The core takes any langchain Embeddings through the adapter, bound to its own id."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from tutor.embeddings import from_langchain

    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    fake = from_langchain(DeterministicFakeEmbedding(size=32), model_id="fake:deterministic-32")
    tutor = tutor_for(notes_dir, embeddings=fake)
    report = tutor.ingest()
    assert report.added == 3 and tutor.store.collection.metadata["embedding_model"] == "fake:deterministic-32"
    assert tutor.store.snapshot().chunk_vectors.shape[1] == 32


def test_uploaded_notes_are_checked_and_named_safely(tutor_for, notes_dir, tmp_path):
    from tutor.service import InputError

    tutor = tutor_for(notes_dir)
    upload = tmp_path / "incoming"
    upload.write_text("## 新\n\n#### 什么是梯度裁剪？\n梯度范数超过阈值时按比例缩小，防止梯度爆炸。\n", encoding="utf-8")
    saved = tutor.add_note("../../notes.v2 草稿.md", upload)
    assert saved == notes_dir / "uploads" / "local" / "notes.v2%20草稿.md"
    assert saved.read_text(encoding="utf-8").startswith("## 新")
    for name, data, reason in [
        ("a.txt", b"## x", "only Markdown"),
        ("b.md", b"\x00\x01binary", "binary"),
        ("c.md", "## caf\xe9".encode("latin-1"), "not UTF-8"),
        ("d.md", b"just text, no headings", "no question headings"),
        ("e.md", b"#" * (1024 * 1024 + 1), "too large"),
        ("f.md", "".join(f"## 问题 {i}\n答案文字足够长。\n" for i in range(1001)).encode(), "at most 1000"),
        ("g.md", ("## A question\n" + "a long answer, " * 65_000).encode(), "at most 3000"),
    ]:
        upload.write_bytes(data)
        with pytest.raises(InputError, match=reason):
            tutor.add_note(name, upload)
    assert sorted(p.name for p in (notes_dir / "uploads" / "local").iterdir()) == ["notes.v2%20草稿.md"]
    assert tutor.ingest().added == 1


def test_uploads_of_different_users_or_names_never_replace_each_other(tutor_for, notes_dir, tmp_path):
    tutor = tutor_for(notes_dir)
    upload = tmp_path / "incoming.md"
    saved = []
    for user, name, topic in [("alice", "team notes.md", "甲"), ("alice", "team_notes.md", "乙"),
                              ("bob", "team notes.md", "丙"), ("alice", "team notes.md", "丁"),
                              ("alice", "team notes.markdown", "戊")]:
        upload.write_text(f"## {topic}\n\n#### 什么是梯度裁剪？\n{topic}：梯度范数超过阈值时按比例缩小。\n", encoding="utf-8")
        saved.append(tutor.add_note(name, upload, user=user))
    assert saved[0] == saved[3] and len(set(saved)) == 4  # only the same user's same name replaces
    assert saved[2].parent.name == "bob" and saved[0].parent.name == "alice"
    cards = tutor.ingest().cards
    assert cards == 4 and {c.topic for c in tutor.retriever.cards} == {"乙", "丙", "丁", "戊"}


def test_the_shipped_vectors_are_the_default_models_own(e5):
    """The file can only be trusted if its vectors are what the model gives for each text
    (float16 rounding aside): every 50th shipped text (chunks, then grading points), embedded again."""
    shipped = ShippedVectors.load(Settings().shipped_vectors, e5.model_id, e5.dimension)
    assert shipped is not None, "no usable vectors file: run `make vectors`"
    texts = shipped_texts(shipped_cards(KNOWLEDGE))[::50]
    fresh = e5.passages(texts)
    reused = shipped.vectors_for(texts, lambda missing: pytest.fail(f"not shipped: {missing}"))
    assert len(texts) > 100 and np.min(np.sum(fresh * reused, axis=1)) > 0.999


def test_loading_the_model_leaves_the_cores_to_it(e5):
    """numpy's BLAS (the one the tutor's products run on) is on one thread once a model is
    loaded: its spinning worker threads took the cores from the next embedding
    (bench/bench.py prints the difference)."""
    from threadpoolctl import threadpool_info

    numpy_blas = [pool for pool in threadpool_info()
                  if pool["user_api"] == "blas" and "numpy" in Path(pool["filepath"]).parts[-2]]
    assert numpy_blas and all(pool["num_threads"] == 1 for pool in numpy_blas)


def test_a_restart_serves_the_saved_index_until_the_store_changes(tutor_for, notes_dir, monkeypatch):
    """Embedded and against a server: the index saved beside the store (in the data folder)
    serves a restart without reading the chunks back; after a sync it is not served."""
    from tutor.store import CardStore

    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    first = tutor_for(notes_dir)
    first.ingest()
    asked = first.ask("什么是梯度累积？")
    reads = []
    real_snapshot = CardStore.snapshot
    monkeypatch.setattr(CardStore, "snapshot", lambda store, *args: reads.append(1) or real_snapshot(store, *args))

    restarted = tutor_for(notes_dir)
    assert [(h.card.id, h.score) for h in restarted.ask("什么是梯度累积？").hits] == \
        [(h.card.id, h.score) for h in asked.hits] and asked.hits
    assert reads == []
    (notes_dir / "a.md").write_text(NOTE.replace("用时间换显存", "用更多步数换显存"), encoding="utf-8")
    restarted.ingest()
    again = tutor_for(notes_dir)
    assert "用更多步数换显存" in again.ask("什么是梯度累积？").hits[0].card.answer and reads == [1]


def test_a_large_index_answers_through_the_stores_nearest_neighbour_query(tutor_for, notes_dir, monkeypatch):
    """Embedded and against a server: above EXACT_SCAN_CHUNKS the cards of Chroma's nearest
    chunks are scored; on notes this small that reaches every card, so the answers match."""
    from tutor import index as index_module

    (notes_dir / "a.md").write_text(NOTE, encoding="utf-8")
    tutor = tutor_for(notes_dir)
    tutor.ingest()
    questions = ["什么是梯度累积？", "warm-up 有什么用", "KV Cache 是什么"]
    exact = [[(h.card.id, h.score) for h in tutor.ask(q).hits] for q in questions]
    monkeypatch.setattr(index_module, "EXACT_SCAN_CHUNKS", 0)
    found = []
    nearest = tutor.retriever.index.nearest

    def search(vector, n):
        ids = nearest(vector, n)  # a failing query would fall back to the scan: record what it gave
        found.append(len(ids))
        return ids
    tutor.retriever.index.nearest = search
    assert [[(h.card.id, h.score) for h in tutor.ask(q).hits] for q in questions] == exact
    chunks = tutor.store.count_chunks()
    assert found == [chunks] * len(questions) and all(hits for hits in exact)
