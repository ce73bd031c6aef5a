"""Parsing real, messy notes into cards."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tutor.notes import (
    MAX_KEY_POINTS,
    NotesError,
    is_reference,
    key_points,
    load_notes,
    paragraph_lines,
    parse_markdown,
    repair_pasted_formulas,
)

from ..conftest import SEED


def cards_by_question(text: str, source: str = "n.md"):
    cards, skipped = parse_markdown(text, source)
    return {c.question: c for c in cards}, skipped


def test_seed_notes_give_their_questions_and_report_unusable_sections():
    cards, skipped = parse_markdown(SEED.read_text(encoding="utf-8"), "llm_interview_notes.md")
    questions = [c.question for c in cards]
    assert questions == [
        "为什么Transformer需要Positional Encoding？",
        "为什么需要Multi-Head Attention？",
        "Self attention的时间复杂度",
        "KV Cache 和 MQA",
        "为什么NLP不用BN？",
    ]
    reasons = {s.question: s.reason for s in skipped}
    assert reasons["Attention 公式"].startswith("image only")
    assert reasons["RMSNorm"].startswith("TODO")
    assert reasons["Transformer"].startswith("image only")
    by_question = {c.question: c for c in cards}
    position = by_question["为什么Transformer需要Positional Encoding？"]
    # the single top-level heading is the document's title, not a topic
    assert position.path == ("Transformer", "位置编码")
    assert position.line == 11
    assert "pic1.zhimg.com" not in position.answer and "zhuanlan" not in position.answer
    assert "需要体现同一单词在不同位置的区别。" in position.key_points


def test_seed_multi_head_answer_uses_circled_items_and_what_comes_before_them_as_key_points():
    cards, _ = parse_markdown(SEED.read_text(encoding="utf-8"), "s.md")
    mha = next(c for c in cards if c.question == "为什么需要Multi-Head Attention？")
    assert len(mha.key_points) == 4
    # the sentences before ① say the most (different subspaces); "总结：" only announces the list
    assert "不同子空间中的编码表示信息" in mha.key_points[1] and mha.key_points[1].endswith("特征/信息")
    assert mha.key_points[2].startswith("为了解决模型在对当前位置的信息进行编码时")


def test_a_paragraph_wrapped_over_several_lines_is_one_line():
    text = ("Transformer中无RNN的循环结构，而词语的位置是相当重要的\n一个信息。下一句\nwraps here\n\n"
            "- a bullet\n```\ncode line\nmore code\n```\nafter the fence\nand on")
    assert paragraph_lines(text) == [
        "Transformer中无RNN的循环结构，而词语的位置是相当重要的一个信息。下一句 wraps here", "",
        "- a bullet", "```", "code line", "more code", "```", "after the fence and on"]
    # a line that ends a sentence or clause ends its paragraph's line: lists written without markers stay apart
    assert paragraph_lines("优点：\n快\n省显存。\n缺点：慢") == ["优点：", "快省显存。", "缺点：慢"]
    # what starts a block of its own is never joined to the line before
    for block in ("1、第二项", "（2）第二项", "• second", "    indented code", "<div>x</div>", "---", "$$", "> quote"):
        assert paragraph_lines(f"第一行没有句号\n{block}") == ["第一行没有句号", block], block
    assert paragraph_lines("公式\n$$\na + b\n$$\n之后") == ["公式", "$$", "a + b", "$$", "之后"]
    from tutor.grading import grading_points

    cards, _ = parse_markdown(SEED.read_text(encoding="utf-8"), "s.md")
    position = next(c for c in cards if c.question == "为什么Transformer需要Positional Encoding？")
    points = grading_points(position)
    assert "一个信息。" not in points and any(p.endswith("而词语的位置是相当重要的一个信息。") for p in points)


def test_a_list_s_label_is_dropped_but_not_the_words_before_a_colon():
    points = key_points("Multi-head attention helps for two reasons: ① subspaces ② several positions")
    assert points[0] == "Multi-head attention helps for two reasons:"
    assert key_points("主要原因有两个：①子空间 ②多个位置")[0] == "主要原因有两个："
    assert key_points("多头有用。总结：①不同子空间 ②多个位置") == ["多头有用。", "不同子空间", "多个位置"]


def test_garbled_formula_from_a_web_page_is_repaired():
    line = "复杂度： O(n2⋅d)O(n^2 \\cdot d)O(n^2 \\cdot d) ，其中 softmax 为 O(n2)O(n^2)O(n^2)加权平均"
    assert repair_pasted_formulas(line) == "复杂度： $O(n^2 \\cdot d)$ ，其中 softmax 为 $O(n^2)$加权平均"
    product = "相乘：(n,d)∗(d,n)=O(n2⋅d)(n,d)*(d,n)=O(n^2 \\cdot d)(n,d)*(d,n)=O(n^2 \\cdot d) ，得到"
    assert repair_pasted_formulas(product) == "相乘：$(n,d)*(d,n)=O(n^2 \\cdot d)$ ，得到"
    untouched = "正常的公式 $x^2 + y^2$ 不变"
    assert repair_pasted_formulas(untouched) == untouched


def test_seed_complexity_card_has_clean_formula():
    cards, _ = parse_markdown(SEED.read_text(encoding="utf-8"), "s.md")
    card = next(c for c in cards if c.question == "Self attention的时间复杂度")
    assert "$O(n^2 \\cdot d)$" in card.answer
    assert "O(n2⋅d)" not in card.answer
    assert card.answer.count("$") % 2 == 0


def test_hash_lines_inside_code_fences_are_not_headings():
    text = "## 题目\n\n#### 怎么写 Python 注释？\n用井号开头：\n\n```python\n# 这是注释\nx = 1  # 行尾\n```\n\n~~~\n# 另一种 fence\n~~~\n"
    cards, _ = cards_by_question(text)
    assert list(cards) == ["怎么写 Python 注释？"]
    assert "# 这是注释" in cards["怎么写 Python 注释？"].answer


def test_bold_headings_entities_and_latex():
    text = "## **Attention**\n\n#### **为什么要除以 $\\sqrt{d_k}$？**\n点积方差随 $d_k$ 增大 &amp; softmax 会饱和 &lt;防止梯度消失&gt;。\n"
    cards, _ = cards_by_question(text)
    card = cards["为什么要除以 $\\sqrt{d_k}$？"]
    assert card.path == ("Attention",)
    assert "&" in card.answer and "<防止梯度消失>" in card.answer
    assert "$d_k$" in card.answer


def test_todo_image_only_empty_and_short_answers_are_skipped_with_reasons():
    text = (
        "## A\n\n#### 有图无字？\n![img](http://x/y.png)\n\n"
        "#### 待写？\nTODO\n\n#### 待补充的题？\n待补充\n\n"
        "#### 只有链接？\nReference：https://example.com/a\n\n"
        "#### 太短？\n是的。\n\n#### 正常？\n这是一个有内容的回答，足够长。\n"
    )
    cards, skipped = cards_by_question(text)
    assert list(cards) == ["正常？"]
    reasons = {s.question: s.reason for s in skipped}
    assert reasons["有图无字？"].startswith("image only")
    assert reasons["待写？"].startswith("TODO")
    assert reasons["待补充的题？"].startswith("TODO")
    assert reasons["只有链接？"] == "no answer text"
    assert reasons["太短？"].startswith("answer too short")


def test_key_points_from_bullets_numbers_or_sentences():
    assert key_points("导语：\n\n- 第一点内容\n- 第二点内容\n* 第三点内容") == ["第一点内容", "第二点内容", "第三点内容"]
    assert key_points("1. 先做这个步骤\n2) 再做那个步骤") == ["先做这个步骤", "再做那个步骤"]
    assert key_points("它减少计算量。它节省显存！Is it fast? It is fast. 好") == ["它减少计算量。", "它节省显存！", "It is fast."]


def test_metadata_comment_is_read_and_hidden_and_plain_notes_need_none():
    text = "## T\n\n#### 带元数据？\n<!-- difficulty: 3; tags: attention, kv cache -->\n回答正文，说明一些事情。\n\n#### 不带元数据？\n普通笔记的回答内容。\n"
    cards, _ = cards_by_question(text)
    tagged = cards["带元数据？"]
    assert tagged.difficulty == 3 and tagged.tags == ("attention", "kv cache")
    assert "difficulty" not in tagged.answer
    plain = cards["不带元数据？"]
    assert plain.difficulty is None and plain.tags == ()


def test_same_question_twice_gets_distinct_stable_ids():
    text = "## A\n\n#### 同一个问题？\n第一个回答的内容。\n\n#### 同一个问题？\n第二个回答的内容。\n"
    first, _ = parse_markdown(text, "x.md")
    second, _ = parse_markdown(text + "\n## B\n\n#### 另一个？\n另外一个回答内容。\n", "x.md")
    assert len({c.id for c in first}) == 2
    assert [c.id for c in first] == [c.id for c in second[:2]]


def test_card_id_survives_answer_edits_and_moves():
    before, _ = parse_markdown("## A\n\n#### 问题？\n旧的回答内容在这里。\n", "x.md")
    after, _ = parse_markdown("# 标题\n\n前言。\n\n## A\n\n#### 问题？\n全新的回答内容在这里。\n", "x.md")
    assert before[0].id == after[0].id
    assert after[0].line == 7


def test_folder_problems_are_reported_per_file(tmp_path: Path):
    (tmp_path / "good.md").write_text("## A\n\n#### 好问题？\n这是一个完整的回答。\n", encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("## A\n\n#### Café?\nd\xe9j\xe0 vu answer text".encode("latin-1"))
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (tmp_path / "no_headings.md").write_text("just some text without any heading\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("## ignored\n\n#### not markdown?\nignored text here\n", encoding="utf-8")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "x.md").write_text("## A\n\n#### 隐藏？\n不应被读取的内容。\n", encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "deep.md").write_text("## B\n\n#### 子目录问题？\n子目录里的回答内容。\n", encoding="utf-8")

    result = load_notes(tmp_path)
    assert sorted(c.source for c in result.cards) == ["good.md", "sub/deep.md"]
    reasons = {s.source: s.reason for s in result.skipped}
    assert reasons == {
        "binary.md": "binary file, not Markdown text",
        "empty.md": "empty file",
        "latin1.md": "not UTF-8 text",
        "no_headings.md": "no headed sections with text",
    }
    assert result.files == 3  # the readable ones


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(NotesError, match="not found"):
        load_notes(tmp_path / "nope")
    file = tmp_path / "f.md"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(NotesError, match="not a folder"):
        load_notes(file)


@pytest.mark.timeout(60)  # a guard against runaway backtracking (it would hang), not a benchmark
def test_a_pathological_line_is_parsed_and_left_alone():
    line = "a^b\\c" * 20000
    cards, _ = parse_markdown("## A\n\n#### 长行？\n" + line + "\n", "x.md")
    assert cards[0].question == "长行？" and "a^b" in cards[0].answer


def test_a_longer_fence_around_a_fence_keeps_its_hash_lines_as_code():
    text = ("## 题目\n\n#### 怎么在 Markdown 里展示代码块？\n外层用四个反引号：\n\n"
            "````markdown\n```python\n# not a heading\nprint(1)\n```\n````\n\n#### 下一个问题？\n答案文字足够长，可以评分。\n")
    cards, _ = cards_by_question(text)
    assert list(cards) == ["怎么在 Markdown 里展示代码块？", "下一个问题？"]
    assert "# not a heading" in cards["怎么在 Markdown 里展示代码块？"].answer


def test_setext_headings_are_headings_and_front_matter_is_not():
    text = ("---\ntitle: 我的笔记\ntags: [llm]\n---\n\n我的笔记\n======\n\n注意力\n------\n\n"
            "#### 为什么要除以根号 d_k？\n点积的方差随维度增大，softmax 会饱和。\n")
    cards, skipped = cards_by_question(text)
    card = cards["为什么要除以根号 d_k？"]
    # the setext `===` title is the document's, the setext `---` heading its topic
    assert list(cards) == ["为什么要除以根号 d_k？"] and card.path == ("注意力",) and not skipped
    assert card.line == 12  # line numbers count the front matter


def test_grading_points_add_the_prose_and_displayed_formulas_to_the_bullets():
    """A note whose explanation sits in prose beside a few bullets is graded on all of it;
    a line that only announces the list is not a statement, and a `$$` formula is a point."""
    from tutor.grading import grading_points

    text = ("## T\n\n#### 为什么要位置编码？\n自注意力对顺序不敏感，所以要加位置信息。原版用正余弦函数。\n\n"
            "编码需要：\n\n- 区分不同位置\n- 值域有界\n\n$$PE_{(pos,2i)} = \\sin(pos/10000^{2i/d})$$\n")
    card = cards_by_question(text)[0]["为什么要位置编码？"]
    assert card.key_points == ("区分不同位置", "值域有界")
    points = grading_points(card)
    assert points[:2] == ["区分不同位置", "值域有界"]
    assert "自注意力对顺序不敏感，所以要加位置信息。" in points and "原版用正余弦函数。" in points
    assert "$$PE_{(pos,2i)} = \\sin(pos/10000^{2i/d})$$" in points
    assert not any(point.startswith("编码需要") for point in points)
    assert len(points) == len(set(points)) == 5


def test_a_long_prose_statement_is_graded_as_its_claims_and_a_bullet_as_written():
    from tutor.grading import CLAIM_TERMS, _claims, _content_words, grading_points

    long = ("The operating system saves the state of the running process, such as its registers, program counter "
            "and stack pointer, into its process control block, then the scheduler picks another process and "
            "its saved state is restored, so it continues where it stopped.")
    assert _content_words(long) > CLAIM_TERMS
    claims = _claims(long)
    assert len(claims) >= 2 and all(_content_words(c) >= CLAIM_TERMS // 4 for c in claims)
    assert re.sub(r"[\s,]", "", "".join(claims)) == re.sub(r"[\s,]", "", long)  # nothing lost
    assert claims[0] == "The operating system saves the state of the running process, such as its registers"
    assert _claims("A stack is last in, first out.") == ["A stack is last in, first out."]  # short: one claim
    assert _claims("It costs 1,000,000 operations on 1,000 tokens with 10,000 heads and 100,000 parameters "
                   "and 2,000 layers and 3,000 experts and 4,000 steps and 5,000 warmup steps.")[0].count("1,000") == 2
    card = cards_by_question(f"## T\n\n#### Q?\n{long}\n\n- a short bullet\n")[0]["Q?"]
    assert grading_points(card) == ["a short bullet", *claims]
    card = cards_by_question(f"## T\n\n#### Q?\n- {long}\n- a short bullet\n")[0]["Q?"]
    assert grading_points(card) == [long, "a short bullet"]  # a bullet is the writer's one point
    card = cards_by_question(f"## T\n\n#### Q?\n两个原因：①{long} ②短的一项\n")[0]["Q?"]
    assert long in grading_points(card)  # so is a circled item, on the line of the text before it
    # inline math and code are never cut: "$\\min(1, r)$" is one term
    inline = ("The clipped surrogate objective of proximal policy optimisation takes $\\min(a, b)$ of two terms, "
              "the ratio times the advantage and the clipped ratio times the advantage, which keeps the update small.")
    assert all(piece.count("$") % 2 == 0 for piece in _claims(inline)) and len(_claims(inline)) >= 2
    # prose before a list and after it are two statements, not one wrapped paragraph
    card = cards_by_question("## T\n\n#### Q?\n先说一句没有句号\n- 列表的一项\n- 列表的另一项\n再说一句话\n")[0]["Q?"]
    assert grading_points(card) == ["列表的一项", "列表的另一项", "先说一句没有句号", "再说一句话"]
    # formulas keep their place however long the prose
    many = "\n\n".join(f"第{i}句话说了一件事。" for i in range(MAX_KEY_POINTS + 5))
    card = cards_by_question(f"## T\n\n#### Q?\n{many}\n\n$$E = mc^2$$\n")[0]["Q?"]
    points = grading_points(card)
    assert len(points) == MAX_KEY_POINTS and points[-1] == "$$E = mc^2$$"


@pytest.mark.parametrize("statement", [
    "Holtzman et al., The Curious Case of Neural Text Degeneration https://arxiv.org/abs/1904.09751",
    "ref: On Layer Normalization in the Transformer Architecture https://arxiv.org/abs/2002.04745",
    "refs: Leviathan et al. 2022 https://arxiv.org/abs/2211.17192 , Chen et al. 2023",
    "GraphRAG 出自 Edge et al.（2024）。",
    "Post-LN 对 warm-up 的依赖由 Xiong et al.（2020）分析。",
    "新知识与幻觉的研究来自 Gekhman et al.（2024），RAFT 出自 Zhang et al.（2024）。",
    "NoPE 的研究见 Haviv et al.（2022）和 Kazemnejad et al.（2023）。",
    "Dynamic Tanh 出自 Zhu et al.（2025，\"Transformers without Normalization\"）。",
    "top-p 由 Holtzman et al. 2019 提出。",
    "Liu et al.",
    "Liu et al., 2023",
    "GraphRAG 出自 Edge et al., 2024。",
    "过优化研究来自 Gao 等人（2022）。",
    "Prefix Tuning 出自 Li & Liang（2021），Prompt Tuning 出自 Lester 等人（Google，2021）。",
    "两套分类分别来自 Ji et al.（2023）和 Huang et al.（2023）的综述。",
    "权重共享的做法参考了 Press & Wolf（2017）。",
    "由 von Oswald et al.（2023）提出。",
    "原文 https://arxiv.org/abs/1706.03762",
    "论文：《Attention Is All You Need》 https://arxiv.org/abs/1706.03762",
    "参考：这篇博客讲得很清楚 https://zhuanlan.zhihu.com/p/667752628",
])
def test_a_link_or_a_citation_is_not_a_point(statement):
    assert is_reference(statement)
    assert key_points(f"GraphRAG 先建实体图再检索社区摘要。{statement}") == ["GraphRAG 先建实体图再检索社区摘要。"]


@pytest.mark.parametrize("statement", [
    "zero-shot CoT（Kojima et al., 2022）则不需要示例，只在答案前加一句触发语。",
    "PRM800K（Lightman et al., 2023）由人工逐步判断每一步的对错；",
    "C-Eval 出自 Huang et al.（2023），约 1.4 万道题。",
    "Swish 定义为 $x\\sigma(\\beta x)$，由 Ramachandran et al.（2017）通过自动搜索激活函数得到；",
    "The Domain Name System translates names such as www.example.com into IP addresses.",
    "See the figure: the loss falls by half when the batch doubles.",
    # a citation in brackets, or after a long subject, backs a claim
    "LoRA 通过低秩分解把可训练参数减少上万倍（见 Hu et al., 2021）。",
    "Pre-LN Transformers train stably without warm-up (see Xiong et al., 2020).",
    "Dropout works (Srivastava et al., 2014).",
    "Multi-query attention shares K and V across heads by Shazeer et al.",
    "Chinchilla 的最优配比约为每参数 20 个 token 由 Hoffmann et al.（2022）提出。",
    # ordinary uses of the cue words
    "梯度由反向传播计算。",
    "The output is produced by the decoder.",
    "Smith et al. showed that warm-up helps.",
    # a link inside a statement, or beside one that is not a title
    "pip 默认从 https://pypi.org/simple 下载包。",
    "Nucleus sampling beats beam search on diversity: https://arxiv.org/abs/1904.09751",
    "官方文档 https://pytorch.org/docs 说明 bf16 不需要 loss scaling。",
])
def test_a_claim_with_a_citation_or_an_address_in_it_is_still_a_point(statement):
    assert not is_reference(statement)


def test_a_claim_cut_from_a_long_statement_that_only_cites_is_not_graded():
    from tutor.grading import grading_points

    statement = ("以上关于难度和预训练的结论来自 Snell et al.（2024）：按难度自适应分配测试时计算，"
                 "比 best-of-N 基线节省约 4 倍计算，而且在简单和中等难度的问题上效果最明显。")
    card = cards_by_question(f"## T\n\n#### Q?\n{statement}\n")[0]["Q?"]
    points = grading_points(card)
    assert points and not any("Snell" in point for point in points)
    assert any("4 倍计算" in point for point in points)


def test_a_citation_neither_ends_a_sentence_nor_is_cut_from_its_claim():
    from tutor.grading import _claims

    text = "其中 von Oswald et al. 构造了等价于梯度下降的注意力层。另一句话在这里。"
    assert key_points(text) == ["其中 von Oswald et al. 构造了等价于梯度下降的注意力层。", "另一句话在这里。"]
    long = ("后续研究（Liu et al., 2025）发现 DeepSeek-V3-Base 等基座模型在 RL 之前就会出现类似的自我反思，"
            "说明 RL 更多是放大预训练中已有的行为，而非从零创造，这一点和 aha moment 的说法相反。")
    claims = _claims(long)
    assert len(claims) >= 2 and "（Liu et al., 2025）" in claims[0]
    maths = ("The attention layer of each head scores every single pair of vectors $q_i, k_j$ over its own slice, "
             "the heads run in parallel, and their outputs are concatenated and projected back to the model dimension.")
    assert all(piece.count("$") % 2 == 0 for piece in _claims(maths)) and len(_claims(maths)) >= 2
    assert key_points("隐式梯度下降（von Oswald et al., 2023；Akyürek et al., 2022）。另一句话。") == [
        "隐式梯度下降（von Oswald et al., 2023；Akyürek et al., 2022）。", "另一句话。"]
    # a bullet that cites its source after its claim is still the writer's point
    assert key_points("- RAG 先检索再生成。最早见 Lewis et al.（2020）。\n- 第二条内容") == [
        "RAG 先检索再生成。最早见 Lewis et al.（2020）。", "第二条内容"]
    assert "常用的处理方法有开放定址法（如线性探测、二次探测，按规则在表中寻找下一个空位）和链地址法" in _claims(
        "常用的处理方法有开放定址法（如线性探测、二次探测，按规则在表中寻找下一个空位）和链地址法（拉链法，"
        "把映射到同一地址的元素用链表串起来），此外还可以使用再哈希法，并在装填因子过高时扩容重新哈希。")[0]


def test_a_code_block_is_one_point_not_its_lines():
    from tutor.grading import grading_points

    code = "import math\n\ndef attention(q, k, v):\n    return (q @ k.T / math.sqrt(q.shape[-1])).softmax(-1) @ v"
    card = cards_by_question(f"## T\n\n#### 手写 attention？\n先算打分再 softmax。\n\n```python\n{code}\n```\n"
                             "缩放防止 softmax 饱和。\n")[0]["手写 attention？"]
    assert grading_points(card) == ["先算打分再 softmax。", "缩放防止 softmax 饱和。", f"```\n{code}\n```"]
    # like a formula, it keeps its place however long the prose
    many = "\n\n".join(f"第{i}句话说了一件事。" for i in range(MAX_KEY_POINTS + 5))
    card = cards_by_question(f"## T\n\n#### Q?\n{many}\n\n~~~\n{code}\n~~~\n")[0]["Q?"]
    assert grading_points(card)[-1] == f"```\n{code}\n```" and len(grading_points(card)) == MAX_KEY_POINTS


@pytest.mark.parametrize("text, code, prose", [
    ("````markdown\n```python\nx = 1\n```\n````\n结论。", ["```python\nx = 1\n```"], "结论。"),  # a longer fence
    ("```x``` 是行内代码。\n这句话是结论。\n```\ncode\n```", ["code"], "```x``` 是行内代码。\n这句话是结论。"),
    ("```\ncode\n`````\n之后。", ["code"], "之后。"),  # a longer closing fence closes it
    ("```\nnever closed\n之后。", [], "```\nnever closed\n之后。"),
])
def test_fenced_code_is_read_line_by_line(text, code, prose):
    from tutor.notes import code_blocks, without_code

    assert code_blocks(text) == code
    assert without_code(text).strip() == prose


def test_unclosed_fences_are_read_in_linear_time():
    import time

    from tutor.notes import code_blocks

    started = time.perf_counter()
    assert code_blocks("```a\n" * 32000) == []  # each line opens a fence no line closes
    assert time.perf_counter() - started < 5  # a backtracking pattern took 38 s on this


def test_seed_positional_encoding_card_is_graded_on_its_explanation_too():
    from tutor.grading import grading_points

    card = next(c for c in load_notes(SEED.parent).cards if c.question == "为什么Transformer需要Positional Encoding？")
    points = grading_points(card)
    assert set(card.key_points) < set(points)
    assert any("无法感知一个句子中词语出现的先后顺序" in point for point in points)


@pytest.mark.parametrize("point, leans", [
    ("而词语的位置是相当重要的一个信息", True),  # a piece cut from a sentence: goes on from it
    ("then the scheduler picks another process", True),
    ("这样做可以省显存", True),
    ("并行计算时每张卡算一部分", False),  # 并行 is a word, not 并 "and"
    ("Transformer 没有循环结构", False),
    ("Threads share memory", False),  # "th…" is not "then" / "this"
])
def test_a_follow_up_is_not_asked_about_a_point_that_leans_on_the_text_before_it(point, leans):
    from tutor.followups import _LEANS_BACK

    assert bool(_LEANS_BACK.match(point)) == leans
