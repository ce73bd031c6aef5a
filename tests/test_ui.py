"""End-to-end: `python app.py` driven in headless Chromium (Debian's, via Playwright).

Screenshots go to artifacts/screenshots/ (ignored by git).
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from .conftest import KNOWLEDGE, ROOT, _free_port

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
UI_NOTES = ("llm_interview_notes.md", "attention.md", "normalization.md")


def start_app(tmp_path_factory, **settings):
    """`python app.py` over a copy of a few note files; yields (url, notes folder)."""
    knowledge = tmp_path_factory.mktemp("ui-notes")
    for name in UI_NOTES:
        shutil.copy(KNOWLEDGE / name, knowledge / name)
    port = _free_port()
    env = {**os.environ, "TUTOR_KNOWLEDGE_DIR": str(knowledge), "TUTOR_DATA_DIR": str(tmp_path_factory.mktemp("ui-data")),
           "TUTOR_PORT": str(port), "TUTOR_HOST": "127.0.0.1", **settings}
    env.pop("TUTOR_CHROMA_URL", None)
    log = open(knowledge.parent / "app.log", "wb")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((knowledge.parent / "app.log").read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        raise RuntimeError("the app did not come up within 300s")
    yield url, knowledge
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_app(tmp_path_factory)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    yield from start_app(tmp_path_factory, TUTOR_AUTH="alice:alice-pw,bob:bob-pw")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def open_page(browser, url, login: tuple[str, str] | None = None) -> Page:
    """A page in its own browser context: a separate visitor with separate cookies."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    if login:
        page.locator("input[type='text']").fill(login[0])
        page.locator("input[type='password']").fill(login[1])
        page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#message textarea", timeout=60_000)
    return page


def open_progress(page: Page) -> str:
    """Open the progress tab and return its headline once it has loaded."""
    page.get_by_role("tab", name="进度 Progress").click()
    page.wait_for_function("document.querySelector('#progress-summary').innerText.includes('进度')", timeout=60_000)
    return page.locator("#progress-summary").inner_text()


def bot_count(page: Page) -> int:
    return page.locator("#chat [data-testid='bot']").count()


def wait_for_reply(page: Page, before: int, new_messages: int = 1) -> str:
    """Wait until `new_messages` more bot messages exist and the last one has rendered
    its text (the element appears before its Markdown is filled in); return that text."""
    page.wait_for_function(
        "([before, wanted]) => { const bots = document.querySelectorAll(\"#chat [data-testid='bot']\");"
        " return bots.length >= before + wanted && bots[bots.length - 1].innerText.trim().length > 0; }",
        arg=[before, new_messages], timeout=90_000,
    )
    return page.locator("#chat [data-testid='bot']").last.inner_text()


def send(page: Page, text: str, expect_reply: bool = True) -> str:
    """Type a message, press Enter, wait for the next bot message; return its text."""
    before = bot_count(page)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")
    return wait_for_reply(page, before) if expect_reply else ""


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_question_gets_answer_with_source_and_related_questions(server, browser):
    url, _ = server
    page = open_page(browser, url)
    reply = send(page, "MQA 和 GQA 有什么区别？")
    assert "来源 source" in reply and "attention.md:" in reply and "Attention" in reply
    assert page.locator("#related").is_visible()
    related = page.locator("#related button").first
    related_question = related.inner_text().strip()
    before = bot_count(page)
    related.click()
    assert related_question[:12] in wait_for_reply(page, before)
    off_topic = send(page, "今天天气怎么样？")
    assert "没有涉及" in off_topic and "nearest topics" in off_topic
    shot(page, "ask")
    page.close()


def test_full_two_question_mock_interview_with_feedback_and_summary(server, browser):
    url, _ = server
    page = open_page(browser, url)
    intro = send(page, "/interview Normalization 2")
    assert "第 1/2 题" in intro
    answers = ["LayerNorm 在特征维度上归一化，不依赖 batch，训练和推理一致。",
               "RMSNorm 去掉了减均值，只除以均方根，计算更省。", "不知道", "不知道", "不知道"]
    replies = []
    for answer in answers:
        reply = send(page, answer)
        replies.append(reply)
        if "面试结束" in reply or page.locator("#summary-table").is_visible():
            break
    transcript = "\n".join(replies)
    assert "得分 score" in transcript and "遗漏的要点" in transcript and "参考答案" in transcript
    assert "第 2/2 题" in transcript
    page.wait_for_selector("#summary-table", state="visible", timeout=30_000)
    page.wait_for_selector("#summary-chart", state="visible", timeout=30_000)
    summary = page.locator("#chat [data-testid='bot']").last.inner_text()
    assert "面试结束" in summary and "平均分" in summary
    assert page.locator("#summary-table").inner_text().count("Normalization") == 2
    shot(page, "interview")
    page.close()


def test_hint_and_skip_buttons(server, browser):
    url, _ = server
    page = open_page(browser, url)
    page.locator("#count input[type='number']").fill("1")
    page.locator("#count input[type='number']").press("Enter")
    before = bot_count(page)
    page.click("#start")
    assert "第 1/1 题" in wait_for_reply(page, before)
    before = bot_count(page)
    page.click("#hint")
    assert "提示 hint" in wait_for_reply(page, before)
    before = bot_count(page)
    page.click("#skip")
    assert "面试结束" in wait_for_reply(page, before, new_messages=2)
    page.close()


def test_upload_adds_a_card_that_can_be_found_and_bad_files_are_refused(server, browser, tmp_path):
    url, knowledge = server
    good = tmp_path / "my_notes.md"
    good.write_text("## 我的专题\n\n#### 什么是梯度裁剪（gradient clipping）？\n"
                    "当梯度范数超过阈值时按比例缩小梯度，防止梯度爆炸导致训练发散。\n", encoding="utf-8")
    bad = tmp_path / "latin.md"
    bad.write_bytes("## x\n\n#### caf\xe9?\nd\xe9j\xe0 vu text here".encode("latin-1"))
    page = open_page(browser, url)
    page.get_by_role("tab", name="知识库 Knowledge").click()
    page.get_by_text("上传笔记 Upload notes").click()
    page.locator("#upload input[type='file']").set_input_files([str(good), str(bad)])
    page.wait_for_timeout(1500)
    page.click("#upload-button")
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('已加入')", timeout=120_000)
    status = page.locator("#upload-status").inner_text()
    assert "my_notes.md" in status and "not UTF-8" in status
    assert (knowledge / "uploads" / "my_notes.md").exists()
    assert not (knowledge / "uploads" / "latin.md").exists()
    shot(page, "upload")
    page.get_by_role("tab", name="对话 Chat").click()
    reply = send(page, "梯度裁剪是干什么的？")
    assert "uploads/my_notes.md" in reply and "梯度爆炸" in reply
    page.close()


def test_script_in_a_message_stays_inert_text(server, browser):
    url, _ = server
    page = open_page(browser, url)
    payload = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> 什么是 RMSNorm？"
    send(page, payload)
    assert page.evaluate("window.__pwned") is None
    user_text = page.locator("#chat [data-testid='user']").last.inner_text()
    assert "<script>" in user_text and "onerror" in user_text
    page.close()


def test_empty_and_overlong_messages(server, browser):
    url, _ = server
    page = open_page(browser, url)
    send(page, "   ", expect_reply=False)
    page.wait_for_timeout(1500)
    assert bot_count(page) == 0 and page.locator("#chat [data-testid='user']").count() == 0
    reply = send(page, "RMSNorm 是什么？" + "啊" * 6000)
    assert "已截断" in reply
    page.close()


def test_two_sessions_do_not_share_state(server, browser):
    url, _ = server
    first = open_page(browser, url)
    second = open_page(browser, url)
    intro = send(first, "/interview Attention 2")
    assert "第 1/2 题" in intro
    reply = send(second, "为什么NLP不用BN？")  # a question, not an answer to the other's interview
    assert "得分 score" not in reply and "llm_interview_notes.md:" in reply
    assert "为什么NLP不用BN" not in first.locator("#chat").inner_text()
    assert "模拟面试" not in second.locator("#chat").inner_text()
    feedback = send(first, "所有头共享 K 和 V")
    assert "得分 score" in feedback
    assert "得分 score" not in second.locator("#chat").inner_text()


def test_api_endpoints_through_gradio_client(server):
    from gradio_client import Client

    url, _ = server
    client = Client(url, verbose=False)
    markdown = client.predict("What is RMSNorm?", api_name="/ask")
    assert "normalization.md:" in markdown and "RMSNorm" in markdown
    grade = client.predict("为什么NLP不用BN？", "句子长度不一，padding 后 BN 统计量不稳定。", api_name="/grade")
    assert set(grade) == {"question", "card_id", "score", "verdict", "covered", "missed", "reference", "source"}
    assert 0 <= grade["score"] <= 100
    assert client.predict("今天天气怎么样", api_name="/ask").startswith("我的笔记里没有涉及")
    assert "error" in client.predict("今天天气怎么样", "晴", api_name="/grade")


def test_progress_tab_shows_due_cards_practise_and_exports(server, browser):
    url, _ = server
    page = open_page(browser, url)
    intro = send(page, "/interview Attention 1")
    question = intro.split("\n")[-1].strip()
    assert "第 1/1 题" in intro and question
    feedback = send(page, "不知道")
    assert "得分 score: 0/100" in feedback
    if "面试结束" not in page.locator("#chat").inner_text():  # a follow-up came first
        send(page, "/skip")
    headline = open_progress(page)
    assert "作答 attempts" in headline and "今天到期" in headline
    page.wait_for_selector("#mastery-chart", state="visible", timeout=30_000)
    page.wait_for_selector("#score-chart", state="visible", timeout=30_000)
    assert question[:15] in page.locator("#due-table").inner_text()  # failed just now: due at once
    assert "Attention" in page.locator("#weak-table").inner_text()
    shot(page, "progress")

    page.click("#export")
    page.wait_for_selector("#export-files a", timeout=60_000)
    links = page.locator("#export-files a").evaluate_all("links => links.map(a => a.href)")
    csv_link = next(link for link in links if link.endswith("attempts-local.csv"))
    deck_link = next(link for link in links if link.endswith("interview-tutor.apkg"))
    with urllib.request.urlopen(csv_link, timeout=30) as response:
        rows = response.read().decode("utf-8-sig").splitlines()
    assert rows[0].startswith("time_utc,user,card_id") and any("不知道" in row for row in rows[1:])
    with urllib.request.urlopen(deck_link, timeout=30) as response:
        deck = zipfile.ZipFile(io.BytesIO(response.read()))
    assert "collection.anki2" in deck.namelist()

    before = bot_count(page)
    page.click("#practise")
    reply = wait_for_reply(page, before)
    assert "开始模拟面试" in reply and page.locator("#message textarea").is_visible()  # back on the chat tab
    page.close()


def test_login_keeps_each_users_progress_private(auth_server, browser):
    url, _ = auth_server
    # no way in without the right password
    page = browser.new_context().new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.locator("input[type='password']").fill("wrong")
    page.locator("input[type='text']").fill("alice")
    page.get_by_role("button", name="Login").click()
    page.get_by_text(re.compile("incorrect credentials", re.I)).wait_for(timeout=30_000)
    assert page.locator("#message textarea").count() == 0
    page.close()

    alice = open_page(browser, url, login=("alice", "alice-pw"))
    assert "第 1/1 题" in send(alice, "/interview Normalization 1")
    assert "得分 score" in send(alice, "LayerNorm 对每个 token 在特征维上归一化，与 batch 无关。")
    headline = open_progress(alice)
    assert "alice 的进度" in headline and "作答 attempts 1" in headline

    bob = open_page(browser, url, login=("bob", "bob-pw"))
    headline = open_progress(bob)
    assert "bob 的进度" in headline and "还没有练习记录" in headline
    for private in ("#weak-table", "#due-table"):
        assert "Normalization" not in bob.locator(private).inner_text()
    assert not bob.locator("#mastery-chart").is_visible() and not bob.locator("#score-chart").is_visible()
    shot(bob, "progress-other-user")

    # the API: nothing without a login; each login sees and changes only its own progress
    from gradio_client import Client

    request = urllib.request.Request(url + "gradio_api/call/progress", data=b'{"data": []}',
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (401, 403)
    as_bob = Client(url, auth=("bob", "bob-pw"), verbose=False)
    as_alice = Client(url, auth=("alice", "alice-pw"), verbose=False)
    assert as_bob.predict(api_name="/progress")["attempts"] == 0
    as_bob.predict("为什么需要位置编码？", "不知道", api_name="/grade")
    assert as_bob.predict(api_name="/progress") == {**as_bob.predict(api_name="/progress"), "user": "bob", "attempts": 1}
    alice_progress = as_alice.predict(api_name="/progress")
    assert alice_progress["user"] == "alice" and alice_progress["attempts"] == 1
    with pytest.raises(Exception):
        Client(url, auth=("alice", "bob-pw"), verbose=False)
