"""The command-line contract, run as a user would: `python -m tutor ...` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tutor.notes import load_notes

from ..conftest import KNOWLEDGE, ROOT


def run(args, data_dir, knowledge=KNOWLEDGE, stdin=None, timeout=600):
    env = {**os.environ, "TUTOR_DATA_DIR": str(data_dir), "TUTOR_KNOWLEDGE_DIR": str(knowledge)}
    env.pop("TUTOR_CHROMA_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )


def test_full_ingest_reports_every_card_and_a_second_run_embeds_nothing(full_index):
    data, first_output = full_index
    first = json.loads(first_output)
    notes = load_notes(KNOWLEDGE)
    assert set(first) >= {"files", "cards", "chunks", "added", "updated", "removed", "unchanged", "skipped", "seconds"}
    assert first["cards"] == len(notes.cards) >= 150
    assert first["added"] == first["cards"] and first["skipped"] == len(notes.skipped)
    seed_questions = {c.question for c in notes.cards if c.source == "llm_interview_notes.md"}
    assert len(seed_questions) == 5

    second_run = run(["ingest", "--json"], data)
    assert second_run.returncode == 0, second_run.stderr
    second = json.loads(second_run.stdout)
    assert (second["added"], second["updated"], second["removed"]) == (0, 0, 0)
    assert second["unchanged"] == first["cards"] and second["chunks"] == first["chunks"]  # nothing embedded again


def test_ask_json_contract_and_abstention(full_index):
    data, _ = full_index
    result = run(["ask", "Why does a Transformer need positional encoding?", "-k", "2", "--json"], data)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["query"] == "Why does a Transformer need positional encoding?"
    assert 1 <= len(answer["hits"]) <= 2
    hit = answer["hits"][0]
    assert set(hit) == {"id", "question", "path", "source", "line", "score", "answer"}
    assert isinstance(hit["path"], list) and isinstance(hit["line"], int) and hit["answer"]

    off = json.loads(run(["ask", "今天天气怎么样", "--json"], data).stdout)
    assert off["query"] == "今天天气怎么样" and off["hits"] == []
    assert off["why"]["term"] is None and off["why"]["message"] == "我的笔记里没有涉及这个问题。(Not covered by the notes.)"
    unexplained = json.loads(run(["ask", "XGBoost 为什么用二阶泰勒展开", "--json"], data).stdout)
    # "二阶" is in GPTQ's card (second-order information): the notes never explain XGBoost, and say so
    assert unexplained["hits"] == [] and unexplained["why"]["term"] == "XGBoost"
    # ... and name what they do cover nearby: three cards of three topics, GPTQ's among them
    nearest = unexplained["why"]["nearest"]
    assert len(nearest) == 3 and all(set(card) == {"id", "question", "path", "source", "line"} for card in nearest)
    assert len({tuple(card["path"][:1]) for card in nearest}) == 3
    assert any("GPTQ" in card["question"] for card in nearest), nearest
    # PPO's card has "clip" in a formula's name; CLIP itself is the multimodal card's subject
    clip = json.loads(run(["ask", "CLIP 原理是什么", "--json", "-k", "1"], data).stdout)
    assert [hit["source"] for hit in clip["hits"]] == ["multimodal.md"] and "why" not in clip


def test_ask_text_output_says_plainly_when_not_covered(full_index):
    data, _ = full_index
    result = run(["ask", "红烧肉怎么做？"], data)
    assert result.returncode == 0
    assert "没有涉及" in result.stdout and "Not covered" in result.stdout
    assert "nearest topics in the notes" in result.stdout and ".md:" in result.stdout
    covered = run(["ask", "RMSNorm 是什么"], data)
    assert "normalization.md:" in covered.stdout and "RMSNorm" in covered.stdout


def test_ask_batch_prints_one_json_object_per_question(full_index, tmp_path):
    data, _ = full_index
    batch = tmp_path / "questions.txt"
    batch.write_text("什么是 KV Cache？\n\n你好\nWhat is LoRA?\n", encoding="utf-8")
    result = run(["ask", "--batch", str(batch), "--json", "-k", "1"], data)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["什么是 KV Cache？", "你好", "What is LoRA?"]
    assert len(lines[0]["hits"]) == 1 and lines[1]["hits"] == [] and lines[2]["hits"][0]["source"] == "peft.md"


def test_grade_text_names_what_contradicts_the_notes(full_index):
    """Pre-LN's properties said of Post-LN and the reverse: the text output says which of the
    note's statements each contradicts; the JSON keeps the contract's keys."""
    data, _ = full_index
    swapped = ("Pre-LN 在初始化时靠近输出层的参数梯度很大，用大学习率容易发散，所以必须依赖 warm-up；"
               "Post-LN 有一条不经过 LN 的恒等残差主干，梯度在各层间分布更均匀，可以去掉 warm-up。")
    question = "Post-LN 和 Pre-LN 的结构有何区别？两者的梯度行为和训练稳定性有什么不同？"
    result = run(["grade", "--question", question, "--answer", swapped], data)
    assert result.returncode == 0, result.stderr
    flagged = [line for line in result.stdout.splitlines() if "与笔记不符" in line]
    assert any('"Post-LN 有一条不经过 LN 的恒等残差主干"' in line and "of Pre-LN" in line for line in flagged), result.stdout
    result = run(["grade", "--question", question, "--answer", swapped, "--json"], data)
    assert set(json.loads(result.stdout)) == {"question", "card_id", "score", "verdict", "covered", "missed",
                                              "reference", "source"}


def test_grade_names_an_answer_that_denies_the_question_s_premise(full_index):
    """"Why is BatchNorm not used in NLP?" answered "it works better in NLP": the sentence
    earns nothing and the text output says the question asks why it is not used."""
    data, _ = full_index
    answer = ("Actually BatchNorm works better than LayerNorm for NLP: batch statistics are more stable, "
              "variable sentence lengths do not matter, and most large language models use BatchNorm.")
    result = run(["grade", "--question", "Why is BatchNorm not used in NLP?", "--answer", answer], data)
    assert result.returncode == 0, result.stderr
    score = int(result.stdout.split("/100")[0])
    flagged = [line for line in result.stdout.splitlines() if "与笔记不符" in line]
    assert score <= 10 and any("asks why BatchNorm is not used" in line for line in flagged), result.stdout


def test_grade_json_and_batch(full_index, tmp_path):
    data, _ = full_index
    result = run(["grade", "--question", "为什么NLP不用BN？", "--answer",
                  "句子长度不一，padding 后 BN 的统计量不稳定；不同 token 同一维关联不大，跨样本归一化会损失差异。", "--json"], data)
    assert result.returncode == 0, result.stderr
    grade = json.loads(result.stdout)
    assert set(grade) == {"question", "card_id", "score", "verdict", "covered", "missed", "reference", "source"}
    assert isinstance(grade["score"], int) and grade["score"] > 0

    # in text, a question two notes answer (the seed's card, the team's MQA card) shows
    # both notes' points, the second under its own source
    result = run(["grade", "--question", "KV Cache 和 MQA", "--answer",
                  "缓存之前 token 的 K 和 V，解码时不用重算；MQA 让所有头共享一组 K、V，缓存小很多。"], data)
    assert result.returncode == 0, result.stderr
    matched, also = (line for line in result.stdout.splitlines() if line.startswith(("matched:", "also in your notes:")))
    files = {line.split(":", 1)[1].strip().split(":")[0] for line in (matched, also)}
    assert files == {"llm_interview_notes.md", "attention.md"}

    batch = tmp_path / "answers.jsonl"
    batch.write_text(
        json.dumps({"question": "什么是 LoRA？", "answer": "冻结原权重，训练低秩矩阵 A、B，ΔW=BA"}, ensure_ascii=False) + "\n"
        + "not json\n"
        + json.dumps({"question": "为什么需要位置编码？", "answer": "不知道"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    result = run(["grade", "--batch", str(batch), "--json"], data)
    assert result.returncode == 1  # one bad line: reported in place, the rest still graded
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["card_id"].startswith("peft.md#") and lines[0]["score"] > 0
    assert "not JSON" in lines[1]["error"] and lines[1]["line"] == 2
    assert lines[2]["score"] == 0


def test_invalid_utf8_arguments_are_a_clear_error_not_a_traceback(tmp_path):
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data")}
    for args in ([b"ask", b"\xff\xfe attention?"], [b"grade", b"--question", b"LoRA?", b"--answer", b"ok \xc3("],
                 [b"progress", b"--user", b"\xffbob"]):
        result = subprocess.run([sys.executable.encode(), b"-m", b"tutor", *args], cwd=ROOT, env=env,
                                capture_output=True, timeout=120)
        stderr = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 1 and "Traceback" not in stderr, stderr
        assert stderr.startswith("error: ") and ("not valid text" in stderr or "printable" in stderr), stderr


def test_a_bad_line_in_a_batch_fails_alone(full_index, tmp_path):
    data, _ = full_index
    batch = tmp_path / "odd.jsonl"
    batch.write_text("\n".join([
        '{"question": "\\ud800 what is LoRA?", "answer": "low-rank adapters"}',
        json.dumps({"question": "LoRA 的原理是什么？", "answer": "x" * 2001}),
        json.dumps({"question": "LoRA 的核心思想是什么？", "answer": "冻结原权重，只训练低秩矩阵 A、B。"}, ensure_ascii=False),
    ]), encoding="utf-8")
    result = run(["grade", "--batch", str(batch), "--json"], data)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "not valid text" in lines[0]["error"] and lines[0]["line"] == 1
    assert "too long" in lines[1]["error"] and lines[1]["line"] == 2
    assert lines[2]["card_id"].startswith("peft.md#") and lines[2]["score"] > 0
    questions = tmp_path / "questions.txt"
    questions.write_text("什么是 LoRA？\n" + "啊" * 2001 + "\n什么是 RMSNorm？\n", encoding="utf-8")
    asked = run(["ask", "--batch", str(questions), "--json", "-k", "1"], data)
    answers = [json.loads(line) for line in asked.stdout.splitlines()]
    assert asked.returncode == 1 and len(answers) == 3 and "too long" in answers[1]["error"]
    assert answers[0]["hits"] and answers[2]["hits"]


def test_unusable_settings_are_reported(tmp_path):
    env_result = subprocess.run(
        [sys.executable, "-m", "tutor", "ingest"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "TUTOR_DATA_DIR": str(tmp_path), "TUTOR_EMBEDDING": "no-such-model"},
    )
    assert env_result.returncode == 1 and "unknown embedding" in env_result.stderr
    bad_server = subprocess.run(
        [sys.executable, "-m", "tutor", "ingest"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TUTOR_DATA_DIR": str(tmp_path), "TUTOR_CHROMA_URL": "http://127.0.0.1:9"},
    )
    assert bad_server.returncode == 1 and "cannot reach the Chroma server" in bad_server.stderr
    bad_auth = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TUTOR_DATA_DIR": str(tmp_path), "TUTOR_AUTH": "alice-without-password"},
    )
    assert bad_auth.returncode == 1 and "TUTOR_AUTH" in bad_auth.stderr and "Traceback" not in bad_auth.stderr


def test_help_lists_commands_and_settings():
    result = subprocess.run([sys.executable, "-m", "tutor", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for word in ("ingest", "ask", "grade", "progress", "export", "TUTOR_DATA_DIR", "TUTOR_EMBEDDING", "TUTOR_CHROMA_URL",
                 "TUTOR_AUTH"):
        assert word in result.stdout


def test_ingest_reports_skipped_sections_in_text_mode(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## A\n\n#### 好问题？\n这是一个完整的回答内容。\n\n#### 空问题？\nTODO\n", encoding="utf-8")
    (notes / "bad.md").write_bytes("#### caf\xe9".encode("latin-1"))
    result = run(["ingest"], tmp_path / "data", knowledge=notes)
    assert result.returncode == 0, result.stderr
    assert "1 files, 1 cards" in result.stdout
    assert "skipped a.md:6 «空问题？»: TODO stub" in result.stdout
    assert "skipped bad.md: not UTF-8 text" in result.stdout


def test_ask_on_an_empty_index_ingests_first(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## 推理\n\n#### 什么是 KV Cache？\n缓存每层已经算过的 Key 和 Value，避免重复计算。\n", encoding="utf-8")
    result = run(["ask", "KV cache 是什么", "--json"], tmp_path / "data", knowledge=notes)
    assert result.returncode == 0, result.stderr
    assert "ingesting" in result.stderr
    assert json.loads(result.stdout)["hits"][0]["question"] == "什么是 KV Cache？"


def test_grade_with_user_records_and_progress_reports_it(full_index, tmp_path):
    data, _ = full_index
    before = run(["progress", "--user", "cli-ann", "--json"], data)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == {"user": "cli-ann", "attempts": 0, "due": 0, "topics": []}
    graded = run(["grade", "--question", "什么是 LoRA？", "--answer", "不知道", "--user", "cli-ann", "--json"], data)
    assert graded.returncode == 0, graded.stderr
    assert json.loads(graded.stdout)["score"] == 0
    batch = tmp_path / "answers.jsonl"
    batch.write_text(json.dumps({"question": "为什么需要位置编码？",
                                 "answer": "自注意力对输入顺序是置换不变的，不加位置信息就分不清词序，所以要注入位置编码。"},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    assert run(["grade", "--batch", str(batch), "--user", "cli-ann", "--json"], data).returncode == 0

    report = json.loads(run(["progress", "--user", "cli-ann", "--json"], data).stdout)
    assert set(report) == {"user", "attempts", "due", "topics"} and report["user"] == "cli-ann"
    assert report["attempts"] == 2 and report["due"] >= 1  # the failed LoRA card is due at once
    assert len({t["topic"] for t in report["topics"]}) == 2
    for topic in report["topics"]:
        assert set(topic) == {"topic", "attempts", "mastery"} and 0 <= topic["mastery"] <= 1 and topic["attempts"] == 1
    assert report["topics"][0]["mastery"] == 0  # weakest first: the "不知道" answer
    assert json.loads(run(["progress", "--user", "cli-bob", "--json"], data).stdout)["attempts"] == 0
    text = run(["progress", "--user", "cli-ann"], data)
    assert "cli-ann: 2 attempts" in text.stdout

    exported = run(["export", "--user", "cli-ann", "--csv", str(tmp_path / "a.csv"), "--anki", str(tmp_path / "d.apkg")], data)
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "a.csv").read_text(encoding="utf-8-sig").splitlines()) == 3
    assert (tmp_path / "d.apkg").stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["progress"], "--user"),
    (["progress", "--user", "  "], "user name is empty"),
    (["export", "--csv", "x.csv"], "--csv needs --user"),
    (["export", "--user", "ann"], "--csv FILE and/or --anki FILE"),
])
def test_progress_arguments_are_checked(tmp_path, args, message):
    result = run(args, tmp_path / "data")
    assert result.returncode != 0 and message in result.stderr


def test_a_damaged_progress_database_is_a_one_line_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "progress.sqlite3").write_bytes(b"garbage" * 500)
    result = run(["progress", "--user", "ann", "--json"], data)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "progress.sqlite3" in result.stderr
    assert "Traceback" not in result.stderr
    assert (data / "progress.sqlite3").read_bytes() == b"garbage" * 500
