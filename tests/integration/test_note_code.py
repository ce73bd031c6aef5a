"""The code in the notes runs: every fenced Python block in knowledge/ is executed.

Hand-coding cards end their block with asserts against a reference (a torch built-in or
an independent naive computation), so a wrong implementation fails here, not in front of
a candidate. Blocks share this process (torch is imported once) but not their globals.
"""
from __future__ import annotations

import re

import pytest

from tutor.notes import load_notes

from ..conftest import KNOWLEDGE

FENCED_PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def _blocks():
    for path in sorted(KNOWLEDGE.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in FENCED_PYTHON.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield pytest.param(match.group(1), id=f"{path.name}:{line}")


BLOCKS = list(_blocks())


@pytest.mark.parametrize("code", BLOCKS)
def test_the_block_runs_and_its_checks_hold(code):
    exec(compile(code, "<note block>", "exec"), {"__name__": "__note_block__"})


def test_every_hand_coding_card_carries_a_checked_block():
    coding = [card for card in load_notes(KNOWLEDGE).cards if card.path[0] == "Coding"]
    assert len(coding) >= 10
    for card in coding:
        blocks = FENCED_PYTHON.findall(card.answer)
        assert len(blocks) == 1, card.question
        assert "assert" in blocks[0], card.question
