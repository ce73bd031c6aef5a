"""The tutor's web UI: `python app.py` serves on TUTOR_HOST:TUTOR_PORT (127.0.0.1:7860).

A thin Gradio adapter over `tutor.service.Tutor`: every decision (retrieval, follow-ups,
grading, interview flow, scheduling, upload checks) lives in the core; this file only
turns results into chat messages, tables and charts, and keeps per-browser-session state.
Everything shown is built by `tutor.ui.render` (notes and messages stay inert text).

The page opens at once: the notes are indexed in the background (progress at the top of
the page) and questions are answered from the previous index meanwhile.

With TUTOR_AUTH set, every page and API call needs a login and works on the logged-in
user's progress only (the user comes from the login, never from a request parameter);
without it everything belongs to one local user.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an offline tool phones no one

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from tutor.conversation import Conversation  # noqa: E402
from tutor.errors import Busy, IndexNotReady, TutorError  # noqa: E402
from tutor.indexing import IndexingStatus  # noqa: E402
from tutor.interview import Feedback, Interview  # noqa: E402
from tutor.limits import LoginThrottle, RequestLimiter, check_text  # noqa: E402
from tutor.notes import Card, NotesError  # noqa: E402
from tutor.progress import LOCAL_USER, ProgressError, utc  # noqa: E402
from tutor.service import GradeNotSaved, InputError, Tutor  # noqa: E402
from tutor.settings import Settings, SettingsError  # noqa: E402
from tutor.ui import render  # noqa: E402
from tutor.ui.server import InertPages, ThrottledLogins  # noqa: E402
from tutor.users import Accounts, AuthError  # noqa: E402

LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]
HELP = (
    "直接提问即可，例如「为什么需要位置编码？」；追问可以说「详细一点」或「那 MQA 呢？」。\n\n"
    "模拟面试：点击下方「开始模拟面试」，或输入 `/interview`（可加主题和题数，如 `/interview Attention 3`）。"
    "面试中可输入 `/hint` 提示、`/skip` 跳过、`/end` 结束。到期复习的卡片优先，其次是薄弱主题，然后是新题。"
)
PRACTISE_COUNT = 5
REQUESTS_PER_USER = 2
INTERVIEW_COMMANDS = ("/hint", "/提示", "/skip", "/跳过", "/end", "/结束")
CSS = """
.gradio-container {max-width: 1100px !important; margin: auto;}
#related .label {font-weight: 600;}
"""
# The attempts CSV goes from the event's response straight into a download in that user's
# browser: it is never a file on a route another user could ask for.
DOWNLOAD_CSV_JS = """(text) => {
  if (!text) return [];
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], {type: 'text/csv;charset=utf-8'}));
  link.download = 'attempts.csv';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return [];
}"""


# display helpers --------------------------------------------------------------------
def status_html(status: IndexingStatus) -> str:
    """The line at the top of the page while the notes are being indexed."""
    if status.running:
        done = f"{status.done}/{status.total} 段 chunks" if status.total else "检查笔记 checking the notes"
        eta = f" · 约 {status.eta_seconds:.0f} 秒 about {status.eta_seconds:.0f} s left" if status.eta_seconds else ""
        waiting = "" if status.ready else "；首次索引完成前暂不能回答 (questions wait for the first index)"
        return render.message(render.paragraph(f"⏳ 正在索引笔记 indexing the notes: {done}{eta}{waiting}"))
    if status.error:
        return render.message(render.error(f"索引失败 indexing failed: {status.error}"))
    return ""


def end_of_today() -> datetime:
    """Cards due before the server's local midnight count as "due today"."""
    local = datetime.now().astimezone()
    return utc(local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


def summary_frames(interview: Interview) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    summary = interview.summary()
    table = pd.DataFrame([
        {"#": r.number, "问题": render.inline_html(r.question), "主题": r.topic,
         "得分": r.score if r.score is not None else "跳过",
         "追问": r.follow_up_score if r.follow_up_score is not None else "", "评价": r.verdict}
        for r in summary.rows
    ])
    chart = pd.DataFrame({"题 question": [f"Q{r.number}" for r in summary.rows],
                          "得分 score": [r.score or 0 for r in summary.rows]})
    return render.summary_html(summary), table, chart


def card_table(cards: list[Card]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"问题 question": render.inline_html(c.question), "主题 path": " > ".join(c.path),
          "来源 source": f"{c.source}:{c.line}", "难度 difficulty": c.difficulty or ""} for c in cards],
        columns=["问题 question", "主题 path", "来源 source", "难度 difficulty"],
    )


def progress_frames(tutor: Tutor, user: str):
    """Everything the progress tab shows, for one user."""
    report = tutor.progress_report(user)
    attempts = [a for a in tutor.attempts(user) if a.kind == "question"]
    due = tutor.due_cards(user, end_of_today())
    weakest = tutor.weakest_cards(user, PRACTISE_COUNT)
    title = f"<h3>{render.escape(user)} 的进度 · Progress</h3>"
    if report.attempts:
        lines = [title, f"<p>作答 attempts <strong>{report.attempts}</strong> · 现在到期 due now <strong>{report.due}</strong>"
                        f" · 今天到期 due today <strong>{len(due)}</strong></p>"]
        if report.topics:
            lines.append(render.paragraph("最薄弱的主题 weakest topics：" + "、".join(t.topic for t in report.topics[:3])))
        headline = render.message(*lines)
    else:
        headline = render.message(title, render.paragraph(
            "还没有练习记录。在「对话」里开始一次模拟面试吧。No practice yet: start a mock interview in the Chat tab."))
    mastery = pd.DataFrame({"主题 topic": [t.topic for t in report.topics],
                            "掌握度 mastery %": [round(t.mastery * 100) for t in report.topics]})
    scores = pd.DataFrame({"时间 time": [a.at.astimezone().replace(tzinfo=None) for a in attempts],
                           "得分 score": [a.score if a.score is not None else 0 for a in attempts]})
    due_rows = pd.DataFrame(
        [{"问题 question": render.inline_html(c.question), "主题 topic": c.topic,
          "到期 due": s.due.astimezone().strftime("%m-%d %H:%M"), "上次 last": "跳过" if s.last_score is None else s.last_score}
         for c, s in due],
        columns=["问题 question", "主题 topic", "到期 due", "上次 last"])
    weak_rows = pd.DataFrame(
        [{"问题 question": render.inline_html(c.question), "主题 topic": c.topic,
          "上次 last": "跳过" if s.last_score is None else s.last_score, "复习 reviews": s.reviews}
         for c, s in weakest],
        columns=["问题 question", "主题 topic", "上次 last", "复习 reviews"])
    return headline, mastery, scores, due_rows, weak_rows, [c.id for c, _ in weakest]


# session state -------------------------------------------------------------------------
@dataclass
class Session:
    """Per-browser-session state (gr.State gives every visitor their own)."""

    user: str
    last_card: Card | None = None
    interview: Interview | None = None
    practise_ids: list[str] = field(default_factory=list)  # the weakest cards the progress tab shows
    shown_cards: list[str] = field(default_factory=list)  # the card ids of the knowledge table's rows


def build_app(tutor: Tutor, accounts: Accounts | None = None) -> gr.Blocks:
    limiter = RequestLimiter(REQUESTS_PER_USER)

    def user_of(request: gr.Request | None) -> str:
        if accounts is None:
            return LOCAL_USER
        name = getattr(request, "username", None)
        if not name or name not in accounts.passwords:
            raise gr.Error("请先登录 Please log in")
        return name

    def caller(request: gr.Request | None) -> str:
        """Whose share of the server a request uses: the login, or (without logins) the
        browser session."""
        if accounts is not None:
            return "user:" + user_of(request)
        return "session:" + str(getattr(request, "session_hash", None) or "unknown")

    def limited(handler, on_busy):
        """At most REQUESTS_PER_USER requests per caller at once; more are refused at once
        (waiting would hold a worker that other users need). The wrapper keeps the
        handler's signature: Gradio reads it to pass the request and the API schema."""
        @functools.wraps(handler)
        def run(*args, **kwargs):
            request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
            try:
                with limiter.hold(caller(request)):
                    return handler(*args, **kwargs)
            except Busy as error:
                return on_busy(error)
        return run

    def busy_toast(error: Busy):
        raise gr.Error(f"请稍候 busy: {error}")

    def guarded(handler):
        return limited(handler, busy_toast)

    def api_guarded(handler):
        return limited(handler, lambda error: {"error": str(error)})

    def session_of(state: Session | None, request: gr.Request | None) -> Session:
        user = user_of(request)
        # a tab's state never carries over to another login
        return state if isinstance(state, Session) and state.user == user else Session(user)

    def user_bubble(message: str) -> dict:
        return {"role": "user", "content": render.message(render.markdown_html(message))}

    def bot(content: str) -> dict:
        return {"role": "assistant", "content": content}

    def unchanged_chat(history, session, text=""):
        return history, text, session, gr.update(), gr.update(), gr.update()

    # chat ----------------------------------------------------------------------------
    def on_message(message, history, state, request: gr.Request):
        session = session_of(state, request)
        history = list(history or [])
        if not (message or "").strip():
            gr.Info("请输入一个问题或回答。Please type a question or an answer.")
            return unchanged_chat(history, session)
        try:
            message = check_text(message, "the message")
        except InputError as error:  # the text stays in the box, to be shortened
            gr.Warning(f"{error}")
            return unchanged_chat(history, session, message)
        command = message.split()[0].lower()
        if command in ("/interview", "/面试"):
            history.append(user_bubble(message))
            rest = message.split(None, 1)[1] if " " in message else ""
            number = re.search(r"(?<!\S)(\d{1,2})(?!\S)", rest)
            count = int(number.group(1)) if number else 3
            rest = (rest[: number.start()] + rest[number.end():]) if number else rest
            try:
                names = sorted((name for name, _ in tutor.topics()), key=len, reverse=True)
            except IndexNotReady as error:
                history.append(bot(render.message(render.error(str(error)))))
                return unchanged_chat(history, session)
            topics = [name for name in names if name.lower() in rest.lower()]
            if rest.strip() and not topics:
                history.append(bot(render.message(render.paragraph(
                    f"没有找到主题「{rest.strip()}」。可选主题 topics: " + "、".join(names)))))
                return unchanged_chat(history, session)
            return start(history, session, topics, count)
        if command in ("/help", "/帮助"):
            history += [user_bubble(message), bot(render.markdown_html(HELP))]
            return unchanged_chat(history, session)
        if session.interview is not None and not session.interview.finished:
            return interview_turn(message, history, session)
        if command in INTERVIEW_COMMANDS:
            history += [user_bubble(message), bot(render.message(render.paragraph(
                "当前没有进行中的模拟面试。No interview in progress: start one first.")))]
            return unchanged_chat(history, session)
        history.append(user_bubble(message))
        try:
            conversation = Conversation(tutor.retriever, session.last_card)
            reply = conversation.ask(message, k=3)
        except IndexNotReady as error:
            history.append(bot(render.message(render.error(str(error)))))
            return unchanged_chat(history, session)
        session.last_card = conversation.last_card
        history.append(bot(render.reply_html(reply)))
        related = [[c.question] for c in reply.related] if reply.kind != "not-covered" else []
        return history, "", session, gr.update(samples=related, visible=bool(related)), gr.update(), gr.update()

    def interview_turn(message, history, session):
        interview = session.interview
        lowered = message.lower()
        history.append(user_bubble(message))
        if lowered in ("/hint", "提示", "/提示"):
            history.append(bot(render.message(render.paragraph(f"提示 hint：可以从「{interview.hint()}」这些方面展开。"))))
            return unchanged_chat(history, session)
        if lowered in ("/skip", "跳过", "/跳过"):
            following, not_saved = interview.skip()
            parts = [render.paragraph("已跳过 skipped.")]
            if not_saved:
                parts.append(render.paragraph(f"⚠ 这次作答没有保存到进度 not saved to your progress: {not_saved}"))
            if following is not None:
                parts.append(prompt(interview, following.prompt, following.kind))
            history.append(bot(render.message(*parts)))
            return finish_if_done(history, session)
        if lowered in ("/end", "结束", "/结束", "结束面试"):
            interview.end()
            return finish_if_done(history, session)
        feedback: Feedback = interview.answer(message)
        parts = [render.grade_html(feedback.grade, feedback.not_saved)]
        if feedback.next_prompt:
            parts += ["<hr>", prompt(interview, feedback.next_prompt, feedback.next_kind)]
        history.append(bot(render.message(*parts)))
        return finish_if_done(history, session)

    def prompt(interview: Interview, text: str, kind: str) -> str:
        number, total = interview.progress
        return render.prompt_html(number, total, interview.cards[number - 1].topic, text, kind == "follow-up")

    def finish_if_done(history, session):
        interview = session.interview
        if not interview.finished:
            return unchanged_chat(history, session)
        text, table, chart = summary_frames(interview)
        parts = [text]
        if interview.record is not None:
            parts.append(render.paragraph("已记入你的进度，到期复习安排见「进度」页。"
                                          "Saved to your progress: see the Progress tab for what is due."))
        history.append(bot(render.message(*parts)))
        session.interview = None
        return (history, "", session, gr.update(),
                gr.update(value=table, visible=True), gr.update(value=chart, visible=True))

    def start(history, session, topics, count, card_ids=None):
        try:
            interview = tutor.start_interview(topics or None, int(count), user=session.user, card_ids=card_ids)
            due_ids = {card.id for card, _ in tutor.due_cards(session.user)}
        except (TutorError, ProgressError) as error:
            history.append(bot(render.message(render.error(str(error)))))
            return unchanged_chat(history, session)
        session.interview = interview
        scope = "、".join(topics) if topics else "全部主题 all topics"
        reviews = sum(card.id in due_ids for card in interview.cards)
        intro = (f"好的，开始模拟面试：{scope}，共 {len(interview.cards)} 题"
                 + (f"（其中 {reviews} 题到期复习 due for review）" if reviews else "")
                 + "。直接在输入框作答；/hint 提示，/skip 跳过，/end 结束。")
        first = interview.current
        history.append(bot(render.message(render.paragraph(intro), prompt(interview, first.prompt, first.kind))))
        return (history, "", session, gr.update(samples=[], visible=False),
                gr.update(value=None, visible=False), gr.update(value=None, visible=False))

    def on_start(topics, count, history, state, request: gr.Request):
        session = session_of(state, request)
        return start(list(history or []), session, list(topics or []), count)

    def on_command(command):
        def handler(history, state, request: gr.Request):
            return on_message(command, history, state, request)
        handler.__name__ = f"on_{command.strip('/')}"
        return handler

    def on_related(sample, history, state, request: gr.Request):
        return on_message(sample[0], history, state, request)

    # progress ------------------------------------------------------------------------
    def on_progress(state, request: gr.Request):
        session = session_of(state, request)
        try:
            headline, mastery, scores, due_rows, weak_rows, practise_ids = progress_frames(tutor, session.user)
        except (ProgressError, TutorError) as error:
            return (render.message(render.error(str(error))), gr.update(), gr.update(), gr.update(), gr.update(),
                    gr.update(interactive=False), session)
        session.practise_ids = practise_ids
        return (headline, gr.update(value=mastery, visible=not mastery.empty), gr.update(value=scores, visible=not scores.empty),
                due_rows, weak_rows, gr.update(interactive=bool(practise_ids)), session)

    def on_practise(history, state, request: gr.Request):
        session = session_of(state, request)
        history = list(history or [])
        ids = session.practise_ids
        if not ids:
            history.append(bot(render.message(render.paragraph("还没有需要练习的卡片。Nothing to practise yet."))))
            return (*unchanged_chat(history, session), gr.update(selected="chat"))
        history.append(user_bubble("练习这些 Practise these"))
        return (*start(history, session, [], len(ids), card_ids=ids), gr.update(selected="chat"))

    def on_export(state, request: gr.Request):
        session = session_of(state, request)
        try:
            csv_text = tutor.attempts_csv(session.user)
            deck = str(tutor.export_anki())
        except (ProgressError, TutorError, ValueError, OSError) as error:
            raise gr.Error(f"导出失败 export failed: {error}")
        return csv_text, gr.update(value=[deck], visible=True)

    # knowledge -----------------------------------------------------------------------
    def visible_cards(topic: str | None, query: str) -> list[Card]:
        try:
            retriever = tutor.retriever
        except IndexNotReady:
            return []
        cards = retriever.cards
        query = (query or "").strip()
        if query:
            try:
                hits = retriever.search(check_text(query, "the search"), k=20)
            except InputError:
                hits = []
            literal = [c for c in cards if query.lower() in (c.question + c.answer).lower()]
            cards = list(dict.fromkeys([h.card for h in hits] + literal))
        if topic and topic != "全部 all":
            cards = [c for c in cards if c.topic == topic]
        return cards

    def card_count(shown: int) -> str:
        try:
            total = len(tutor.retriever.cards)
        except IndexNotReady:
            return render.message(render.paragraph("索引中 indexing…"))
        topics = len(topic_choices())
        return render.message(render.paragraph(
            f"显示 {shown} / 共 {total} 张卡片，{topics} 个主题 · showing {shown} of {total} cards in {topics} topics"))

    def on_filter(topic, query, state, request: gr.Request):
        session = session_of(state, request)
        cards = visible_cards(topic, query)
        session.shown_cards = [c.id for c in cards]
        return card_table(cards), card_count(len(cards)), session

    def on_card(state, event: gr.SelectData, request: gr.Request):
        session = session_of(state, request)
        row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        wanted = session.shown_cards[row] if 0 <= row < len(session.shown_cards) else None
        try:
            card = next((c for c in tutor.retriever.cards if c.id == wanted), None)
        except IndexNotReady:
            card = None
        return render.card_html(card) if card else render.message(render.paragraph("（未找到 not found）"))

    def skipped_rows() -> pd.DataFrame:
        report = tutor.last_report
        items = report.skipped_details if report else []
        return pd.DataFrame(
            [{"文件 file": s.source, "行 line": s.line or "", "标题 heading": s.question, "原因 reason": s.reason} for s in items],
            columns=["文件 file", "行 line", "标题 heading", "原因 reason"],
        )

    def topic_choices() -> list[str]:
        try:
            return [name for name, _ in tutor.topics()]
        except IndexNotReady:
            return []

    def on_load(state, request: gr.Request):
        """A newly opened page shows the notes as they are now (uploads included)."""
        session = session_of(state, request)
        cards = visible_cards(None, "")
        session.shown_cards = [c.id for c in cards]
        names = topic_choices()
        status = tutor.indexing_status()
        return (status_html(status), gr.Timer(active=status.running), card_table(cards), card_count(len(cards)),
                skipped_rows(), gr.update(choices=["全部 all"] + names, value="全部 all"), gr.update(choices=names), session)

    def on_tick(state, request: gr.Request):
        """While indexing: the progress line; when it ends, the refreshed card list."""
        status = tutor.indexing_status()
        if status.running:
            return status_html(status), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), state
        return on_load(state, request)

    def on_upload(files, state, request: gr.Request):
        session = session_of(state, request)
        files = files or []
        if not files:
            return render.message(render.paragraph("请先选择 .md 文件。Choose .md files first.")), gr.update()
        added, problems = [], []
        for file in files:
            path = getattr(file, "name", file)
            original = getattr(file, "orig_name", None) or os.path.basename(path)
            try:
                added.append(tutor.add_note(original, path, user=session.user).name)
            except (InputError, OSError) as error:
                problems.append(str(error))
        lines = [render.paragraph(f"✗ {p}") for p in problems]
        if added:
            tutor.start_indexing()
            lines.insert(0, render.paragraph(f"✓ 已加入 added {', '.join(added)}：正在后台索引，进度见页面顶部。"
                                             "Indexing in the background: progress at the top of the page."))
        return render.message(*lines), gr.Timer(active=bool(added))

    # API -----------------------------------------------------------------------------
    def api_ask(question: str, request: gr.Request) -> dict:
        """Answer a question from the notes: the command line's `ask --json` object."""
        user_of(request)
        try:
            return tutor.ask(question, k=3).to_dict()
        except TutorError as error:
            return {"error": str(error)}

    def api_grade(question: str, answer: str, request: gr.Request) -> dict:
        """Grade an answer against the closest card and record it in the caller's progress:
        the command line's grade JSON."""
        user = user_of(request)
        try:
            return tutor.grade(question, answer, user=user).to_dict()
        except GradeNotSaved as error:  # the grade stands; say it was not recorded
            return {**error.grade.to_dict(), "not_saved": str(error)}
        except TutorError as error:
            return {"error": str(error)}

    def api_progress(request: gr.Request) -> dict:
        """The caller's progress: the command line's progress JSON."""
        try:
            return tutor.progress_report(user_of(request)).to_dict()
        except (ProgressError, TutorError) as error:
            return {"error": str(error)}

    theme = gr.themes.Soft(font=["system-ui", "PingFang SC", "Noto Sans CJK SC", "sans-serif"],
                           font_mono=["ui-monospace", "monospace"])
    # delete_cache: Gradio's copies of uploads and exported decks are dropped after an hour
    with gr.Blocks(title="LLM 面试辅导 · Interview Tutor", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        state = gr.State(None)
        gr.Markdown("## LLM 面试辅导 · Interview Tutor\n基于你的笔记回答问题、模拟面试并评分。"
                    "Answers come from your notes, with sources; mock interviews are graded against them.")
        status = gr.Markdown(elem_id="index-status")
        ticker = gr.Timer(2.0, active=False)
        with gr.Tabs() as tabs:
            with gr.Tab("对话 Chat", id="chat"):
                chatbot = gr.Chatbot(height=520, latex_delimiters=LATEX, elem_id="chat", label="对话",
                                     placeholder=render.markdown_html(HELP), buttons=["copy"],
                                     group_consecutive_messages=False)
                with gr.Row():
                    message = gr.Textbox(placeholder="输入问题或回答，Enter 发送 · Ask a question (or answer one)",
                                         show_label=False, scale=8, elem_id="message", max_lines=8)
                    send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
                related_box = gr.Textbox(visible=False)
                related = gr.Dataset(components=[related_box], samples=[], label="相关问题 Related questions",
                                     elem_id="related", visible=False)
                with gr.Accordion("模拟面试 Mock interview", open=True):
                    with gr.Row():
                        topics = gr.Dropdown(choices=[], multiselect=True, label="主题 Topics（留空 = 全部）",
                                             scale=3, elem_id="topics")
                        count = gr.Slider(1, 10, value=3, step=1, label="题数 Questions", scale=2, elem_id="count")
                    with gr.Row():
                        start_button = gr.Button("开始模拟面试 Start", variant="primary", elem_id="start")
                        hint_button = gr.Button("提示 Hint", elem_id="hint")
                        skip_button = gr.Button("跳过 Skip", elem_id="skip")
                        end_button = gr.Button("结束 End", elem_id="end")
                    summary_table = gr.Dataframe(visible=False, label="面试小结 Summary", elem_id="summary-table", wrap=True,
                                                 datatype=["number", "markdown", "str", "str", "str", "str"],
                                                 latex_delimiters=LATEX, column_widths=["5%", "50%", "15%", "8%", "8%", "14%"])
                    summary_chart = gr.BarPlot(visible=False, x="题 question", y="得分 score", y_lim=[0, 100],
                                               label="得分 Scores", elem_id="summary-chart")
            with gr.Tab("知识库 Knowledge", id="knowledge"):
                with gr.Row():
                    topic_filter = gr.Dropdown(choices=["全部 all"], value="全部 all",
                                               label="主题 Topic", scale=1, elem_id="topic-filter")
                    search = gr.Textbox(label="搜索 Search", placeholder="关键词或问题 keyword or question",
                                        scale=3, elem_id="search")
                cards = gr.Dataframe(value=card_table([]), interactive=False, wrap=True, max_height=380,
                                     elem_id="cards", label="卡片 Cards（点击查看 click to view）",
                                     datatype=["markdown", "str", "str", "str"], latex_delimiters=LATEX,
                                     column_widths=["56%", "22%", "14%", "8%"])
                count_line = gr.Markdown(elem_id="card-count")
                card_view = gr.Markdown(latex_delimiters=LATEX, elem_id="card-view")
                with gr.Accordion("上传笔记 Upload notes (.md, UTF-8, ≤ 1 MiB)", open=False):
                    upload = gr.File(file_count="multiple", file_types=[".md", ".markdown"], label="Markdown 笔记",
                                     elem_id="upload")
                    upload_button = gr.Button("加入并索引 Add & index", variant="primary", elem_id="upload-button")
                    upload_status = gr.Markdown(elem_id="upload-status")
                with gr.Accordion("无法使用的章节 Sections without a usable answer", open=False):
                    skipped = gr.Dataframe(value=skipped_rows(), interactive=False, wrap=True, elem_id="skipped")
            with gr.Tab("进度 Progress", id="progress") as progress_tab:
                progress_summary = gr.Markdown(elem_id="progress-summary")
                with gr.Row():
                    mastery_chart = gr.BarPlot(x="主题 topic", y="掌握度 mastery %", y_lim=[0, 100], visible=False,
                                               label="各主题掌握度 Mastery by topic", elem_id="mastery-chart")
                    score_chart = gr.LinePlot(x="时间 time", y="得分 score", y_lim=[0, 100], visible=False,
                                              label="得分变化 Score over time", elem_id="score-chart")
                with gr.Row():
                    practise_button = gr.Button("练习这些 Practise these", variant="primary", interactive=False,
                                                elem_id="practise")
                    refresh_button = gr.Button("刷新 Refresh", elem_id="refresh-progress")
                    export_button = gr.Button("导出 Export (CSV + Anki)", elem_id="export")
                weak_table = gr.Dataframe(interactive=False, wrap=True, elem_id="weak-table",
                                          label="最薄弱的卡片 Weakest cards（「练习这些」会逐一再问）",
                                          datatype=["markdown", "str", "str", "str"], latex_delimiters=LATEX,
                                          column_widths=["64%", "16%", "10%", "10%"])
                due_table = gr.Dataframe(interactive=False, wrap=True, elem_id="due-table", label="今天到期 Due today",
                                         datatype=["markdown", "str", "str", "str"], latex_delimiters=LATEX,
                                         column_widths=["64%", "16%", "10%", "10%"])
                export_csv = gr.Textbox(visible=False, elem_id="export-csv")
                export_files = gr.File(label="导出文件 Exports (Anki deck; the CSV downloads directly)",
                                       file_count="multiple", visible=False, elem_id="export-files")

        private = {"api_visibility": "private"}
        chat_outputs = [chatbot, message, state, related, summary_table, summary_chart]
        message.submit(guarded(on_message), [message, chatbot, state], chat_outputs, **private)
        send.click(guarded(on_message), [message, chatbot, state], chat_outputs, **private)
        related.click(guarded(on_related), [related, chatbot, state], chat_outputs, **private)
        start_button.click(guarded(on_start), [topics, count, chatbot, state], chat_outputs, **private)
        for button, command in ((hint_button, "/hint"), (skip_button, "/skip"), (end_button, "/end")):
            button.click(guarded(on_command(command)), [chatbot, state], chat_outputs, **private)
        topic_filter.input(guarded(on_filter), [topic_filter, search, state], [cards, count_line, state], **private)
        search.submit(guarded(on_filter), [topic_filter, search, state], [cards, count_line, state], **private)
        cards.select(on_card, [state], card_view, **private)
        upload_button.click(guarded(on_upload), [upload, state], [upload_status, ticker], **private)
        load_outputs = [status, ticker, cards, count_line, skipped, topic_filter, topics, state]
        app.load(on_load, [state], load_outputs, **private)
        ticker.tick(on_tick, [state], load_outputs, show_progress="hidden", **private)
        progress_outputs = [progress_summary, mastery_chart, score_chart, due_table, weak_table, practise_button, state]
        progress_tab.select(guarded(on_progress), [state], progress_outputs, **private)
        refresh_button.click(guarded(on_progress), [state], progress_outputs, **private)
        practise_button.click(guarded(on_practise), [chatbot, state], [*chat_outputs, tabs], **private)
        export_button.click(guarded(on_export), [state], [export_csv, export_files], **private).then(
            None, [export_csv], None, js=DOWNLOAD_CSV_JS, **private)
        gr.api(api_guarded(api_ask), api_name="ask")
        gr.api(api_guarded(api_grade), api_name="grade")
        gr.api(api_guarded(api_progress), api_name="progress")
    app.tutor_theme, app.tutor_css = theme, CSS
    return app


def report_first_index(tutor: Tutor) -> None:
    """Say on the console when the first background sync is done (scripts wait for it)."""
    tutor.index.wait()
    status = tutor.indexing_status()
    if status.error:
        print(f"error: indexing failed: {status.error}", file=sys.stderr, flush=True)
    elif status.report:
        report = status.report
        print(f"ready: {report.cards} cards ({report.added} added, {report.updated} updated, {report.removed} removed, "
              f"{report.skipped} skipped) in {report.seconds:.1f}s", flush=True)


def main() -> int:
    try:
        settings = Settings.from_env()
        accounts = Accounts.parse(settings.auth) if settings.auth else None
        tutor = Tutor(settings)
        tutor.progress  # open the progress database now: a damaged one stops the start, loudly
    except (SettingsError, AuthError, NotesError, RuntimeError) as error:  # store, model, progress: RuntimeErrors
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not settings.knowledge_dir.is_dir():
        print(f"error: notes folder not found: {settings.knowledge_dir}", file=sys.stderr)
        return 1
    tutor.start_indexing()  # the page serves at once; progress shows at its top
    print(f"indexing {settings.knowledge_dir} in the background; serving on http://{settings.host}:{settings.port}",
          flush=True)
    threading.Thread(target=report_first_index, args=(tutor,), name="tutor-first-index", daemon=True).start()
    if accounts:
        print(f"login required: {len(accounts.passwords)} accounts from TUTOR_AUTH", flush=True)
    app = build_app(tutor, accounts)
    app.queue(default_concurrency_limit=8, max_size=256)
    middleware = [Middleware(InertPages), Middleware(ThrottledLogins, throttle=LoginThrottle())]
    app.launch(server_name=settings.host, server_port=settings.port, theme=app.tutor_theme, css=app.tutor_css,
               footer_links=["api"], show_error=True, max_file_size="1mb",
               auth=accounts.check if accounts else None,
               auth_message="登录 Log in to your tutor (after 5 failed attempts, each further attempt waits longer)",
               app_kwargs={"middleware": middleware})
    return 0


if __name__ == "__main__":
    sys.exit(main())
