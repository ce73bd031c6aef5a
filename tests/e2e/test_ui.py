"""End-to-end: `python app.py` driven in headless Chromium (Debian's, via Playwright).

Screenshots go to artifacts/screenshots/ (ignored by git).
"""
from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tutor.followups import builds_on
from tutor.grading import grading_points

from ..conftest import HOSTILE_NOTES, KNOWLEDGE, ROOT, _free_port, make_tutor

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
UI_NOTES = ("llm_interview_notes.md", "attention.md", "normalization.md")


@dataclass
class App:
    url: str
    knowledge: Path  # the notes folder it serves
    data: Path  # its TUTOR_DATA_DIR
    files: Path  # Gradio's folder of uploaded and served files (GRADIO_TEMP_DIR)
    serving_seconds: float  # from process start to the first HTTP 200
    indexed_seconds: float  # from process start to "ready:" (the first index complete)


def start_app(tmp_path_factory, **settings):
    """`python app.py` over a copy of a few note files; yields an App once its first
    background index is complete."""
    knowledge = tmp_path_factory.mktemp("ui-notes")
    for name in UI_NOTES:
        shutil.copy(KNOWLEDGE / name, knowledge / name)
    port = _free_port()
    data, files = tmp_path_factory.mktemp("ui-data"), tmp_path_factory.mktemp("ui-gradio-files")
    env = {**os.environ, "TUTOR_KNOWLEDGE_DIR": str(knowledge), "TUTOR_DATA_DIR": str(data),
           "GRADIO_TEMP_DIR": str(files), "TUTOR_PORT": str(port), "TUTOR_HOST": "127.0.0.1", **settings}
    env.pop("TUTOR_CHROMA_URL", None)
    log_path = knowledge.parent / f"app-{port}.log"
    log = open(log_path, "wb")
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    serving = indexed = None
    deadline = started + 300
    while time.monotonic() < deadline and (serving is None or indexed is None):
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        if indexed is None and "ready:" in log_path.read_text():
            indexed = time.monotonic() - started
        if serving is None:
            try:
                urllib.request.urlopen(url, timeout=2)
                serving = time.monotonic() - started
            except OSError:
                pass
        time.sleep(0.25)
    if serving is None or indexed is None:
        process.kill()
        raise RuntimeError(f"the app was not serving an index within 300s:\n{log_path.read_text()}")
    yield App(url, knowledge, data, files, serving, indexed)
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
    """Wait until `new_messages` more bot messages exist and each new one has rendered its
    text (the element appears before its Markdown is filled in); return the text of every
    message that arrived."""
    page.wait_for_function(
        "([before, wanted]) => { const bots = document.querySelectorAll(\"#chat [data-testid='bot']\");"
        " return bots.length >= before + wanted"
        " && Array.from(bots).slice(before).every(b => b.innerText.trim().length > 0); }",
        arg=[before, new_messages], timeout=90_000,
    )
    bots = page.locator("#chat [data-testid='bot']")

    def new_text() -> str:  # one answer can bring two messages at once (the last feedback and the summary)
        return "\n".join(bots.nth(i).inner_text() for i in range(before, bots.count()))

    # a message fills in over several frames (Markdown, then KaTeX for its formulas):
    # read it once it stops changing
    text, deadline = new_text(), time.monotonic() + 30
    while time.monotonic() < deadline:
        page.wait_for_timeout(400)
        settled = new_text()
        if settled == text:
            break
        text = settled
    return text


def send(page: Page, text: str, expect_reply: bool = True) -> str:
    """Type a message, press Enter, wait for the next bot message; return its text."""
    before = bot_count(page)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")
    return wait_for_reply(page, before) if expect_reply else ""


def upload(page: Page, files: list[Path]) -> None:
    """Upload notes through the Knowledge tab and wait for the upload's status line."""
    page.get_by_role("tab", name="知识库 Knowledge").click()
    page.get_by_text("上传笔记 Upload notes").click()
    page.locator("#upload input[type='file']").set_input_files([str(f) for f in files])
    page.wait_for_timeout(1500)
    page.click("#upload-button")
    page.wait_for_function("/[✓✗]/.test(document.querySelector('#upload-status').innerText)", timeout=120_000)


def choose_topic(page: Page, topic: str, timeout: float = 120_000) -> None:
    """Pick a topic in the Knowledge tab's filter, waiting for it to be offered."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        page.locator("#topic-filter input").click()
        option = page.get_by_role("option", name=topic)
        if option.count():
            option.first.click()
            return
        page.locator("#card-count").click()  # close the list: it opens again on the next focus
        assert time.monotonic() < deadline, (f"topic {topic!r} never offered: "
                                             f"{page.locator('#card-count').inner_text()}")
        page.wait_for_timeout(1000)


class ApiSession:
    """Raw HTTP to the app's API, as any script could send it (cookies kept for logins)."""

    def __init__(self, url: str, login: tuple[str, str] | None = None) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        if login:
            status, body = self.login(*login)
            assert status == 200, body

    def login(self, user: str, password: str, headers: dict | None = None) -> tuple[int, str]:
        form = urllib.parse.urlencode({"username": user, "password": password}).encode()
        request = urllib.request.Request(self.url + "login", data=form, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.url + path, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def call(self, name: str, data: list):
        request = urllib.request.Request(f"{self.url}gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                         headers={"Content-Type": "application/json"})
        with self.opener.open(request, timeout=30) as response:
            event = json.loads(response.read())["event_id"]
        with self.opener.open(f"{self.url}gradio_api/call/{name}/{event}", timeout=300) as response:
            stream = response.read().decode()
        assert "event: complete" in stream, stream[-500:]
        return json.loads(stream.split("data: ")[-1])[0]


def call_api(url: str, name: str, data: list):
    return ApiSession(url).call(name, data)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_page_serves_before_the_notes_are_indexed(server):
    # the model loads, the page serves, then the first index (three files) completes
    assert server.serving_seconds < server.indexed_seconds


def test_question_gets_answer_with_source_and_related_questions(server, browser):
    url = server.url
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
    url = server.url
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
    cells = [cell.strip() for cell in page.locator("#summary-table").inner_text().split("\n")]
    assert cells.count("Normalization") == 2  # the topic column, one row per question
    shot(page, "interview")
    page.close()


def test_hint_and_skip_buttons(server, browser):
    url = server.url
    page = open_page(browser, url)
    page.locator("#count input[type='number']").fill("1")
    page.locator("#count input[type='number']").press("Enter")
    before = bot_count(page)
    page.click("#start")
    assert "第 1/1 题" in wait_for_reply(page, before)
    before = bot_count(page)
    page.click("#hint")
    hint = wait_for_reply(page, before)
    assert hint.startswith("💡 想想") and hint.endswith(("。", "？"))  # a sentence naming a direction
    before = bot_count(page)
    page.click("#skip")
    assert "面试结束" in wait_for_reply(page, before, new_messages=2)
    page.close()


@pytest.fixture(scope="module")
def grader_like_the_server(server, e5, tmp_path_factory):
    """The server's notes graded in this process, to pick answers that land in a band."""
    tutor = make_tutor(server.knowledge, tmp_path_factory.mktemp("grader-data"), e5)
    tutor.ingest()
    return tutor


def _card_asked(tutor, shown: str):
    """The card whose question the chat shows (its LaTeX is rendered, so match the text
    before the first formula)."""
    def plain(text):
        return re.sub(r"\W", "", text.split("$")[0])
    return next(c for c in tutor.retriever.cards if plain(c.question) and plain(c.question) in re.sub(r"\W", "", shown))


def _answer_in_band(tutor, card, low: int, high: int) -> str | None:
    first = card.key_points[0]
    points = grading_points(card)
    # the whole answer, then fewer and fewer of the points it is graded on, then single points
    # and neighbouring pairs: the score falls roughly with them, so one lands in each band
    candidates = [card.answer, *("；".join(points[:n]) for n in range(len(points), 0, -1)),
                  *points, *("；".join(pair) for pair in zip(points, points[1:])), first[: max(8, len(first) // 3)],
                  card.question.rstrip("？?") + "，我记得和训练稳定有关，具体不太清楚。", card.key_points[-1][:20]]
    return next((answer for answer in candidates
                 if low <= tutor.grader.grade(card, answer, question=card.question).score < high), None)


def _can_go_deeper(tutor, card, asked: set[str], unseen_planned: int) -> bool:
    """Some card builds on `card` whatever the interview's questions still to come are
    (the interviewer never takes one of them as a deeper question): more such cards than
    questions still to come."""
    skip = set(asked)
    for _ in range(unseen_planned + 1):
        deeper = builds_on(card, tutor.retriever.index, skip)
        if deeper is None:
            return False
        skip.add(deeper.id)
    return True


# the interviewer's three moves after a main answer: (score band, what it says)
FOLLOW_UPS = {"deeper": (70, 101, "答得不错，往深一层问："), "missed": (50, 70, "追问："),
              "correction": (1, 50, "这个回答和笔记的要点差得比较远")}


def test_a_three_question_interview_follows_up_like_an_interviewer(server, browser, grader_like_the_server):
    """A good answer is taken one level deeper, a partial one is asked about its most
    important missed point, a wrong one hears what the notes say; the summary says what
    to study next and offers the weak questions again. Questions come in random order, so
    each gets the first move still to test that it allows (a card nothing in the notes
    builds on cannot be taken deeper: the interviewer moves on, as documented)."""
    tutor = grader_like_the_server
    page = open_page(browser, server.url)
    prompt = send(page, "/interview Normalization 3")
    to_test, asked = list(FOLLOW_UPS), set()
    for number in (1, 2, 3):
        assert f"第 {number}/3 题" in prompt
        card = _card_asked(tutor, prompt.split("题 · Normalization")[-1])
        asked.add(card.id)
        for move in to_test:
            low, high, follow_up = FOLLOW_UPS[move]
            answer = _answer_in_band(tutor, card, low, high)
            if answer is not None and (move != "deeper" or _can_go_deeper(tutor, card, asked, 3 - number)):
                break
        else:
            raise AssertionError(f"none of {to_test} can be tested on {card.question}")
        to_test.remove(move)
        reply = send(page, answer)
        graded = re.search(r"得分 score: (\d+)/100", reply)
        assert graded, f"question {number} ({card.question}) got no grade: {reply[-600:]}"
        score = int(graded.group(1))
        assert low <= score < high and follow_up in reply, reply[-400:]
        asked_next = reply.split("---")[-1] if "---" in reply else reply
        assert not re.search(r"「[a-z0-9]{1,3}[、」]", asked_next)  # no lower-cased fragments
        shot(page, f"interview-follow-up-{move}")
        prompt = send(page, "/skip")  # the follow-up, given up: on to the next question
    assert "面试结束" in prompt and "下一步复习 study next" in prompt
    page.wait_for_selector("#again", state="visible", timeout=30_000)
    shot(page, "interview-summary")
    before = bot_count(page)
    page.click("#again")
    assert "共 2 题" in wait_for_reply(page, before)  # the partial and the wrong one, again
    page.close()


def test_upload_adds_a_card_that_can_be_found_and_bad_files_are_refused(server, browser, tmp_path):
    url, knowledge = server.url, server.knowledge
    good = tmp_path / "my notes.md"
    good.write_text("## 我的专题\n\n#### 什么是梯度裁剪（gradient clipping）？\n"
                    "当梯度范数超过阈值时按比例缩小梯度，防止梯度爆炸导致训练发散。\n", encoding="utf-8")
    bad = tmp_path / "latin.md"
    bad.write_bytes("## x\n\n#### caf\xe9?\nd\xe9j\xe0 vu text here".encode("latin-1"))
    page = open_page(browser, url)
    page.get_by_role("tab", name="知识库 Knowledge").click()
    page.wait_for_function("document.querySelector('#card-count').innerText.includes('cards')", timeout=60_000)
    count_before = page.locator("#card-count").inner_text()
    upload(page, [good, bad])
    status = page.locator("#upload-status").inner_text()
    assert "my%20notes.md" in status and "not UTF-8" in status and "后台索引" in status
    assert (knowledge / "uploads" / "local" / "my%20notes.md").exists()
    assert not list((knowledge / "uploads").rglob("latin*"))
    # indexing runs in the background; the card list refreshes by itself when it is done
    page.wait_for_function("(before) => { const now = document.querySelector('#card-count').innerText;"
                           " return now.includes('cards') && now !== before; }", arg=count_before, timeout=120_000)
    shot(page, "upload")
    page.get_by_role("tab", name="对话 Chat").click()
    reply = send(page, "梯度裁剪是干什么的？")
    assert "uploads/local/my%20notes.md" in reply and "梯度爆炸" in reply
    page.close()


def test_script_in_a_message_stays_inert_text(server, browser):
    url = server.url
    page = open_page(browser, url)
    payload = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> 什么是 RMSNorm？"
    send(page, payload)
    assert page.evaluate("window.__pwned") is None
    user_text = page.locator("#chat [data-testid='user']").last.inner_text()
    assert "<script>" in user_text and "onerror" in user_text
    page.close()


def test_empty_and_overlong_messages(server, browser):
    url = server.url
    page = open_page(browser, url)
    send(page, "   ", expect_reply=False)
    page.wait_for_timeout(1500)
    assert bot_count(page) == 0 and page.locator("#chat [data-testid='user']").count() == 0
    overlong = "RMSNorm 是什么？" + "啊" * 2000
    send(page, overlong, expect_reply=False)
    page.get_by_text("too long").first.wait_for(timeout=30_000)  # one limit, one message (a toast)
    assert bot_count(page) == 0 and page.locator("#message textarea").input_value() == overlong  # nothing lost
    page.close()


def test_two_sessions_do_not_share_state(server, browser):
    url = server.url
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

    url = server.url
    client = Client(url, verbose=False)
    answer = client.predict("What is RMSNorm?", api_name="/ask")
    assert set(answer) == {"query", "hits"} and answer["hits"][0]["source"] == "normalization.md"
    assert "RMSNorm" in answer["hits"][0]["question"] + answer["hits"][0]["answer"]
    grade = client.predict("为什么NLP不用BN？", "句子长度不一，padding 后 BN 统计量不稳定。", api_name="/grade")
    assert set(grade) == {"question", "card_id", "score", "verdict", "covered", "missed", "reference", "source"}
    assert 0 <= grade["score"] <= 100
    declined = client.predict("今天天气怎么样", api_name="/ask")
    assert declined["hits"] == [] and declined["why"]["message"].startswith("我的笔记里没有涉及")
    assert "no card in the notes matches" in client.predict("今天天气怎么样", "晴", api_name="/grade")["error"]


def test_odd_api_input_is_a_clear_error_for_that_input_only(server):
    """Raw HTTP, as any script could send: lone surrogates, numbers, lists, objects, empty
    or overlong text. Each is refused with its own message; nothing is recorded."""
    before = call_api(server.url, "progress", [])["attempts"]
    for name, data, message in [
        ("ask", ["\ud800 what is RMSNorm?"], "not valid text"), ("ask", [12], "must be text, not int"),
        ("ask", [["a"]], "must be text, not list"), ("ask", [{"q": 1}], "must be text, not dict"),
        ("ask", [None], "is missing"), ("ask", ["啊" * 2001], "too long"),
        ("grade", ["为什么NLP不用BN？", ""], "the answer is empty"), ("grade", ["为什么NLP不用BN？", "  "], "empty"),
        ("grade", ["\udcff", "答案"], "not valid text"), ("grade", ["为什么NLP不用BN？", 5], "must be text, not int"),
        ("grade", ["为什么NLP不用BN？", "啊" * 2001], "too long"),
    ]:
        assert message in call_api(server.url, name, data)["error"], (name, data)
    assert call_api(server.url, "progress", [])["attempts"] == before
    assert call_api(server.url, "ask", ["什么是 RMSNorm？"])["hits"]  # the server is fine


def test_progress_tab_shows_due_cards_practise_and_exports(server, browser):
    url = server.url
    page = open_page(browser, url)
    intro = send(page, "/interview Attention 1")
    question = intro.split("\n")[-1].strip()
    assert "第 1/1 题" in intro and question
    send(page, "不知道")  # nothing to follow up: the interview ends with this answer
    chat = page.locator("#chat").inner_text()
    assert "得分 score: 0/100" in chat and "面试结束" in chat
    headline = open_progress(page)
    assert "作答 attempts" in headline and "今天到期" in headline
    page.wait_for_selector("#mastery-chart", state="visible", timeout=30_000)
    page.wait_for_selector("#score-chart", state="visible", timeout=30_000)
    assert question[:15] in page.locator("#due-table").inner_text()  # failed just now: due at once
    assert "Attention" in page.locator("#weak-table").inner_text()
    shot(page, "progress")

    with page.expect_download(timeout=60_000) as download:
        page.click("#export")
    assert download.value.suggested_filename == "attempts.csv"
    rows = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("time_utc,user,card_id") and any("不知道" in row for row in rows[1:])
    page.wait_for_selector("#export-files a", timeout=60_000)
    links = page.locator("#export-files a").evaluate_all("links => links.map(a => a.href)")
    deck_link = next(link for link in links if link.endswith("interview-tutor.apkg"))
    with urllib.request.urlopen(deck_link, timeout=30) as response:
        deck = zipfile.ZipFile(io.BytesIO(response.read()))
    assert "collection.anki2" in deck.namelist()

    before = bot_count(page)
    page.click("#practise")
    reply = wait_for_reply(page, before)
    assert "开始模拟面试" in reply and page.locator("#message textarea").is_visible()  # back on the chat tab
    page.close()


def test_login_keeps_each_users_progress_private(auth_server, browser):
    url = auth_server.url
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
    bob_progress = as_bob.predict(api_name="/progress")
    assert bob_progress["user"] == "bob" and bob_progress["attempts"] == 1 and bob_progress["due"] == 1
    alice_progress = as_alice.predict(api_name="/progress")
    assert alice_progress["user"] == "alice" and alice_progress["attempts"] == 1
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("alice", "bob-pw"), verbose=False)
    Client(url, auth=("alice", "alice-pw"), verbose=False)  # a success clears the failure


HOSTILE = HOSTILE_NOTES
HOSTILE_QUESTIONS = ("未闭合的反引号里的 SVG 和视频会被当成 HTML 吗？", "Markdown 图片和链接会被加载吗？",
                     "代码块里的美元符号会打乱公式渲染吗？", "标题里的 HTML 会执行吗？")
# Attributes that make a browser fetch, navigate or run something; a link's href is only
# followed when clicked, and the payload's links are shown as links on purpose.
OUTSIDE_REFERENCES = """() => {
  const fetching = new Set(['src', 'srcset', 'poster', 'data', 'background', 'action', 'formaction',
                            'xlink:href', 'style', 'href']);
  const found = [];
  for (const element of document.querySelectorAll('#chat *, #card-view *, #cards *')) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith('on')) found.push(element.tagName + ' ' + name);
      if (fetching.has(name) && /evil\\.test/.test(attribute.value) && !(element.tagName === 'A' && name === 'href'))
        found.push(element.tagName + ' ' + name + '=' + attribute.value);
    }
  }
  return found;
}"""


def test_notes_uploaded_by_one_user_stay_inert_in_another_users_browser(auth_server, browser):
    """alice uploads the payload suite; bob reads it everywhere it shows (a fresh page's card
    list, the card view, chat answers, an interview's reference, his own message). Nothing
    runs, no element points elsewhere, and no request leaves 127.0.0.1."""
    url = auth_server.url
    alice = open_page(browser, url, login=("alice", "alice-pw"))
    upload(alice, [HOSTILE])
    assert "已加入" in alice.locator("#upload-status").inner_text()
    choose_topic(alice, "载荷 Payloads")  # the card list and its topics refresh when indexing is done
    alice.wait_for_function("document.querySelector('#cards').innerText.includes('代码块里的美元符号')", timeout=60_000)
    alice.close()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests, console = [], []
    context.on("request", lambda request: requests.append(f"{request.url} ({request.resource_type})"))
    bob = context.new_page()
    bob.on("console", lambda message: console.append(message.text))
    bob.goto(url, wait_until="domcontentloaded")
    bob.locator("input[type='text']").fill("bob")
    bob.locator("input[type='password']").fill("bob-pw")
    bob.get_by_role("button", name="Login").click()
    bob.wait_for_selector("#message textarea", timeout=60_000)
    bob.get_by_role("tab", name="知识库 Knowledge").click()
    # a newly opened page knows the notes as they are now: the uploaded topic is offered
    choose_topic(bob, "载荷 Payloads")
    bob.wait_for_function("document.querySelector('#cards').innerText.includes('代码块里的美元符号')", timeout=60_000)
    for question in HOSTILE_QUESTIONS:  # searched one by one: a long table only renders what is in view
        bob.locator("#search input, #search textarea").first.fill(question[:12])
        bob.locator("#search input, #search textarea").first.press("Enter")
        cell = bob.locator("#cards").get_by_text(question[:12]).filter(visible=True).first
        cell.wait_for(timeout=30_000)
        cell.click()
        bob.wait_for_function("(q) => document.querySelector('#card-view').innerText.includes(q)",
                              arg=question[:12], timeout=30_000)
    shot(bob, "hostile-card-view")
    bob.get_by_role("tab", name="对话 Chat").click()
    for question in HOSTILE_QUESTIONS:
        assert "来源 source: uploads/alice/hostile_notes.md" in send(bob, question)
    send(bob, "<img src=http://evil.test/message.png> ![m](http://evil.test/message2.png) 什么是 MQA？")
    assert "第 1/4 题" in send(bob, "/interview 载荷 Payloads 4")
    assert "参考答案" in send(bob, "不知道")
    bob.get_by_text("参考答案 reference").last.click()  # unfold the reference
    bob.wait_for_timeout(1000)
    shot(bob, "hostile-chat")

    assert bob.evaluate("window.__pwned") is None
    assert bob.evaluate(OUTSIDE_REFERENCES) == []
    assert "evil.test" in bob.locator("#chat").inner_text()  # shown, as text
    outside = [r for r in requests if not r.startswith(("http://127.0.0.1:", "data:", "blob:"))]
    assert outside == []
    assert not [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    context.close()


def test_exports_reach_only_their_owner(auth_server, browser):
    """The attempts CSV goes from alice's own event straight into her download; no file of
    hers sits on any route. bob asking for the paths the old exports used gets nothing."""
    secret = "alice 的独特答案 7f3a9c"
    as_alice = ApiSession(auth_server.url, login=("alice", "alice-pw"))
    assert as_alice.call("grade", ["为什么需要位置编码？", secret])["score"] >= 0
    page = open_page(browser, auth_server.url, login=("alice", "alice-pw"))
    open_progress(page)
    with page.expect_download(timeout=60_000) as download:
        page.click("#export")
    assert secret in Path(download.value.path()).read_text(encoding="utf-8-sig")
    page.close()

    # what the old exports left behind, at the old predictable place
    old = auth_server.data / "exports" / "attempts-alice.csv"
    old.parent.mkdir(exist_ok=True)
    old.write_text(secret, encoding="utf-8")
    as_bob = ApiSession(auth_server.url, login=("bob", "bob-pw"))
    relative = os.path.relpath(old, ROOT)
    for path in (str(old), relative, f"{relative.split('/')[0]}/../{relative}", "/" + str(old).lstrip("/"),
                 f"{auth_server.files}/../{os.path.relpath(old, auth_server.files.parent)}"):
        status, body = as_bob.get("gradio_api/file=" + urllib.parse.quote(path))
        assert status != 200 and secret.encode() not in body, (path, status)
    old.unlink()
    # no copy of her answers anywhere a file route serves from
    for folder in (auth_server.files, auth_server.data):
        for file in folder.rglob("*"):
            if file.is_file() and not file.name.startswith("progress.sqlite3"):
                assert secret.encode() not in file.read_bytes(), file


def test_one_users_burst_is_refused_not_queued_and_others_are_served(auth_server):
    """alice fires six long grades at once: two run, the rest are refused at once (they would
    hold workers others need); bob's question meanwhile is answered."""
    long_answer = "位置编码让模型区分词序：自注意力本身对排列不变，正弦编码给每个位置一个确定的向量。" * 40
    results, errors = [], []
    # logged in first, one after another: six logins at once count as six pending failures
    # until each succeeds, and a loaded machine would see the throttle refuse the sixth
    sessions = [ApiSession(auth_server.url, login=("alice", "alice-pw")) for _ in range(6)]

    def grade(session):
        try:
            results.append(session.call("grade", ["为什么需要位置编码？", long_answer[:2000]]))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=grade, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    answer = ApiSession(auth_server.url, login=("bob", "bob-pw")).call("ask", ["什么是 RMSNorm？"])
    for thread in threads:
        thread.join(300)
    assert not errors and answer["hits"]
    refused = [r for r in results if "requests running" in r.get("error", "")]
    graded = [r for r in results if "score" in r]
    assert refused and graded and len(refused) + len(graded) == 6


def test_repeated_failed_logins_back_off(auth_server):
    session = ApiSession(auth_server.url)
    for _ in range(5):
        assert session.login("alice", "guess")[0] == 400
    status, body = session.login("alice", "alice-pw")  # the right password: it waits too
    assert status == 400 and "Too many failed logins" in body
    assert session.login("bob", "bob-pw")[0] == 200  # another user at the same address is not locked
    # guesses sent at once count as they arrive: five are looked at, the rest refused unseen
    replies: list[str] = []
    threads = [threading.Thread(target=lambda: replies.append(ApiSession(auth_server.url).login("bob", "x")[1]))
               for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == 30 and sum("Incorrect credentials" in reply for reply in replies) == 5
    time.sleep(1.2)  # the first wait is one second
    assert session.login("alice", "alice-pw")[0] == 200


def test_an_address_cannot_be_changed_by_a_header(auth_server):
    """X-Forwarded-For is the client's to write: the address is the socket's."""
    replies = []
    for i in range(25):
        spoofed = {"X-Forwarded-For": f"10.0.{i}.1"}
        replies.append(ApiSession(auth_server.url).login(f"nobody{i}", "x", headers=spoofed)[1])
    assert sum("Incorrect credentials" in reply for reply in replies) <= 20  # one address: 20 free, then waits
    assert "Too many failed logins" in replies[-1]
