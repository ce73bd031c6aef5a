"""Follow-ups and hints on cards with code (no model: the notes' own lexical index)."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from tutor import followups
from tutor.followups import FollowUpKind
from tutor.grading import Grade, grading_points, is_code_point
from tutor.index import lexical_text
from tutor.lexical import LexicalIndex
from tutor.notes import load_notes

from ..conftest import ROOT

CARDS = load_notes(ROOT / "knowledge").cards
WITH_CODE = [card for card in CARDS if any(is_code_point(p) for p in grading_points(card))]


@pytest.fixture(scope="module")
def index():
    """What follow-ups read of the index: its lexical side, built from the shipped cards."""
    return SimpleNamespace(lexical=LexicalIndex.build([lexical_text(card) for card in CARDS]))


def _grade(card, score, missed):
    covered = [p for p in grading_points(card) if p not in missed]
    return Grade(card.question, card.id, score, "", covered, missed, card.answer, card.citation)


def test_a_statement_is_asked_about_before_a_code_block(index):
    """A block's identifiers are rare terms: weighed like a statement, the block was the
    "most important" missed point of every card with code, and its code was quoted,
    flattened, into the interviewer's sentence."""
    assert len(WITH_CODE) >= 40
    for card in WITH_CODE:
        points = grading_points(card)
        assert not is_code_point(followups.most_important(points, card, index)), card.question
        move = followups.follow_up(card, _grade(card, 30, points), index, {card.id}, "zh")
        assert "```" not in move.prompt and "import " not in move.prompt, move.prompt


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_missed_code_block_is_asked_for_as_code_never_quoted(index, language):
    card = next(c for c in WITH_CODE if "class LoRALinear" in c.answer)
    code = [p for p in grading_points(card) if is_code_point(p)]
    said = []
    for score, kind in ((58, FollowUpKind.MISSED), (30, FollowUpKind.CORRECTION)):
        move = followups.follow_up(card, _grade(card, score, code), index, {card.id}, language)
        assert move.kind == kind and move.reference.key_points == tuple(code)  # graded on the block
        said.append(move.prompt)
        said += [followups.hint(code[0], card, number, language) for number in (1, 2)]
    for text in said:
        assert "LoRALinear" in text, text  # what the code defines names it
        assert "```" not in text and "import" not in text and "\n" not in text, text
    assert "class LoRALinear(nn.Module):" in said[2]  # the second hint: its first line past the imports


@pytest.mark.parametrize("code, line", [
    ("import numpy as np\n# a check\n\nrng = np.random.default_rng(0)\nprint(rng.random())", "print(rng.random())"),
    ('"""Train it.\nUses AdamW.\n"""\n@torch.no_grad()\nx = step(1)', "x = step(1)"),  # docstring, decorator
    ("/* a ring buffer */\n-- or SQL\nSELECT name FROM users;", "SELECT name FROM users;"),
    ("import torch\nfrom torch import nn", "import torch"),  # nothing else to show
    ("def _pad(x):\n    return x\n\ndef helper(x):\n    return x\n\ndef beam(x):\n    return helper(x)",
     "def beam(x):"),  # helpers come before what uses them
    ("def helper():\n    pass\n\nclass Cache:\n    pass\n\ndef main():\n    pass", "class Cache:"),
    ("y = f(" + ", ".join(f"argument_{i}" for i in range(20)) + ")  # a comment", None),  # cut, no comment
])
def test_a_code_block_s_key_line(code, line):
    point = f"```\n{code}\n```"
    assert followups.point_kind(point) == "code"
    shown = followups.key_line(point)
    if line is not None:
        assert shown == line
    else:
        assert shown.endswith(" …") and "#" not in shown  # cut at a pause near CODE_LINE_CHARS
        assert followups.CODE_LINE_CHARS // 2 <= len(shown) <= 1.6 * followups.CODE_LINE_CHARS + 2


def test_the_definition_the_question_names_is_the_code_s_subject():
    card = CARDS[0]
    point = "```\ndef helper(x):\n    return x\n\ndef beam_search(x):\n    return helper(x)\n\ndef main():\n    pass\n```"
    named = replace(card, question="手写 beam_search 并验证？")
    assert followups.subject_of(point, named, "en") == "beam_search"
    assert followups.subject_of(point, card, "en") == "main"  # else the last function
    bare = "```\nx = 1\nprint(x)\n```"
    heading = card.path[-1]
    expected = f"「{heading}」" if heading.lower() not in card.question.lower() else None
    assert followups.subject_of(bare, card, "zh") == expected  # nothing defined: the heading


def test_a_statement_that_leans_back_is_still_asked_before_code(index):
    card = WITH_CODE[0]
    code = next(p for p in grading_points(card) if is_code_point(p))
    leaning = "This makes the kernel fused and the memory traffic smaller"
    assert followups.most_important([leaning, code], card, index) == leaning


def test_a_code_block_to_study_next_is_shown_by_its_first_line():
    from tutor.ui.render import inline_html, study_html

    card = next(c for c in WITH_CODE if "class LoRALinear" in c.answer)
    block = next(p for p in grading_points(card) if is_code_point(p))
    shown = study_html(block)
    assert shown.startswith("<code>class LoRALinear(nn.Module)") and "import" not in shown and "\n" not in shown
    statement = next(p for p in grading_points(card) if not is_code_point(p))
    assert study_html(statement) == inline_html(statement)  # a statement is shown as it reads
