"""Mock interviews and conversational follow-ups, on the real model and notes slice."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace

import pytest

from tutor import followups
from tutor.conflicts import Conflict, ConflictKind
from tutor.conversation import Conversation
from tutor.followups import FollowUpKind
from tutor.grading import Grade
from tutor.interview import Interview
from tutor.service import InputError, InterviewSettings

from ..conftest import SEED, make_tutor

BN_GOOD = (
    "句子长度不同，padding 后做 BatchNorm 统计量不稳定、方差变大；同一 batch 中不同 token 的第 i 维关联不大，"
    "跨样本归一化会损失 token 之间的差异；实验表明换成 BN 后统计量和梯度都不稳定；LayerNorm 能降低方差、加速收敛。"
)


def test_interview_respects_topics_count_and_never_repeats(slice_tutor):
    interview = slice_tutor.start_interview(["Normalization"], count=4, seed=3)
    assert len(interview.cards) == 4
    assert {c.topic for c in interview.cards} == {"Normalization"}
    assert len({c.id for c in interview.cards}) == 4
    with pytest.raises(InputError):
        slice_tutor.start_interview(["No Such Topic"], count=2)
    with pytest.raises(InputError):
        slice_tutor.start_interview(None, count=0)
    capped = slice_tutor.start_interview(["Normalization"], count=50, seed=1)
    assert len(capped.cards) == len([c for c in slice_tutor.retriever.cards if c.topic == "Normalization"])


def test_the_follow_up_depends_on_how_the_answer_went(slice_tutor):
    """Good: a card that builds on this one; partial: the most important missed point as a
    question of its kind; weak: what the notes say, to explain; nothing: move on."""
    index = slice_tutor.retriever.index
    card = next(c for c in index.cards if c.question.startswith("RMSNorm 的公式是什么"))
    points = list(card.key_points)

    def grade(score, covered):
        return Grade(card.question, card.id, score, "", covered, [p for p in points if p not in covered], card.answer,
                     card.citation)

    deeper = followups.follow_up(card, grade(80, points[:-1]), index, {card.id}, "zh")
    assert deeper.kind == FollowUpKind.DEEPER and deeper.reference.topic == card.topic != ""
    assert deeper.reference.id != card.id and deeper.prompt == "答得不错，往深一层问：" + deeper.reference.question
    missed = followups.follow_up(card, grade(55, points[:1]), index, {card.id}, "zh")
    assert missed.kind == FollowUpKind.MISSED and missed.prompt.startswith("追问：") and missed.prompt.endswith("？")
    assert missed.reference.key_points[0] in points[1:]  # graded against the point it asks about
    weak = followups.follow_up(card, grade(30, []), index, {card.id}, "zh")
    assert weak.kind == FollowUpKind.CORRECTION and weak.reference.key_points[0] in points
    assert weak.prompt.startswith("这个回答和笔记的要点差得比较远") and weak.prompt.endswith("你能解释一下为什么是这样吗？")
    assert followups.follow_up(card, grade(0, []), index, {card.id}, "zh") is None
    english = followups.follow_up(card, grade(55, points[:1]), index, {card.id}, "en")
    assert english.prompt.startswith("Follow-up: ") and not re.search(r"[\u4e00-\u9fff]", english.prompt)
    # a claim said of the wrong compared thing is taken up first, even in a good answer
    wrong = Conflict("RMSNorm 要减去均值", "LayerNorm 要减去均值", "RMSNorm", "LayerNorm")
    swapped = followups.follow_up(card, replace(grade(80, points), conflicts=[wrong]), index, {card.id}, "zh")
    assert swapped.kind == FollowUpKind.CONTRADICTION and swapped.reference.key_points == ("LayerNorm 要减去均值",)
    assert swapped.prompt == ("你说「RMSNorm 要减去均值」，但笔记里这说的是 LayerNorm：「LayerNorm 要减去均值」。"
                              "为什么是 LayerNorm 而不是 RMSNorm？")
    wrong_number = Conflict("LayerNorm 有 3 个参数", "LayerNorm 有 2 个参数", "3", "2", kind=ConflictKind.QUANTITY)
    counted = followups.follow_up(card, replace(grade(80, points), conflicts=[wrong_number]), index, {card.id}, "en")
    assert counted.prompt == ('You said "LayerNorm 有 3 个参数", but the notes give 2: "LayerNorm 有 2 个参数" '
                              "Why 2 and not 3?")
    denied = Conflict("RMSNorm 在这里效果更好", "LayerNorm 要减去均值", "RMSNorm", card.question, kind=ConflictKind.PREMISE)
    premise = followups.follow_up(card, replace(grade(80, points), conflicts=[denied]), index, {card.id}, "zh")
    # no one point is contradicted: the follow-up is graded on the statement shown
    assert premise.kind == FollowUpKind.CONTRADICTION and premise.reference.key_points == ("LayerNorm 要减去均值",)
    assert premise.prompt == ("你说「RMSNorm 在这里效果更好」，但这道题问的正是为什么不用 RMSNorm，笔记里说："
                              "「LayerNorm 要减去均值」。RMSNorm 在这里有什么问题？")


def test_an_interview_follows_up_in_the_band_of_each_grade(slice_tutor):
    cards = [c for c in slice_tutor.retriever.cards if c.topic == "Normalization"][:2]
    interview = Interview.begin(cards, slice_tutor.grader)
    good = interview.answer(cards[0].answer)  # the notes' own answer
    assert good.grade.score >= 70 and good.follow_up == FollowUpKind.DEEPER
    follow = interview.current
    assert follow.card.id not in {c.id for c in cards} and good.next_prompt.endswith(follow.card.question)
    assert interview.answer("不知道").grade.score == 0  # graded against that deeper card
    assert interview.current.card == cards[1] and interview.current.kind == "question"
    feedback = interview.answer(cards[1].key_points[0])
    band = (FollowUpKind.DEEPER if feedback.grade.score >= 70 else FollowUpKind.MISSED if feedback.grade.score >= 50
            else FollowUpKind.CORRECTION if feedback.grade.score > 0 else None)
    assert feedback.follow_up == band or (band == FollowUpKind.DEEPER and feedback.follow_up is None)


def test_the_follow_up_chain_works_on_the_seed_notes_alone(tmp_path, e5):
    """The user's own notes carry no authored follow-ups, English renderings or metadata:
    every follow-up and hint is still made from those notes, and reads as a sentence."""
    notes = tmp_path / "notes"
    notes.mkdir()
    shutil.copy(SEED, notes / SEED.name)
    tutor = make_tutor(notes, tmp_path / "data", e5)
    tutor.ingest()
    index = tutor.retriever.index
    own = {c.id for c in index.cards}
    said, deeper = [], 0
    for card in index.cards:
        points = list(card.key_points)
        if len(points) < 2:
            continue
        for score, covered in ((80, points), (58, points[:1]), (30, [])):
            grade = Grade(card.question, card.id, score, "", covered, [p for p in points if p not in covered],
                          card.answer, card.citation)
            move = followups.follow_up(card, grade, index, {card.id}, "zh")
            if move is None:
                continue
            assert move.reference.id in own  # deeper: another seed card; missed or wrong: this card's point
            deeper += move.kind == FollowUpKind.DEEPER
            said.append(move.prompt)
        point = followups.most_important(points[1:], card, index)
        said += [followups.hint(point, card, 1, "zh"), followups.hint(point, card, 2, "zh")]
    assert deeper >= 1 and len(said) >= 12
    for text in said:
        assert text.endswith(("？", "。", "……」")), text
        assert not re.search(r"「[a-z0-9][a-z0-9 .]{0,3}[、」]", text), text  # no lower-cased fragments
        assert not re.search(r"et al|「\d+\s*[GMK]?B」", text), text  # no author names or unit fragments


def test_an_english_interview_asks_the_english_rendering(slice_tutor):
    settings = InterviewSettings(language="en", difficulties=frozenset({1, 2}), follow_ups=False)
    interview = slice_tutor.start_interview(["Attention"], count=3, seed=1, settings=settings)
    assert all(c.difficulty in (1, 2) for c in interview.cards)
    assert interview.current.prompt == interview.cards[0].english != ""
    feedback = interview.answer("K and V of every head are shared.")
    assert feedback.next_kind == "question" and feedback.next_prompt == interview.cards[1].english  # no follow-up


def test_good_answer_moves_on_and_summary_adds_up(slice_tutor):
    interview = slice_tutor.start_interview(["Transformer"], count=5, seed=0)
    while interview.current.card.question != "为什么NLP不用BN？":
        interview.skip()
    feedback = interview.answer(BN_GOOD)
    assert feedback.grade.score >= 50 and len(feedback.grade.covered) >= 3
    interview.end()
    assert interview.finished
    summary = interview.summary()
    scored = [r for r in summary.rows if r.score is not None]
    assert [r.question for r in scored] == ["为什么NLP不用BN？"]
    assert summary.average == scored[0].score
    assert summary.skipped == len(summary.rows) - 1
    with pytest.raises(ValueError):
        interview.answer("too late")


def test_hints_name_a_direction_then_give_the_start_of_a_point(slice_tutor):
    interview = slice_tutor.start_interview(["Normalization"], count=1, seed=2)
    card = interview.current.card
    first, second = interview.hint(), interview.hint()
    assert first.startswith("想想") and first.endswith(("。", "？")) and not any(p in first for p in card.key_points)
    quoted = re.search(r"「(.+)……」", second).group(1)
    assert second.startswith("笔记里的这一点是这样开头的") and any(quoted in p for p in card.key_points)
    assert len(quoted) < max(len(p) for p in card.key_points)


def test_follow_ups_in_conversation(slice_tutor):
    chat = Conversation(slice_tutor.retriever)
    first = chat.ask("GQA 是怎么分组的？")
    assert first.kind == "answer" and "GQA" in first.hits[0].card.question and first.related
    what_about = chat.ask("那 MQA 呢？")
    assert what_about.kind == "answer" and "MQA" in what_about.hits[0].card.question
    expand = chat.ask("详细一点")
    assert expand.kind == "expand" and expand.hits[0].card == what_about.hits[0].card and expand.related
    english = chat.ask("What about MLA?")
    assert "MLA" in english.hits[0].card.question
    assert chat.ask("why?").kind == "expand"
    weather = chat.ask("那今天天气怎么样？")
    assert weather.kind == "not-covered" and weather.hits == [] and weather.related


def test_a_fresh_conversation_has_no_context(slice_tutor):
    assert Conversation(slice_tutor.retriever).ask("详细一点").kind == "not-covered"


def test_conversation_over_an_empty_index_says_not_covered(tutor_for, notes_dir):
    tutor = tutor_for(notes_dir)
    tutor.ingest()
    reply = Conversation(tutor.retriever).ask("什么是 KV Cache？")
    assert reply.kind == "not-covered" and reply.hits == [] and reply.related == []
