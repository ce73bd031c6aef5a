"""MiniLM's second opinion on English questions, without the model: a deterministic
bag-of-words encoder stands in for it (and for e5) (tests/integration/test_english_opinion.py runs the
real one). What is checked here is the plumbing: who is asked, what is kept and reused."""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest

from tutor.answerability import ENGLISH_FEATURES, AnswerabilityModel
from tutor.embeddings import TutorEmbeddings
from tutor.english_opinion import EnglishVectors, encode_english_questions, english_question, load_english_encoder
from tutor.notes import parse_markdown
from tutor.retrieval import RetrievalConfig, Retriever

from ..conftest import make_tutor
from .test_indexing import EXTRA

NOTES = """# Notes
## Decoding
### What is top-k sampling?
Keep the k most likely tokens, renormalise their probabilities and sample among them.

### 什么是 beam search？
<!-- en: What does beam search keep at each step? -->
每一步保留得分最高的 B 个部分序列，最后取总对数概率最高的一条。

### 什么是贪心解码？
每一步都取概率最大的 token。
"""


def bag_of_words(texts) -> np.ndarray:
    """Each word hashed into one of 64 dimensions: texts that share words are close."""
    out = np.zeros((len(texts), 64), np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().replace("?", " ").replace("？", " ").split():
            out[row, hashlib.sha256(word.encode()).digest()[0] % 64] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class WordsEncoder:
    """Stands in for MiniLM, and counts what it is asked to encode."""

    def __init__(self, model_id: str = "test:words-64") -> None:
        self.model_id = model_id
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded.extend(texts)
        return bag_of_words(texts)


class WordsEmbeddings(TutorEmbeddings):
    """Stands in for e5: the same words, so a question ranks the card that shares them first."""

    model_id = "test:words-64"
    dimension = 64

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        return bag_of_words(texts)


@pytest.fixture
def notes(notes_dir):
    (notes_dir / "decoding.md").write_text(NOTES, encoding="utf-8")
    return notes_dir


def _tutor(notes, data, encoder):
    tutor = make_tutor(notes, data, WordsEmbeddings())
    tutor.indexer._load_english = lambda: encoder  # as Tutor does for e5, with the stand-in
    return tutor


def test_a_cards_english_question_is_its_rendering_or_its_question_in_english():
    top_k, beam, greedy = parse_markdown(NOTES, "decoding.md")[0]
    assert english_question(top_k) == "What is top-k sampling?"
    assert english_question(beam) == "What does beam search keep at each step?"
    assert english_question(greedy) is None


def test_only_english_questions_take_the_second_opinion(notes, tmp_path):
    encoder = WordsEncoder()
    tutor = _tutor(notes, tmp_path / "data", encoder)
    tutor.ingest()
    retriever = tutor.retriever
    english = retriever.index.english_vectors
    assert english.model_id == encoder.model_id
    assert [retriever.cards[p].question for p in english.positions] == ["What is top-k sampling?", "什么是 beam search？"]
    assert sorted(encoder.encoded) == sorted(["What is top-k sampling?", "What does beam search keep at each step?"])

    encoder.encoded.clear()
    question = "what does beam search keep"
    lookup = retriever.lookup(question, tutor.embeddings.query(question))
    assert encoder.encoded == [question]
    expected = float((english.vectors @ WordsEncoder().encode([question])[0]).max())
    assert lookup.evidence.english_best == pytest.approx(expected) and expected > 0.5

    encoder.encoded.clear()
    chinese = "束搜索每一步保留什么？"
    assert retriever.lookup(chinese, tutor.embeddings.query(chinese)).evidence.english_best is None
    assert encoder.encoded == []

    # without MiniLM (another embedding model, or it could not be prepared) nobody asks it
    alone = Retriever(retriever.index, retriever.embeddings, retriever.config)
    assert alone.lookup(question, tutor.embeddings.query(question)).evidence.english_best is None
    assert encoder.encoded == []


def test_vectors_of_unchanged_cards_are_reused_and_kept_in_the_saved_index(notes, tmp_path):
    encoder = WordsEncoder()
    first = _tutor(notes, tmp_path / "data", encoder)
    first.ingest()
    before = first.retriever.index.english_vectors

    # a file that sorts first: every card from before moves to another position
    (notes / "a_extra.md").write_text(EXTRA + "\n### What is nucleus sampling?\nSample from the smallest set "
                                    "whose probabilities add up to p.\n", encoding="utf-8")
    encoder.encoded.clear()
    first.ingest()
    after = first.retriever.index.english_vectors
    assert encoder.encoded == ["What is nucleus sampling?"]  # the two cards from before were not encoded again
    kept = {first.retriever.cards[p].question: v for p, v in zip(after.positions, after.vectors)}
    assert np.array_equal(kept["What is top-k sampling?"], before.vectors[0])

    encoder.encoded.clear()
    restarted = _tutor(notes, tmp_path / "data", encoder)
    saved = restarted.retriever.index.english_vectors  # read back with the saved index
    assert encoder.encoded == []
    assert saved.model_id == encoder.model_id
    assert np.array_equal(saved.positions, after.positions) and np.array_equal(saved.vectors, after.vectors)

    other = WordsEncoder("test:another-model")
    again = _tutor(notes, tmp_path / "data", other)
    assert again.retriever.index.english_vectors.model_id == "test:another-model"
    assert len(other.encoded) == 3  # vectors of another model are never mixed in


def test_without_the_model_english_questions_go_on_as_before(notes, tmp_path):
    tutor = _tutor(notes, tmp_path / "data", None)
    tutor.ingest()
    assert tutor.retriever.index.english_vectors is None
    question = "what does beam search keep"
    assert tutor.retriever.lookup(question, tutor.embeddings.query(question)).evidence.english_best is None


def test_an_encoder_that_cannot_be_prepared_is_reported_not_raised(tmp_path, caplog):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="tutor.english_opinion"):
        assert load_english_encoder(blocked) is None
    assert "without MiniLM's second opinion" in caplog.text


def test_no_english_question_gives_no_best_card():
    assert EnglishVectors("m", np.zeros(0, np.int64), np.zeros((0, 64), np.float32)).best(np.ones(64)) == 0.0
    cards = parse_markdown(NOTES, "decoding.md")[0][2:]  # the card without English
    assert len(encode_english_questions(cards, WordsEncoder()).positions) == 0


# a model that reads nothing but MiniLM's opinion: it answers above a cosine of 0.5
ONLY_MINILM = AnswerabilityModel(means=(0.0,) * 8, spreads=(1.0,) * 8, weights=(0.0,) * 7 + (40.0,), bias=-20.0,
                                 features=ENGLISH_FEATURES)


def _retriever_with(tutor, encoder, english_model: AnswerabilityModel | None = None, threshold: float = 0.5):
    config = RetrievalConfig() if english_model is None else RetrievalConfig(
        english_answerability=english_model, english_answer_probability=threshold)
    return Retriever(tutor.retriever.index, tutor.embeddings, config, encoder)


def test_english_questions_are_decided_by_the_english_model(notes, tmp_path):
    encoder = WordsEncoder()
    tutor = _tutor(notes, tmp_path / "data", encoder)
    tutor.ingest()
    retriever = _retriever_with(tutor, encoder, ONLY_MINILM)
    near, far = "what is top-k sampling", "how do I bake sourdough bread"
    answered = retriever.lookup(near, tutor.embeddings.query(near))
    declined = retriever.lookup(far, tutor.embeddings.query(far))
    assert answered.evidence.english_best > 0.5 > declined.evidence.english_best
    assert answered.hits and answered.probability > 0.99
    assert not declined.hits and declined.probability < 0.01


def test_minilm_is_not_asked_when_the_best_card_has_no_english_question(notes, tmp_path):
    encoder = WordsEncoder()
    tutor = _tutor(notes, tmp_path / "data", encoder)
    tutor.ingest()
    retriever, question = _retriever_with(tutor, encoder, ONLY_MINILM), "what does beam search keep"
    best = retriever.lookup(question, tutor.embeddings.query(question))
    assert best.hits[0].card.question == "什么是 beam search？" and best.evidence.english_best is not None
    # the same notes, but the best card without an English question (as a learner's card is)
    index = retriever.index
    full, top = index.english_vectors, index.positions[best.hits[0].card.id]
    keep = full.positions != top
    index.english_vectors = EnglishVectors(full.model_id, full.positions[keep], full.vectors[keep])
    encoder.encoded.clear()
    assert retriever.lookup(question, tutor.embeddings.query(question)).evidence.english_best is None
    assert encoder.encoded == []


def test_a_failing_encoder_costs_the_opinion_not_the_answer(notes, tmp_path, caplog):
    class Failing(WordsEncoder):
        fail = False

        def encode(self, texts):
            if self.fail:
                raise RuntimeError("onnxruntime fell over")
            return super().encode(texts)

    encoder = Failing()
    tutor = _tutor(notes, tmp_path / "data", encoder)
    tutor.ingest()
    encoder.fail = True
    question = "what does beam search keep"
    with caplog.at_level(logging.WARNING):
        lookup = tutor.retriever.lookup(question, tutor.embeddings.query(question))
    assert lookup.evidence.english_best is None and "decided without its opinion" in caplog.text

    broken = _tutor(notes, tmp_path / "other data", encoder)  # fails while the index is built
    with caplog.at_level(logging.WARNING):
        broken.ingest()
        assert broken.retriever.index.english_vectors is None
    assert len(broken.retriever.cards) == 3


def test_vectors_of_another_model_are_never_reused():
    cards = parse_markdown(NOTES, "decoding.md")[0]
    first = encode_english_questions(cards, WordsEncoder("test:one"))
    other = WordsEncoder("test:two")
    again = encode_english_questions(cards, other, cards, first)
    assert again.model_id == "test:two" and len(other.encoded) == 2


def test_a_model_that_reads_a_missing_signal_refuses_rather_than_answering():
    from tutor.answerability import Evidence

    evidence = Evidence(best=0.9, chatter_margin=0.1, standout=0.05, lexical_share=0.5, cross_lingual=0.0,
                        salient_absent=0.0, salient_found=1.0)
    model = AnswerabilityModel(means=(0.0,) * 8, spreads=(1.0,) * 8, weights=(1.0,) * 8, bias=0.0,
                               features=ENGLISH_FEATURES)
    with pytest.raises(ValueError, match="english_best"):
        model.probability(evidence)
