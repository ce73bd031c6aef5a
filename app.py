"""The tutor's web UI: `python app.py` serves on TUTOR_HOST:TUTOR_PORT (127.0.0.1:7860).

A thin Gradio adapter over `tutor.service.Tutor`: every decision (retrieval, follow-ups,
grading, interview flow, scheduling, upload checks) lives in the core; this file only
turns results into chat messages, tables and charts, and keeps per-browser-session state.

With TUTOR_AUTH set, every page and API call needs a login and works on the logged-in
user's progress only (the user comes from the login, never from a request parameter);
without it everything belongs to one local user.
"""
from __future__ import annotations

import html
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an offline tool phones no one

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from tutor.conversation import NOT_COVERED, Conversation, Reply  # noqa: E402
from tutor.grading import Grade  # noqa: E402
from tutor.interview import Feedback, Interview  # noqa: E402
from tutor.notes import Card, NotesError  # noqa: E402
from tutor.progress import LOCAL_USER, ProgressError, utc  # noqa: E402
from tutor.service import GradeNotSaved, InputError, Tutor  # noqa: E402
from tutor.settings import Settings, SettingsError  # noqa: E402
from tutor.users import Accounts, AuthError  # noqa: E402

MAX_MESSAGE_CHARS = 5000
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
INTERVIEW_COMMANDS = ("/hint", "/提示", "/skip", "/跳过", "/end", "/结束")
CSS = """
.gradio-container {max-width: 1100px !important; margin: auto;}
#related .label {font-weight: 600;}
"""


# rendering -----------------------------------------------------------------------------
def escape_outside_code(text: str) -> str:
    """Show HTML in notes or messages as text: escape it, except inside code spans/blocks
    (which Markdown already shows literally)."""
    parts = re.split(r"(```[\s\S]*?```|~~~[\s\S]*?~~~|(?<!\\)`[^`\n]+`)", text)
    return "".join(part if i % 2 else html.escape(part, quote=False) for i, part in enumerate(parts))


def card_source(card: Card) -> str:
    path = " > ".join(card.path)
    return f"<sub>来源 source: `{card.source}:{card.line}`{' · ' + html.escape(path) if path else ''}</sub>"


def render_reply(reply: Reply) -> str:
    if reply.kind == "not-covered":
        lines = [NOT_COVERED]
        if reply.related:
            lines.append("笔记里最接近的主题 (nearest topics in the notes)：")
            lines += [f"- **{html.escape(card.topic)}**：{escape_outside_code(card.question)}" for card in reply.related]
        return "\n".join(lines)
    parts = []
    for rank, hit in enumerate(reply.hits, start=1):
        card = hit.card
        title = escape_outside_code(card.question)
        body = f"{escape_outside_code(card.answer)}\n\n{card_source(card)}"
        if rank == 1:
            parts.append(f"### {title}\n\n{body}")
        else:  # the best match is open; the others wait behind their question
            summary = html.escape(card.question, quote=False)  # raw HTML block: no Markdown here
            parts.append(f"<details><summary>另见 see also：{summary}</summary>\n\n{body}\n\n</details>")
    if reply.kind == "expand" and reply.related:
        parts.append("**相关问题 related:** " + "；".join(escape_outside_code(c.question) for c in reply.related))
    return "\n\n".join(parts)


def render_grade(grade: Grade) -> str:
    lines = [f"**得分 score: {grade.score}/100 · {grade.verdict}**", ""]
    if grade.covered:
        lines.append("✓ 答到的要点 covered:")
        lines += [f"- {escape_outside_code(p)}" for p in grade.covered]
    if grade.missed:
        lines.append("✗ 遗漏的要点 missed:")
        lines += [f"- {escape_outside_code(p)}" for p in grade.missed]
    reference = escape_outside_code(grade.reference)
    lines += ["", f"<details><summary>参考答案 reference ({html.escape(grade.source)})</summary>\n\n{reference}\n\n</details>"]
    return "\n".join(lines)


def render_prompt(interview: Interview, prompt: str, kind: str) -> str:
    if kind == "follow-up":
        return f"↪ {escape_outside_code(prompt)}"
    number, total = interview.progress
    topic = html.escape(interview.cards[number - 1].topic)
    return f"▶ **第 {number}/{total} 题** · {topic}\n\n{escape_outside_code(prompt)}"


def summary_frames(interview: Interview) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    summary = interview.summary()
    rows = [
        {"#": r.number, "问题": escape_outside_code(r.question), "主题": r.topic,
         "得分": r.score if r.score is not None else "跳过", "追问": r.follow_up_score if r.follow_up_score is not None else "",
         "评价": r.verdict}
        for r in summary.rows
    ]
    table = pd.DataFrame(rows)
    chart = pd.DataFrame({"题 question": [f"Q{r.number}" for r in summary.rows],
                          "得分 score": [r.score or 0 for r in summary.rows]})
    average = f"{summary.average:.0f}" if summary.average is not None else "—"
    lines = [f"### 面试结束 · Interview summary", "",
             f"平均分 average **{average}**/100 · 作答 answered {summary.answered} · 跳过 skipped {summary.skipped}", "",
             "| # | 问题 | 得分 | 评价 |", "| --- | --- | --- | --- |"]
    for r in summary.rows:
        question = escape_outside_code(r.question).replace("|", "\\|")
        lines.append(f"| {r.number} | {question} | {r.score if r.score is not None else '—'} | {r.verdict} |")
    if summary.by_topic:
        lines += ["", "按主题 by topic：" + "；".join(f"{html.escape(t)} {s:.0f}" for t, s in summary.by_topic.items())]
    return "\n".join(lines), table, chart


# session state -------------------------------------------------------------------------
@dataclass
class Session:
    """Per-browser-session state (gr.State gives every visitor their own)."""

    user: str
    last_card: Card | None = None
    interview: Interview | None = None
    practise_ids: list[str] = field(default_factory=list)  # the weakest cards the progress tab shows


def end_of_today() -> datetime:
    """Cards due before the server's local midnight count as "due today"."""
    local = datetime.now().astimezone()
    return utc(local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


def progress_frames(tutor: Tutor, user: str):
    """Everything the progress tab shows, for one user."""
    report = tutor.progress_report(user)
    attempts = [a for a in tutor.attempts(user) if a.kind == "question"]
    due = tutor.due_cards(user, end_of_today())
    weakest = tutor.weakest_cards(user, PRACTISE_COUNT)
    if report.attempts:
        headline = (f"### {html.escape(user)} 的进度 · Progress\n\n作答 attempts **{report.attempts}** · "
                    f"现在到期 due now **{report.due}** · 今天到期 due today **{len(due)}**")
        if report.topics:
            weakest_topics = "、".join(html.escape(t.topic) for t in report.topics[:3])
            headline += f"\n\n最薄弱的主题 weakest topics：{weakest_topics}"
    else:
        headline = (f"### {html.escape(user)} 的进度 · Progress\n\n还没有练习记录。在「对话」里开始一次模拟面试吧。"
                    "No practice yet: start a mock interview in the Chat tab.")
    mastery = pd.DataFrame({"主题 topic": [t.topic for t in report.topics],
                            "掌握度 mastery %": [round(t.mastery * 100) for t in report.topics]})
    scores = pd.DataFrame({"时间 time": [a.at.astimezone().replace(tzinfo=None) for a in attempts],
                           "得分 score": [a.score if a.score is not None else 0 for a in attempts]})
    due_rows = pd.DataFrame(
        [{"问题 question": escape_outside_code(c.question), "主题 topic": c.topic,
          "到期 due": s.due.astimezone().strftime("%m-%d %H:%M"), "上次 last": "跳过" if s.last_score is None else s.last_score}
         for c, s in due],
        columns=["问题 question", "主题 topic", "到期 due", "上次 last"])
    weak_rows = pd.DataFrame(
        [{"问题 question": escape_outside_code(c.question), "主题 topic": c.topic,
          "上次 last": "跳过" if s.last_score is None else s.last_score, "复习 reviews": s.reviews}
         for c, s in weakest],
        columns=["问题 question", "主题 topic", "上次 last", "复习 reviews"])
    return headline, mastery, scores, due_rows, weak_rows, [c.id for c, _ in weakest]


def build_app(tutor: Tutor, accounts: Accounts | None = None) -> gr.Blocks:
    topic_names = [name for name, _ in tutor.topics()]  # initial choices; uploads refresh them

    def user_of(request: gr.Request | None) -> str:
        if accounts is None:
            return LOCAL_USER
        name = getattr(request, "username", None)
        if not name or name not in accounts.passwords:
            raise gr.Error("请先登录 Please log in")
        return name

    def session_of(state: Session | None, request: gr.Request | None) -> Session:
        user = user_of(request)
        # a tab's state never carries over to another login
        return state if isinstance(state, Session) and state.user == user else Session(user)

    def clean(message: str) -> tuple[str, str]:
        message = (message or "").strip()
        if len(message) > MAX_MESSAGE_CHARS:
            return message[:MAX_MESSAGE_CHARS], f"（消息超过 {MAX_MESSAGE_CHARS} 字，已截断 · truncated）\n\n"
        return message, ""

    def user_bubble(message: str) -> dict:
        return {"role": "user", "content": escape_outside_code(message)}

    def bot(content: str) -> dict:
        return {"role": "assistant", "content": content}

    # chat ----------------------------------------------------------------------------
    def on_message(message, history, state, request: gr.Request):
        session = session_of(state, request)
        history = list(history or [])
        message, notice = clean(message)
        if not message:
            gr.Info("请输入一个问题或回答。Please type a question or an answer.")
            return history, "", state, gr.update(), *hidden_summary()
        command = message.split()[0].lower()
        if command in ("/interview", "/面试"):
            history.append(user_bubble(message))
            rest = message.split(None, 1)[1] if " " in message else ""
            number = re.search(r"(?<!\S)(\d{1,2})(?!\S)", rest)
            count = int(number.group(1)) if number else 3
            rest = (rest[: number.start()] + rest[number.end():]) if number else rest
            names = sorted((name for name, _ in tutor.topics()), key=len, reverse=True)
            topics = [name for name in names if name.lower() in rest.lower()]
            if rest.strip() and not topics:
                history.append(bot(f"没有找到主题「{html.escape(rest.strip())}」。可选主题 topics: " + "、".join(map(html.escape, names))))
                return history, "", session, gr.update(), *hidden_summary()
            return start(history, session, topics, count)
        if command in ("/help", "/帮助"):
            history += [user_bubble(message), bot(HELP)]
            return history, "", session, gr.update(), *hidden_summary()
        if session.interview is not None and not session.interview.finished:
            return interview_turn(message, notice, history, session)
        if command in INTERVIEW_COMMANDS:
            history += [user_bubble(message), bot("当前没有进行中的模拟面试。No interview in progress: start one first.")]
            return history, "", session, gr.update(), *hidden_summary()
        history.append(user_bubble(message))
        conversation = Conversation(tutor.retriever, session.last_card)
        reply = conversation.ask(message, k=3)
        session.last_card = conversation.last_card
        history.append(bot(notice + render_reply(reply)))
        related = [[c.question] for c in reply.related] if reply.kind != "not-covered" else []
        return history, "", session, gr.update(samples=related, visible=bool(related)), *hidden_summary()

    def interview_turn(message, notice, history, session):
        interview = session.interview
        lowered = message.lower()
        history.append(user_bubble(message))
        if lowered in ("/hint", "提示", "/提示"):
            history.append(bot(f"提示 hint：可以从 **{escape_outside_code(interview.hint())}** 这些方面展开。"))
            return history, "", session, gr.update(), *hidden_summary()
        if lowered in ("/skip", "跳过", "/跳过"):
            following, not_saved = interview.skip()
            text = "已跳过 skipped." + not_saved_notice(not_saved)
            if following is not None:
                text += "\n\n" + render_prompt(interview, following.prompt, following.kind)
            history.append(bot(text))
            return finish_if_done(history, session)
        if lowered in ("/end", "结束", "/结束", "结束面试"):
            interview.end()
            return finish_if_done(history, session)
        feedback: Feedback = interview.answer(message)
        text = notice + render_grade(feedback.grade) + not_saved_notice(feedback.not_saved)
        if feedback.next_prompt:
            text += "\n\n---\n\n" + render_prompt(interview, feedback.next_prompt, feedback.next_kind)
        history.append(bot(text))
        return finish_if_done(history, session)

    def finish_if_done(history, session):
        interview = session.interview
        if not interview.finished:
            return history, "", session, gr.update(), *hidden_summary()
        text, table, chart = summary_frames(interview)
        if interview.record is not None:
            text += "\n\n已记入你的进度，到期复习安排见「进度」页。Saved to your progress: see the Progress tab for what is due."
        history.append(bot(text))
        session.interview = None
        return (history, "", session, gr.update(),
                gr.update(value=table, visible=True), gr.update(value=chart, visible=True))

    def hidden_summary():
        return gr.update(), gr.update()

    def not_saved_notice(problem: str | None) -> str:
        if not problem:
            return ""
        return f"\n\n⚠ 这次作答没有保存到进度 not saved to your progress: {html.escape(problem)}"

    def start(history, session, topics, count, card_ids=None):
        try:
            interview = tutor.start_interview(topics or None, int(count), user=session.user, card_ids=card_ids)
            due_ids = {card.id for card, _ in tutor.due_cards(session.user)}
        except (InputError, ProgressError) as error:
            history.append(bot(f"⚠ {html.escape(str(error))}"))
            return history, "", session, gr.update(), *hidden_summary()
        session.interview = interview
        scope = "、".join(topics) if topics else "全部主题 all topics"
        reviews = sum(card.id in due_ids for card in interview.cards)
        intro = (f"好的，开始模拟面试：{html.escape(scope)}，共 {len(interview.cards)} 题"
                 + (f"（其中 {reviews} 题到期复习 due for review）" if reviews else "")
                 + "。直接在输入框作答；`/hint` 提示，`/skip` 跳过，`/end` 结束。")
        first = interview.current
        history.append(bot(intro + "\n\n" + render_prompt(interview, first.prompt, first.kind)))
        return (history, "", session, gr.update(samples=[], visible=False),
                gr.update(value=None, visible=False), gr.update(value=None, visible=False))

    def on_start(topics, count, history, state, request: gr.Request):
        session = session_of(state, request)
        history = list(history or [])
        return start(history, session, list(topics or []), count)

    def on_command(command):
        def handler(history, state, request: gr.Request):
            return on_message(command, history, state, request)
        return handler

    def on_related(sample, history, state, request: gr.Request):
        return on_message(sample[0], history, state, request)

    # progress ------------------------------------------------------------------------
    def on_progress(state, request: gr.Request):
        session = session_of(state, request)
        try:
            headline, mastery, scores, due_rows, weak_rows, practise_ids = progress_frames(tutor, session.user)
        except ProgressError as error:
            return (f"⚠ {html.escape(str(error))}", gr.update(), gr.update(), gr.update(), gr.update(),
                    gr.update(interactive=False), session)
        session.practise_ids = practise_ids
        return (headline, gr.update(value=mastery, visible=not mastery.empty), gr.update(value=scores, visible=not scores.empty),
                due_rows, weak_rows, gr.update(interactive=bool(practise_ids)), session)

    def on_practise(history, state, request: gr.Request):
        session = session_of(state, request)
        history = list(history or [])
        ids = session.practise_ids
        if not ids:
            history.append(bot("还没有需要练习的卡片。Nothing to practise yet."))
            return history, "", session, gr.update(), *hidden_summary(), gr.update(selected="chat")
        history.append(user_bubble("练习这些 Practise these"))
        return (*start(history, session, [], len(ids), card_ids=ids), gr.update(selected="chat"))

    def on_export(state, request: gr.Request):
        session = session_of(state, request)
        try:
            files = [str(tutor.export_attempts(session.user)), str(tutor.export_anki())]
        except (ProgressError, ValueError, OSError) as error:
            raise gr.Error(f"导出失败 export failed: {error}")
        return gr.update(value=files, visible=True)

    # knowledge -----------------------------------------------------------------------
    def card_rows(topic: str | None, query: str) -> pd.DataFrame:
        query = (query or "").strip()
        cards = tutor.retriever.cards
        if query:
            hits = tutor.retriever.search(query, k=20)
            literal = [c for c in cards if query.lower() in (c.question + c.answer).lower()]
            cards = list(dict.fromkeys([h.card for h in hits] + literal))
        if topic and topic != "全部 all":
            cards = [c for c in cards if c.topic == topic]
        return pd.DataFrame(
            [{"问题 question": escape_outside_code(c.question), "主题 path": " > ".join(c.path), "来源 source": f"{c.source}:{c.line}",
              "难度 difficulty": c.difficulty or ""} for c in cards],
            columns=["问题 question", "主题 path", "来源 source", "难度 difficulty"],
        )

    def show_card(table: pd.DataFrame, event: gr.SelectData):
        row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        where = table.iloc[row, 2]  # "file:line" names exactly one card
        card = next((c for c in tutor.retriever.cards if f"{c.source}:{c.line}" == where), None)
        if card is None:
            return "（未找到）"
        points = "\n".join(f"- {escape_outside_code(p)}" for p in card.key_points)
        return f"### {escape_outside_code(card.question)}\n\n{escape_outside_code(card.answer)}\n\n**要点 key points**\n\n{points}\n\n{card_source(card)}"

    def skipped_rows() -> pd.DataFrame:
        report = tutor.last_report
        items = report.skipped_details if report else []
        return pd.DataFrame(
            [{"文件 file": s.source, "行 line": s.line or "", "标题 heading": s.question, "原因 reason": s.reason} for s in items],
            columns=["文件 file", "行 line", "标题 heading", "原因 reason"],
        )

    def on_upload(files, progress=gr.Progress()):
        files = files or []
        if not files:
            return "请先选择 .md 文件。Choose .md files first.", gr.update(), skipped_rows(), gr.update(), gr.update()
        added, problems = [], []
        for file in files:
            path = getattr(file, "name", file)
            original = getattr(file, "orig_name", None) or os.path.basename(path)
            try:
                added.append(tutor.add_note(original, path).name)
            except (InputError, OSError) as error:
                problems.append(html.escape(str(error)))
        lines = [f"✗ {p}" for p in problems]
        if added:
            progress(0, desc="embedding")
            report = tutor.ingest(on_progress=lambda done, total: progress((done, total), desc="embedding", unit="chunks") if total else None)
            lines.insert(0, f"✓ 已加入 added {', '.join(added)}：新增 {report.added} 张卡片，更新 {report.updated} 张，"
                            f"共 {report.cards} 张 ({report.seconds:.1f}s)")
        names = [name for name, _ in tutor.topics()]
        return ("\n\n".join(lines), card_rows(None, ""), skipped_rows(), gr.update(choices=["全部 all"] + names),
                gr.update(choices=names))

    # API -----------------------------------------------------------------------------
    def api_ask(question: str, request: gr.Request) -> str:
        """Answer a question from the notes, as Markdown with sources."""
        user_of(request)
        question, _ = clean(question)
        if not question:
            return "请输入一个问题。(Please type a question.)"
        return render_reply(Conversation(tutor.retriever).ask(question, k=3))

    def api_grade(question: str, answer: str, request: gr.Request) -> dict:
        """Grade an answer against the closest card and record it in the caller's progress:
        the command line's grade JSON."""
        user = user_of(request)
        question, _ = clean(question)
        answer, _ = clean(answer)
        try:
            return tutor.grade(question, answer, user=user).to_dict()
        except InputError as error:
            return {"error": str(error)}
        except GradeNotSaved as error:  # the grade stands; say it was not recorded
            return {**error.grade.to_dict(), "not_saved": str(error)}

    def api_progress(request: gr.Request) -> dict:
        """The caller's progress: the command line's progress JSON."""
        try:
            return tutor.progress_report(user_of(request)).to_dict()
        except ProgressError as error:
            return {"error": str(error)}

    theme = gr.themes.Soft(font=["system-ui", "PingFang SC", "Noto Sans CJK SC", "sans-serif"],
                           font_mono=["ui-monospace", "monospace"])
    # delete_cache: Gradio's copies of exported files are dropped after an hour
    with gr.Blocks(title="LLM 面试辅导 · Interview Tutor", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        state = gr.State(None)
        gr.Markdown("## LLM 面试辅导 · Interview Tutor\n基于你的笔记回答问题、模拟面试并评分。"
                    "Answers come from your notes, with sources; mock interviews are graded against them.")
        with gr.Tabs() as tabs:
            with gr.Tab("对话 Chat", id="chat"):
                chatbot = gr.Chatbot(height=520, latex_delimiters=LATEX, elem_id="chat", label="对话",
                                     placeholder=HELP, buttons=["copy"], group_consecutive_messages=False)
                with gr.Row():
                    message = gr.Textbox(placeholder="输入问题或回答，Enter 发送 · Ask a question (or answer one)",
                                         show_label=False, scale=8, elem_id="message", max_lines=8)
                    send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
                related_box = gr.Textbox(visible=False)
                related = gr.Dataset(components=[related_box], samples=[], label="相关问题 Related questions",
                                     elem_id="related", visible=False)
                with gr.Accordion("模拟面试 Mock interview", open=True):
                    with gr.Row():
                        topics = gr.Dropdown(choices=topic_names, multiselect=True, label="主题 Topics（留空 = 全部）",
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
                    topic_filter = gr.Dropdown(choices=["全部 all"] + topic_names, value="全部 all",
                                               label="主题 Topic", scale=1, elem_id="topic-filter")
                    search = gr.Textbox(label="搜索 Search", placeholder="关键词或问题 keyword or question",
                                        scale=3, elem_id="search")
                cards = gr.Dataframe(value=card_rows(None, ""), interactive=False, wrap=True, max_height=380,
                                     elem_id="cards", label="卡片 Cards（点击查看 click to view）",
                                     datatype=["markdown", "str", "str", "str"], latex_delimiters=LATEX,
                                     column_widths=["56%", "22%", "14%", "8%"])
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
                export_files = gr.File(label="导出文件 Exports", file_count="multiple", visible=False,
                                       elem_id="export-files")

        chat_outputs = [chatbot, message, state, related, summary_table, summary_chart]
        message.submit(on_message, [message, chatbot, state], chat_outputs, api_visibility="private")
        send.click(on_message, [message, chatbot, state], chat_outputs, api_visibility="private")
        related.click(on_related, [related, chatbot, state], chat_outputs, api_visibility="private")
        start_button.click(on_start, [topics, count, chatbot, state], chat_outputs, api_visibility="private")
        hint_button.click(on_command("/hint"), [chatbot, state], chat_outputs, api_visibility="private")
        skip_button.click(on_command("/skip"), [chatbot, state], chat_outputs, api_visibility="private")
        end_button.click(on_command("/end"), [chatbot, state], chat_outputs, api_visibility="private")
        topic_filter.change(card_rows, [topic_filter, search], cards, api_visibility="private")
        search.submit(card_rows, [topic_filter, search], cards, api_visibility="private")
        cards.select(show_card, [cards], card_view, api_visibility="private")
        upload_button.click(on_upload, [upload], [upload_status, cards, skipped, topic_filter, topics], api_visibility="private")
        progress_outputs = [progress_summary, mastery_chart, score_chart, due_table, weak_table, practise_button, state]
        progress_tab.select(on_progress, [state], progress_outputs, api_visibility="private")
        refresh_button.click(on_progress, [state], progress_outputs, api_visibility="private")
        practise_button.click(on_practise, [chatbot, state], [*chat_outputs, tabs], api_visibility="private")
        export_button.click(on_export, [state], export_files, api_visibility="private")
        gr.api(api_ask, api_name="ask")
        gr.api(api_grade, api_name="grade")
        gr.api(api_progress, api_name="progress")
    app.tutor_theme, app.tutor_css = theme, CSS
    return app


def main() -> int:
    def show(done: int, total: int) -> None:
        if total:
            print(f"\r  embedding {done}/{total} chunks", end="", flush=True)

    try:
        settings = Settings.from_env()
        accounts = Accounts.parse(settings.auth) if settings.auth else None
        tutor = Tutor(settings)
        tutor.progress  # open the progress database now: a damaged one stops the start, loudly
        print(f"checking the index of {settings.knowledge_dir} ...", flush=True)
        report = tutor.ingest(on_progress=show)
    except (SettingsError, AuthError, NotesError, RuntimeError) as error:  # store, model, progress: RuntimeErrors
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\nready: {report.cards} cards ({report.added} added, {report.updated} updated, "
          f"{report.removed} removed, {report.skipped} skipped) in {report.seconds:.1f}s", flush=True)
    if accounts:
        print(f"login required: {len(accounts.passwords)} accounts from TUTOR_AUTH", flush=True)
    app = build_app(tutor, accounts)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=settings.host, server_port=settings.port, theme=app.tutor_theme, css=app.tutor_css,
               footer_links=["api"], show_error=True, max_file_size="1mb",
               auth=accounts.check if accounts else None, auth_message="登录 Log in to your tutor",
               allowed_paths=[str(tutor.exports_dir)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
