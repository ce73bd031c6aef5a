"""Chat commands, parsed in the core so every front end reads them alike."""
from __future__ import annotations

from tutor.commands import DEFAULT_INTERVIEW_QUESTIONS, CommandKind, parse_command

TOPICS = ["Attention", "Multi-Head Attention", "Normalization", "位置编码"]


def test_interview_takes_topics_and_a_count_in_any_order():
    command = parse_command("/interview Normalization 2", TOPICS)
    assert (command.kind, command.topics, command.count, command.unknown) == (CommandKind.INTERVIEW,
                                                                              ["Normalization"], 2, "")
    assert parse_command("/面试 4 位置编码", TOPICS).topics == ["位置编码"]
    assert parse_command("/interview", TOPICS).count == DEFAULT_INTERVIEW_QUESTIONS
    both = parse_command("/interview multi-head attention normalization", TOPICS)
    # longest names first: "Multi-Head Attention" is one topic; "Attention" inside it matches too
    assert both.topics[:2] == ["Multi-Head Attention", "Normalization"]
    unknown = parse_command("/interview 量子计算 3", TOPICS)
    assert unknown.topics == [] and unknown.unknown == "量子计算" and unknown.count == 3


def test_slash_commands_anywhere_bare_words_only_as_typed_alone():
    assert parse_command("/hint").kind == CommandKind.HINT and parse_command("/hint").slash
    assert parse_command("提示").kind == CommandKind.HINT and not parse_command("提示").slash
    assert parse_command("/跳过").kind == CommandKind.SKIP and parse_command("结束面试").kind == CommandKind.END
    assert parse_command("/HELP").kind == CommandKind.HELP
    assert parse_command("提示一下 RoPE 的公式") is None  # a question that starts with the word
    assert parse_command("为什么需要位置编码？") is None
    assert parse_command("/skip now") is None


def test_bind_shows_gradio_only_the_inputs():
    """Handlers are module-level functions of (view, inputs..., request); Gradio reads the
    bound function's signature and type hints to pass inputs and the request."""
    import inspect
    import typing

    import gradio as gr

    from tutor.ui.chat import on_message
    from tutor.ui.context import bind

    bound = bind(on_message, "the view")
    assert list(inspect.signature(bound).parameters) == ["message", "history", "state", "request"]
    assert typing.get_type_hints(bound)["request"] is gr.Request
    seen = []
    assert bind(lambda view, text: seen.append((view, text)) or "ok", "v")("t") == "ok" and seen == [("v", "t")]


def test_salient_terms_are_names_written_like_technical_terms():
    from tutor.answerability import salient_terms

    assert [written for _, written in salient_terms("How does CLIP align images with text?")] == ["CLIP"]
    assert {term for term, _ in salient_terms("SimPO 和 DPO 的区别，o1 怎么训练的？")} == {"simpo", "dpo", "o1"}
    # plain English words are not names; sizes like 7B and 1GB are not subjects
    assert salient_terms("Why does beam search need a length penalty?") == []
    assert salient_terms("把 70B 模型蒸馏到 7B，1GB 梯度") == []
    assert [t for t, _ in salient_terms("word2vec 的负采样")] == ["word2vec"]


def test_a_hyphenated_name_and_the_same_words_apart_share_a_term():
    from tutor.lexical import LexicalIndex, terms

    assert "cross_attention" in terms("Encoder-decoder 的 cross-attention") and "cross_attention" in terms("Cross Attention")
    assert "gpt-4o" in terms("GPT-4o")  # the whole name is still a term
    assert "gpt-4o" in terms("GPT-4o", variants=False) and "gpt4o" not in terms("GPT-4o", variants=False)
    # contractions are not words: no "s_model", "isn", "ca" or "s_tokenizer"
    found = terms("What's model collapse? It isn't rare, we can't skip it; GPT-2\u2019s tokenizer")
    assert "model_collapse" in found and "gpt-2_tokenizer" in found
    assert not {"s_model", "isn", "ca", "s_tokenizer", "not"} & set(found)
    # numbers, dates and stop words are not names with other spellings
    assert terms("3-5 epochs") == ["3-5", "epochs", "3-5_epochs"] and "of_the" not in terms("state-of-the-art")
    # a question counts one spelling of a name: the one these notes hold
    notes = LexicalIndex.build(["warmup 学习率预热", "cross-attention 的 Q 来自 decoder"])
    assert notes.content_terms("warm-up 怎么设") == ["warmup"]
    assert notes.content_terms("cross-attention 的 Q") == ["cross-attention"]
    index = LexicalIndex.build(["cross-attention 的 Q 来自 decoder", "self-attention 的 Q、K、V 同源"])
    scores, _ = index.scores("cross attention 里 Q 从哪来")
    assert scores[0] > scores[1]


def test_words_side_by_side_in_a_chinese_question_are_one_name_when_the_notes_hold_the_pair():
    from tutor.answerability import salient_terms

    holds = {"cross_attention", "attention", "kv_cache", "kv", "cache"}.__contains__
    assert salient_terms("cross attention 里 Q、K、V 各来自哪里？", holds) == [("cross_attention", "cross attention")]
    assert salient_terms("KV cache 和 GPT-4o 有什么关系", holds) == [("kv_cache", "KV cache"), ("gpt-4o", "GPT-4o")]
    # a pair the notes do not hold stays two names, and without the notes nothing is merged
    assert [t for t, _ in salient_terms("group normalization 怎么分组", holds)] == ["group", "normalization"]
    assert [t for t, _ in salient_terms("cross attention 里的查询从哪里来", None)] == ["cross", "attention"]
    # a hyphenated name by the spelling the notes hold; an English question is never paired
    assert salient_terms("warm-up 有什么用", {"warmup"}.__contains__) == [("warmup", "warm-up")]
    both = {"layernorm_rmsnorm"}.__contains__
    assert [t for t, _ in salient_terms("How do LayerNorm RMSNorm differ?", both)] == ["layernorm", "rmsnorm"]
    assert [t for t, _ in salient_terms("LayerNorm RMSNorm 有何不同", both)] == ["layernorm_rmsnorm"]
    # words apart (not side by side) are never merged
    assert [t for t, _ in salient_terms("cross 层和 attention 层的区别", holds)] == ["cross", "attention"]


def test_the_answerability_model_weighs_evidence_both_ways():
    from tutor.answerability import Evidence
    from tutor.retrieval import FITTED_ANSWERABILITY

    model = FITTED_ANSWERABILITY

    covered = Evidence(best=0.93, chatter_margin=0.08, standout=0.06, lexical_share=0.8, cross_lingual=0,
                       salient_absent=0, salient_found=1)
    uncovered = Evidence(best=0.86, chatter_margin=0.01, standout=0.012, lexical_share=0.0, cross_lingual=0,
                         salient_absent=1, salient_found=0, unexplained="SimPO")
    assert model.probability(covered) > 0.9 > 0.1 > model.probability(uncovered)
    names_it = Evidence(**{**covered.__dict__, "salient_absent": 1.0, "salient_found": 0.0})
    assert model.probability(names_it) < model.probability(covered)  # a name the notes never mention counts


def test_how_an_interview_question_is_put_is_not_what_it_asks():
    """"面试被问到 MLA，这是个啥" asks about MLA alone: the framing words are no query terms, so
    the query's lexical share (an answerability signal) is MLA's, and so is "奖励模型原理"'s."""
    from tutor.lexical import LexicalIndex

    index = LexicalIndex.build(["MLA 如何减少 KV cache", "奖励模型如何训练", "面试题：GQA 的原理"])
    assert index.content_terms("面试被问到 MLA，这是个啥") == ["mla"]
    assert index.content_terms("了解 KTO 吗？聊一聊") == ["kto"]
    assert "原理" not in index.content_terms("奖励模型原理") and "奖励" in index.content_terms("奖励模型原理")
    assert index.scores("面试被问到 MLA，这是个啥")[1] == 1.0  # all of the query's weight in one card
    assert index.scores("奖励模型原理")[1] == 1.0
