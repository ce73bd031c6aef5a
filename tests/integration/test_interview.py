"""Mock interviews and conversational follow-ups, on the real model and notes slice."""
from __future__ import annotations

import pytest

from tutor.conversation import Conversation
from tutor.service import InputError

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


def test_weak_answer_gets_a_follow_up_on_a_missed_point_then_the_next_question(slice_tutor):
    interview = slice_tutor.start_interview(["Transformer"], count=2, seed=0)
    first = interview.current
    feedback = interview.answer("这个我只知道一点点，和训练有关。")
    assert feedback.grade.missed and feedback.grade.score < 85
    assert feedback.next_kind == "follow-up" and feedback.next_prompt.startswith("追问")
    assert first.card.question.rstrip("？?") in feedback.next_prompt
    follow = interview.answer("不知道")
    assert follow.kind == "follow-up" and follow.grade.score == 0
    assert follow.next_kind == "question" and follow.next_prompt == interview.cards[1].question


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


def test_hint_names_terms_without_giving_the_answer(slice_tutor):
    interview = slice_tutor.start_interview(["Normalization"], count=1, seed=2)
    card = interview.current.card
    hint = interview.hint()
    terms = hint.split("、")
    first_point = card.key_points[0]
    # the rarest terms of the first open point, not the point itself
    assert 1 <= len(terms) <= 3 and all(term.lower() in first_point.lower() for term in terms)
    assert len(hint) < len(first_point) and hint not in card.key_points


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
