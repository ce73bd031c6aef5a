""""Not in my notes" names what the notes do cover nearby: the closest cards, one per topic,
in the chat and in `ask --json`'s "why" (with a bag-of-words stand-in for e5)."""
from __future__ import annotations

import pytest

import tutor.conversation as conversation
from tutor.conversation import nearest_topics

from ..conftest import make_tutor
from .test_english_opinion import WordsEmbeddings

# three topics; Decoding holds the two cards nearest a sampling question
NOTES = {
    "decoding.md": "# Decoding\n## What is top-k sampling?\nKeep the k most likely tokens and sample among them.\n\n"
                   "## What is top-p sampling?\nKeep the smallest set of tokens whose probability reaches p.\n",
    "training.md": "# Training\n## What is learning rate warmup?\nThe learning rate grows from small over the first steps.\n",
    "inference.md": "# Inference\n## What is a KV cache?\nKeys and values of past tokens are kept for the next step.\n",
}


@pytest.fixture
def tutor(notes_dir, tmp_path):
    for name, text in NOTES.items():
        (notes_dir / name).write_text(text, encoding="utf-8")
    tutor = make_tutor(notes_dir, tmp_path / "data", WordsEmbeddings())
    tutor.ingest()
    return tutor


@pytest.mark.parametrize("depth", [conversation.NEAREST_DEPTH, 1])  # 1: the best cards hold one topic only
def test_the_nearest_topics_are_the_closest_card_of_each_topic(tutor, monkeypatch, depth):
    monkeypatch.setattr(conversation, "NEAREST_DEPTH", depth)
    retriever = tutor.retriever
    query = "top-k sampling of tokens"
    cards = nearest_topics(retriever, query, retriever.embeddings.query(query), n=3)
    assert cards[0].topic == "decoding" and cards[0].question == "What is top-k sampling?"
    assert sorted(card.topic for card in cards) == ["decoding", "inference", "training"]


def test_a_declined_question_names_the_nearest_topics_in_its_json(tutor):
    answer = tutor.ask("How do I cook rice in a pot?")
    assert answer.hits == []
    why = answer.to_dict()["why"]
    assert {card["source"] for card in why["nearest"]} == set(NOTES)
    assert all(set(card) == {"id", "question", "path", "source", "line"} for card in why["nearest"])
    answered = tutor.ask("What is top-k sampling?")
    assert answered.hits and "why" not in answered.to_dict()
