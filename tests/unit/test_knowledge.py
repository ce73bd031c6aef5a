"""The shipped knowledge base: the user's seed unchanged, the team's cards well-formed."""
from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest

from tutor.notes import load_notes, parse_markdown

from ..conftest import KNOWLEDGE, SEED

SEED_SHA256 = "e26b24fe7d8b42ec5aa1cb61d71c8ce01aa57c7639620ac168cb77044db3a10b"
TEAM_FILES = sorted(p.name for p in KNOWLEDGE.glob("*.md") if p.name != SEED.name)


def test_seed_is_the_users_file_unchanged():
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


@pytest.fixture(scope="module")
def team_cards():
    cards = {}
    for name in TEAM_FILES:
        parsed, skipped = parse_markdown((KNOWLEDGE / name).read_text(encoding="utf-8"), name)
        assert skipped == [], f"{name}: {skipped}"
        cards[name] = parsed
    return cards


def test_size_and_breadth(team_cards):
    total = sum(len(c) for c in team_cards.values())
    topics = {card.path[0] for cards in team_cards.values() for card in cards}
    assert total >= 360
    assert len(TEAM_FILES) >= 24 and len(topics) >= 24


def test_every_team_card_is_complete(team_cards):
    for name, cards in team_cards.items():
        for card in cards:
            where = f"{name}:{card.line} {card.question}"
            assert card.question.endswith(("？", "?")), where
            assert 2 <= len(card.key_points) <= 6, where
            assert card.difficulty in (1, 2, 3), where
            assert card.tags, where
            assert card.english.endswith("?"), where
            assert not re.search(r"\bTODO\b|待补充", card.answer), where
            assert "![" not in card.answer, where


def test_latex_delimiters_are_balanced(team_cards):
    for name, cards in team_cards.items():
        for card in cards:
            for text in (card.question, card.answer):
                dollars = len(re.findall(r"(?<!\\)\$", text))
                assert dollars % 2 == 0, f"{name}:{card.line} {card.question}"
                assert text.count("$$") % 2 == 0, f"{name}:{card.line}"


def test_no_duplicate_questions_across_the_folder():
    questions = Counter(re.sub(r"\s+", "", c.question).lower() for c in load_notes(KNOWLEDGE).cards)
    assert [q for q, n in questions.items() if n > 1] == []


def test_seed_gaps_are_filled_by_team_cards(team_cards):
    questions = [c.question for cards in team_cards.values() for c in cards]
    assert any("RMSNorm" in q and "公式" in q for q in questions)
    attention = next(c for c in team_cards["attention.md"] if "scaled dot-product" in c.question)
    assert r"\sqrt{d_k}" in attention.answer and "softmax" in attention.answer
