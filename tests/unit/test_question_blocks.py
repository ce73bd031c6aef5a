"""Notes that hold several questions under one heading, as other people write them: "Q: /
A:" pairs, folded <details>, numbered questions, question/answer tables. Each question is a
card of its own under the heading; anything that only looks like one stays the heading's
answer."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from tutor.evaluation import card_key
from tutor.notes import load_notes, parse_markdown

from ..conftest import make_tutor
from .test_english_opinion import WordsEmbeddings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "data"


def parse(text: str):
    cards, skipped = parse_markdown(text, "n.md")
    return cards, skipped


def test_question_and_answer_marks_make_a_card_each_under_the_heading():
    text = ("# 面试题\n\n## 基础\n\n开头的一段说明，介绍这一节讲什么内容。\n\n"
            "Q: 什么是过拟合？\nA: 模型在训练集上表现很好，\n但在测试集上表现差。\n\n"
            "**Q2：** 如何缓解过拟合？\n**A2：** 增加数据、正则化、dropout 和早停。\n")
    cards, skipped = parse(text)
    by_question = {card.question: card for card in cards}
    assert list(by_question) == ["什么是过拟合？", "如何缓解过拟合？", "基础"] and skipped == []
    first = by_question["什么是过拟合？"]
    assert first.answer == "模型在训练集上表现很好，\n但在测试集上表现差。" and first.line == 7
    assert first.path == ("基础",) and by_question["如何缓解过拟合？"].line == 11
    # the introduction stays the heading's card
    assert by_question["基础"].answer == "开头的一段说明，介绍这一节讲什么内容。" and by_question["基础"].path == ()


def test_a_file_of_chinese_question_and_answer_marks_without_any_heading_is_read():
    text = "问：什么是梯度消失？\n答：反向传播时梯度逐层变小，靠前的层几乎学不到东西。\n\n问：怎么缓解？\n答：残差连接、归一化和合适的初始化。\n"
    cards, _ = parse(text)
    assert [(c.question, c.line, c.path) for c in cards] == [("什么是梯度消失？", 1, ()), ("怎么缓解？", 4, ())]


def test_marks_that_do_not_alternate_question_then_answer_are_the_headings_answer():
    text = ("## 注意力的三个矩阵是什么？\n\nQ：query，当前位置用来查询的向量。\nK：key，被查询的向量。\nV：value，被加权求和的向量。\n\n"
            "```\nQ: 代码里的字符串\nA: 也不是问答\n```\n")
    cards, _ = parse(text)
    assert [c.question for c in cards] == ["注意力的三个矩阵是什么？"] and "K：key" in cards[0].answer


def test_folded_answers_under_their_questions_are_cards_and_a_folded_label_is_not_a_question():
    text = ("## Attention\n\n<details>\n<summary>What is multi-head attention?</summary>\n\n"
            "Several heads attend in parallel in projected subspaces; their outputs are concatenated.\n\n</details>\n\n"
            "## 什么是 LoRA？\n\n<details><summary>答案</summary>\n\n冻结原权重，只训练低秩矩阵 A 和 B。\n\n</details>\n")
    cards, _ = parse(text)
    assert [(c.question, c.path, c.line) for c in cards] == [
        ("What is multi-head attention?", ("Attention",), 4), ("什么是 LoRA？", (), 10)]
    assert cards[0].answer.startswith("Several heads attend")


def test_a_list_of_questions_each_followed_by_its_answer_is_a_card_each():
    text = ("# Transformer 面试题\n\n1. **Self-attention 的复杂度是多少？**\n\n   O(n²d)，n 是序列长度，d 是隐藏维度。\n\n"
            "2. 为什么要除以根号 d_k？\n   点积的方差随 d_k 增大，softmax 会饱和。\n\n"
            "3. 什么是 KV cache？\n\n推理时缓存历史 token 的 K 和 V，避免重复计算。\n")
    cards, _ = parse(text)
    assert [(c.question, c.line) for c in cards] == [
        ("Self-attention 的复杂度是多少？", 3), ("为什么要除以根号 d_k？", 7), ("什么是 KV cache？", 10)]
    assert cards[1].answer == "点积的方差随 d_k 增大，softmax 会饱和。" and cards[2].answer.startswith("推理时缓存")


def test_lists_that_are_an_answers_points_stay_one_card():
    points = "## 缓解过拟合\n\n- 正则化？很常用。\n- dropout，随机丢弃神经元。\n- 早停。\n"
    sub_points = "## Adam 有哪些优缺点？\n\n1. 优点？\n   自适应学习率。\n2. 缺点？\n   泛化可能差一些。\n"
    to_do = "## 待整理的题目\n\n还没写答案的题目如下，之后补上。\n\n1. 什么是 MoE？\n2. 什么是 RoPE？\n"
    for text in (points, sub_points, to_do):
        cards, _ = parse(text)
        assert len(cards) == 1 and cards[0].question == text.split("\n")[0][3:], text


def test_a_question_and_answer_table_is_a_card_per_row_and_another_table_is_an_answer():
    text = ("## PEFT\n\n| 问题 | 答案 |\n| --- | --- |\n| 什么是 LoRA？ | 冻结原权重，只训练低秩矩阵 A、B。 |\n"
            "| 什么是 QLoRA？ | 4-bit 量化的基座加 LoRA，<br>用分页优化器节省显存。 |\n\n"
            "## 显存对比\n\n| 方法 | 显存 | 速度 |\n| --- | --- | --- |\n| LoRA | 低 | 快 |\n| 全参数 | 高 | 慢 |\n")
    cards, _ = parse(text)
    assert [(c.question, c.path, c.line) for c in cards] == [
        ("什么是 LoRA？", ("PEFT",), 5), ("什么是 QLoRA？", ("PEFT",), 6), ("显存对比", (), 8)]
    assert cards[1].answer == "4-bit 量化的基座加 LoRA，\n用分页优化器节省显存。"


def test_each_listed_question_is_found_by_asking_it(notes_dir, tmp_path):
    (notes_dir / "qa.md").write_text(
        "# 速记\n\nQ: What does dropout do?\nA: It zeroes random activations during training to regularise.\n\n"
        "Q: What does warmup do?\nA: It raises the learning rate slowly over the first steps.\n", encoding="utf-8")
    assert len(load_notes(notes_dir).cards) == 2
    tutor = make_tutor(notes_dir, tmp_path / "data", WordsEmbeddings())
    tutor.ingest()
    hits = tutor.ask("What does warmup do?").hits
    assert hits and hits[0].card.question == "What does warmup do?" and hits[0].card.line == 6


# What only looks like a collection of questions: each stays the heading's one card, text
# and all (a review's probe of the first version, which split or lost each of these).
LOOKALIKES = {
    "value functions": "## PPO 中的优势函数\n\n- Q：动作价值函数 Q(s,a)\n- V：状态价值函数 V(s)\n- A：优势函数 A = Q - V\n",
    "problem label": "## 训练时 loss 出现 NaN 怎么办？\n\n问题：混合精度下梯度溢出。\n回答：先检查 loss scaling。\n",
    "chat format": "## 多轮对话的数据格式\n\nQ: 用户的提问\nA: 助手的回答\n\n只在 A 的部分算 loss。\n",
    "choice options": "## 选择题\n\nQ: 下列哪个不是激活函数？\nA：ReLU\nB：Sigmoid\nC：BatchNorm\n答案：C。\n",
    "unmarked answer": ("## 基础\n\nQ: 什么是过拟合？\nA: 训练集好测试集差。\n\nQ: 什么是欠拟合？\n模型太简单。\n\n"
                        "Q: 如何缓解过拟合？\nA: 正则化和早停。\n"),
    "comparison table": ("## RAG 和微调\n\n| 维度 | RAG | 微调 |\n| --- | --- | --- |\n| 是否更新参数？ | 否 | 是 |\n"
                         "| 知识如何更新？ | 改知识库 | 重新训练 |\n"),
    "two-column comparison": "## 对比\n\n| 特性 | 说明 |\n| --- | --- |\n| 是否更新参数 | 否 |\n| 知识如何更新 | 改知识库 |\n",
    "labels that ask": "## LoRA\n\n- What: low-rank adapters.\n- Why: fewer trainable weights.\n- How: W + BA.\n",
    "answer on the question's line": "## Dropout\n\n1. 什么是 dropout？训练时随机丢弃神经元。\n2. 推理时呢？关闭，并缩放。\n",
    "indented code": "## 代码\n\n示例如下，是一段合法的 Python 代码：\n\n    Q: str = '什么是过拟合？'\n    A: str = '训练集好测试集差'\n",
    "fenced details": "## HTML\n\n折叠块的写法：\n\n```html\n<details><summary>什么是 MoE？</summary>稀疏专家。</details>\n```\n",
    "points under a question": "## Adam 有哪些优缺点？\n\n1. 优点？\n   自适应学习率。\n2. 缺点？\n   泛化可能差一些。\n",
    "folded derivation": ("## 什么是 RoPE？\n\n把位置编码成旋转。\n\n<details><summary>公式推导</summary>\n\n旋转矩阵相乘。\n\n"
                          "</details>\n\n<details><summary>PyTorch 实现</summary>\n\n用复数乘法实现。\n\n</details>\n"),
}


def test_what_only_looks_like_listed_questions_stays_the_headings_answer():
    for name, text in LOOKALIKES.items():
        cards, skipped = parse(text)
        heading = text.split("\n")[0][3:]
        assert [c.question for c in cards] == [heading], name
        words = {line.strip("-*|# ") for line in text.splitlines()[1:] if line.strip("-*|# ")}
        kept = [word for word in words if word.split()[0].strip("<>") in cards[0].answer]
        assert len(kept) == len(words), (name, words - set(kept))


def test_other_ways_collections_number_and_mark_their_questions():
    forms = {
        "1、": "## 面试题\n\n1、什么是过拟合？\n训练集上好，测试集上差。\n\n2、如何缓解过拟合？\n增加数据和正则化。\n",
        "bold paragraphs": "## 面试题\n\n**1. 什么是过拟合？**\n\n训练集上好，测试集上差。\n\n**2. 如何缓解过拟合？**\n\n增加数据和正则化。\n",
        "bold marks": "## 面试题\n\n**Q：什么是过拟合？**\nA：训练集上好，测试集上差。\n**Q：如何缓解过拟合？**\nA：增加数据和正则化。\n",
        "Q1. / A1.": "## 面试题\n\nQ1. 什么是过拟合？\nA1. 训练集上好，测试集上差。\n\nQ2. 如何缓解过拟合？\nA2. 增加数据和正则化。\n",
        "list with 答：": "## 面试题\n\n- 什么是过拟合？\n  答：训练集上好，测试集上差。\n- 如何缓解过拟合？\n  答：增加数据和正则化。\n",
    }
    for name, text in forms.items():
        cards, skipped = parse(text)
        assert [(c.question, c.answer, c.path) for c in cards] == [
            ("什么是过拟合？", "训练集上好，测试集上差。", ("面试题",)),
            ("如何缓解过拟合？", "增加数据和正则化。", ("面试题",))], name
        assert skipped == [], name


def test_text_before_the_first_question_of_a_file_without_headings_is_reported():
    cards, skipped = parse("这份笔记整理自网络。\n\nQ: 什么是梯度消失？\nA: 梯度逐层变小，前面的层学不到东西。\n")
    assert [c.question for c in cards] == ["什么是梯度消失？"]
    assert [(s.reason, s.line) for s in skipped] == [("text before the first question, under no heading", 1)]


def test_other_peoples_notes_written_as_a_collection_keep_every_card(tmp_path):
    """bench/restyle_notes.py writes the 99 cards of other people's notes as "Q: / A:" lines,
    a question/answer table and folded <details>: each card comes back with its question,
    its answer and its points (the evaluation sets' labels hold). As a numbered list of bold
    questions, the files whose every question ends in a question mark do; the others are
    each one card, as before (a question without "？" is not told apart from a point)."""
    spec = importlib.util.spec_from_file_location("restyle_notes", ROOT / "bench" / "restyle_notes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for folder in ("prose_notes", "crossling_notes", "shortanswer_notes"):
        original = {card_key(c): c for c in load_notes(DATA / folder).cards}
        for form in module.FORMS:
            target = tmp_path / form / folder
            for source in {card.source for card in original.values()}:
                cards = [card for card in original.values() if card.source == source]
                (target / source).parent.mkdir(parents=True, exist_ok=True)
                (target / source).write_text(module.restyle(cards, form, Path(source).stem), encoding="utf-8")
            restyled = {card_key(c): c for c in load_notes(target).cards}
            kept = [key for key in original if key in restyled and restyled[key].answer == original[key].answer
                    and restyled[key].key_points == original[key].key_points]
            if form != "list" or folder != "crossling_notes":
                assert len(kept) == len(original), (form, folder, set(original) - set(kept))
            else:
                assert 0 < len(restyled) < len(original) and len(kept) < len(original)


# A second review's probe of the tightened version: each stays as the old parser read it.
SECOND_LOOKALIKES = {
    "few-shot prompt": ("## Few-shot CoT\n\n在 prompt 里给几个带推理过程的示例：\n\nQ: 罗杰有 5 个网球，又买了 2 罐，每罐 3 个，他现在有几个？\n"
                        "A: 5 + 6 = 11，答案是 11。\nQ: 食堂有 23 个苹果，用掉 20 个又买了 6 个，现在有几个？\nA:\n\n"
                        "模型会模仿示例里的推理过程。\n"),
    "prompt to complete": "## Zero-shot CoT\n\nQ: How many golf balls are left?\nA:\n\nAdding \"Let's think step by step\" helps.\n",
    "comparison asking per row": ("## DPO 和 PPO\n\n| 对比项 | DPO 相比 PPO |\n| --- | --- |\n| 需要奖励模型吗？ | 不需要 |\n"
                                  "| 需要在线采样吗？ | 不需要 |\n"),
    "follow-up label": "## LoRA 初始化\n\nA 随机、B 为零。\n\n**追问：** 为什么 B 要初始化为 0？\n保证训练开始时 ΔW = 0。\n\n**追问：** 秩怎么选？\n一般取 8。\n",
    "question without its mark": "## 为什么 Transformer 要用多头注意力\n\n1. **单头不够吗？**\n   只能学一种关系。\n2. **头越多越好吗？**\n   不是。\n",
    "announced checklist": "## 排查 NaN\n\n按顺序检查：\n\n1. 学习率是不是太大？\n   降一个数量级。\n2. 是否用了 fp16？\n   开 loss scaling。\n",
}


def test_what_a_second_probe_found_stays_as_the_old_parser_read_it():
    for name, text in SECOND_LOOKALIKES.items():
        cards, _ = parse(text)
        assert [c.question for c in cards] == [text.split("\n")[0][3:]], name


def test_a_collections_answer_keeps_its_own_lists_marks_and_nested_questions():
    text = ("## 面试题\n\nQ: PPO 里的 Q 和 A 分别指什么？\nA: 两个函数：\n- Q：动作价值函数 Q(s,a)\n- A：优势函数 A(s,a)\n\n"
            "Q: GAE 的 λ 有什么作用？\nA: 在偏差和方差之间折中。\n")
    cards, _ = parse(text)
    assert [c.question for c in cards] == ["PPO 里的 Q 和 A 分别指什么？", "GAE 的 λ 有什么作用？"]
    assert "- A：优势函数 A(s,a)" in cards[0].answer
    nested = "## LoRA\n\n- **什么是 LoRA？**\n  - 冻结原权重\n  - 为什么 B 初始化为 0？\n  - 保证初始输出不变\n- **秩怎么选？**\n  - 一般取 8 或 16\n"
    cards, _ = parse(nested)
    assert [c.question for c in cards] == ["什么是 LoRA？", "秩怎么选？"] and "为什么 B 初始化为 0？" in cards[0].answer
    matrices = "## LoRA 题\n\n1. A、B 两个矩阵怎么初始化？\n   A：随机高斯初始化；B：零初始化。\n2. 为什么 B 为零？\n   让初始输出不变。\n"
    cards, _ = parse(matrices)
    assert cards[0].answer == "A：随机高斯初始化；B：零初始化。"


def test_runs_of_spaces_after_a_mark_or_a_question_are_read_once():
    """Lines a regular expression could read in many ways (a mark followed by thousands of
    spaces) are still one paragraph of the heading's answer, read in linear time."""
    for line in ("Q" + " " * 3000 + "x", "为什么?" + " " * 100_000 + "x", "问题" + "\u3000" * 60 + "说明"):
        cards, skipped = parse(f"## 题目\n\n{line}\n\n这一行让答案足够长，可以评分。\n")
        assert [c.question for c in cards] == ["题目"] and skipped == []
    unclosed = "## 题目\n\n" + "<details><summary>什么是 MoE？\n稀疏专家层。\n\n" * 3000 + "</details>\n"
    cards, _ = parse(unclosed)
    assert [c.question for c in cards] == ["题目"]
