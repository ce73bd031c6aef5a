"""The chat tab: questions answered from the notes, chat commands, and the mock interview
that runs inside the chat (its turns are in interview.py)."""
from __future__ import annotations

import gradio as gr

from ..commands import CommandKind, parse_command
from ..conversation import Conversation, ReplyKind
from ..errors import IndexNotReady, InputError
from ..limits import check_text
from ..service import InterviewSettings
from . import interview, render
from .chatview import ChatView, bot, said, user_bubble
from .context import UI, Session, bind

LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]
HELP = (
    "直接提问即可，例如「为什么需要位置编码？」；追问可以说「详细一点」或「那 MQA 呢？」。\n\n"
    "模拟面试：点击下方「开始模拟面试」，或输入 `/interview`（可加主题、题数和 en，如 `/interview Attention 3`、"
    "`/interview Attention 3 en` 用英文提问）。答得好会往深一层追问，漏了要点会追问那一点，答错会指出笔记的说法。"
    "面试中可输入 `/hint` 提示、`/skip` 跳过、`/end` 结束。到期复习的卡片优先，其次是薄弱主题，然后是新题。"
)


def build(ui: UI, state: gr.State) -> ChatView:
    chatbot = gr.Chatbot(height=520, latex_delimiters=LATEX, elem_id="chat", label="对话",
                         placeholder=render.markdown_html(HELP), buttons=["copy"], group_consecutive_messages=False)
    with gr.Row():
        message = gr.Textbox(placeholder="输入问题或回答，Enter 发送 · Ask a question (or answer one)",
                             show_label=False, scale=8, elem_id="message", max_lines=8)
        send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
    related = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="相关问题 Related questions",
                         elem_id="related", visible=False)
    with gr.Accordion("模拟面试 Mock interview", open=True):
        with gr.Row():
            topics = gr.Dropdown(choices=[], multiselect=True, label="主题 Topics（留空 = 全部）", scale=3, elem_id="topics")
            count = gr.Slider(1, 10, value=3, step=1, label="题数 Questions", scale=2, elem_id="count")
        with gr.Row():
            language = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", label="提问语言 Language", scale=2,
                                elem_id="language")
            difficulty = gr.CheckboxGroup([("基础 1", 1), ("进阶 2", 2), ("深入 3", 3)], value=[1, 2, 3],
                                          label="难度 Difficulty", scale=2, elem_id="difficulty")
            follow_ups = gr.Checkbox(value=True, label="追问 Follow-ups", scale=1, elem_id="follow-ups")
        with gr.Row():
            start = gr.Button("开始模拟面试 Start", variant="primary", elem_id="start")
            hint = gr.Button("提示 Hint", elem_id="hint")
            skip = gr.Button("跳过 Skip", elem_id="skip")
            end = gr.Button("结束 End", elem_id="end")
            again = gr.Button("再练这些 Practise these again", visible=False, elem_id="again")
        summary_table = gr.Dataframe(visible=False, label="面试小结 Summary", elem_id="summary-table", wrap=True,
                                     datatype=["number", "markdown", "str", "str", "str", "str", "markdown"],
                                     latex_delimiters=LATEX,
                                     column_widths=["4%", "30%", "11%", "6%", "6%", "11%", "32%"])
        summary_chart = gr.BarPlot(visible=False, x="题 question", y="得分 score", y_lim=[0, 100],
                                   label="得分 Scores", elem_id="summary-chart")
    view = ChatView(ui, state, chatbot, message, related, topics, count, start, hint, skip, end,
                    summary_table, summary_chart, again)
    settings = [language, difficulty, follow_ups]
    private = {"api_visibility": "private"}
    for trigger in (message.submit, send.click):
        trigger(ui.guarded(bind(on_message, view)), [message, chatbot, state], view.outputs, **private)
    related.click(ui.guarded(bind(on_related, view)), [related, chatbot, state], view.outputs, **private)
    start.click(ui.guarded(bind(on_start, view)), [topics, count, *settings, chatbot, state], view.outputs, **private)
    again.click(ui.guarded(bind(on_again, view)), [*settings, chatbot, state], view.outputs, **private)
    for button, command in ((hint, "/hint"), (skip, "/skip"), (end, "/end")):
        button.click(ui.guarded(bind(on_button, view, command)), [chatbot, state], view.outputs, **private)
    return view


# handlers ------------------------------------------------------------------------------
def on_message(view: ChatView, message: str, history: list, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    history = list(history or [])
    if not (message or "").strip():
        gr.Info("请输入一个问题或回答。Please type a question or an answer.")
        return {view.state: session}
    try:
        message = check_text(message, "the message")
    except InputError as error:  # the text stays in the box, to be shortened
        gr.Warning(str(error))
        return {view.state: session}
    command = parse_command(message, _topic_names(view))
    in_interview = session.interview is not None and not session.interview.finished
    if command and command.kind == CommandKind.INTERVIEW:
        return interview.requested(view, session, history, message, command)
    if command and command.kind == CommandKind.HELP:
        return said(view, session, history + [user_bubble(message), bot(render.markdown_html(HELP))])
    if in_interview:
        return interview.turn(view, session, history, message, command)
    if command and command.slash:
        reply = render.paragraph("当前没有进行中的模拟面试。No interview in progress: start one first.")
        return said(view, session, history + [user_bubble(message), bot(render.message(reply))])
    return answer(view, session, history, message)


def answer(view: ChatView, session: Session, history: list, message: str) -> dict:
    """A question: the notes' answer (follow-ups use the last card), or "not in my notes"."""
    history.append(user_bubble(message))
    try:
        conversation = Conversation(view.ui.tutor.retriever, session.last_card)
        reply = conversation.ask(message, k=3)
    except IndexNotReady as error:
        return said(view, session, history + [bot(render.message(render.error(str(error))))])
    session.last_card = conversation.last_card
    history.append(bot(render.reply_html(reply)))
    related = [[c.question] for c in reply.related] if reply.kind != ReplyKind.NOT_COVERED else []
    return {**said(view, session, history), view.related: gr.update(samples=related, visible=bool(related))}


def on_start(view: ChatView, topics: list, count: float, language: str, difficulty: list, follow_ups: bool,
             history: list, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    settings = interview_settings(language, difficulty, follow_ups)
    return interview.start(view, session, list(history or []), list(topics or []), int(count), settings=settings)


def on_again(view: ChatView, language: str, difficulty: list, follow_ups: bool, history: list,
             state: Session | None, request: gr.Request) -> dict:
    """The last interview's questions that went less than well, once more."""
    session = view.ui.session_of(state, request)
    history = list(history or []) + [user_bubble("再练这些 Practise these again")]
    ids = session.again_ids
    settings = interview_settings(language, difficulty, follow_ups)
    return interview.start(view, session, history, [], max(1, len(ids)), card_ids=ids, settings=settings)


def interview_settings(language: str, difficulty: list, follow_ups: bool) -> InterviewSettings:
    chosen = frozenset(int(d) for d in difficulty or []) or frozenset({1, 2, 3})
    return InterviewSettings(language="en" if language == "en" else "zh", difficulties=chosen,
                             follow_ups=bool(follow_ups))


def on_button(view: ChatView, command: str, history: list, state: Session | None, request: gr.Request) -> dict:
    return on_message(view, command, history, state, request)


def on_related(view: ChatView, sample: list, history: list, state: Session | None, request: gr.Request) -> dict:
    return on_message(view, sample[0], history, state, request)


def _topic_names(view: ChatView) -> list[str]:
    try:
        return [name for name, _ in view.ui.tutor.topics()]
    except IndexNotReady:
        return []
