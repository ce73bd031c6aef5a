"""The mock interview in the chat: starting one, each turn (answer, hint, skip, end) and
the summary with its table and chart. Called by chat.py and progress.py."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from ..commands import Command, CommandKind
from ..errors import TutorError
from ..grading import Band
from ..interview import Feedback, Interview
from ..progress import AttemptKind, ProgressError
from ..service import InterviewSettings
from . import render
from .chatview import ChatView, bot, said, user_bubble
from .context import Session


def requested(view: ChatView, session: Session, history: list, message: str, command: Command) -> dict:
    """`/interview [topic] [n]` typed in the chat."""
    history.append(user_bubble(message))
    if command.unknown:
        names = [name for name, _ in view.ui.tutor.topics()]
        reply = render.paragraph(f"没有找到主题「{command.unknown}」。可选主题 topics: " + "、".join(names))
        return said(view, session, history + [bot(render.message(reply))])
    settings = InterviewSettings(language=command.language)
    return start(view, session, history, command.topics, command.count, settings=settings)


def start(view: ChatView, session: Session, history: list, topics: list[str], count: int,
          card_ids: list[str] | None = None, settings: InterviewSettings | None = None) -> dict:
    learner = view.ui.learner(session)
    try:
        session.interview = learner.start_interview(topics or None, count, card_ids=card_ids, settings=settings)
        due_ids = {card.id for card, _ in learner.due()}
    except (TutorError, ProgressError) as error:
        return said(view, session, history + [bot(render.message(render.error(str(error))))])
    interview = session.interview
    scope = "、".join(topics) if topics else "全部主题 all topics"
    reviews = sum(card.id in due_ids for card in interview.cards)
    intro = (f"好的，开始模拟面试：{scope}，共 {len(interview.cards)} 题"
             + (f"（其中 {reviews} 题到期复习 due for review）" if reviews else "")
             + "。直接在输入框作答；/hint 提示，/skip 跳过，/end 结束。")
    first = interview.current
    history.append(bot(render.message(render.paragraph(intro), prompt(interview, first.prompt, first.kind))))
    return {**said(view, session, history), view.related: gr.update(samples=[], visible=False),
            view.summary_table: gr.update(value=None, visible=False),
            view.summary_chart: gr.update(value=None, visible=False), view.again: gr.update(visible=False)}


def turn(view: ChatView, session: Session, history: list, message: str, command: Command | None) -> dict:
    """The learner's reply to the question in progress, or a hint / skip / end."""
    interview = session.interview
    history.append(user_bubble(message))
    kind = command.kind if command else None
    if kind == CommandKind.HINT:
        history.append(bot(render.message(render.paragraph("💡 " + interview.hint()))))
    elif kind == CommandKind.SKIP:
        following, not_saved = interview.skip()
        parts = [render.paragraph("已跳过 skipped.")]
        if not_saved:
            parts.append(render.paragraph(f"⚠ 这次作答没有保存到进度 not saved to your progress: {not_saved}"))
        if following is not None:
            parts.append(prompt(interview, following.prompt, following.kind))
        history.append(bot(render.message(*parts)))
    elif kind == CommandKind.END:
        interview.end()
    else:
        feedback: Feedback = interview.answer(message)
        parts = [render.grade_html(feedback.grade, feedback.not_saved)]
        if feedback.next_prompt:
            parts += ["<hr>", prompt(interview, feedback.next_prompt, feedback.next_kind)]
        history.append(bot(render.message(*parts)))
    return finish_if_done(view, session, history)


def finish_if_done(view: ChatView, session: Session, history: list) -> dict:
    interview = session.interview
    if not interview.finished:
        return said(view, session, history)
    text, table, chart = summary_frames(interview)
    parts = [text]
    if interview.record is not None:
        parts.append(render.paragraph("已记入你的进度，到期复习安排见「进度」页。"
                                      "Saved to your progress: see the Progress tab for what is due."))
    history.append(bot(render.message(*parts)))
    session.interview = None
    session.again_ids = [turn.card.id for turn in interview.turns if turn.kind == AttemptKind.QUESTION
                         and (turn.grade is None or turn.grade.score < Band.GOOD)]
    return {**said(view, session, history), view.summary_table: gr.update(value=table, visible=True),
            view.summary_chart: gr.update(value=chart, visible=True),
            view.again: gr.update(visible=bool(session.again_ids))}


def prompt(interview: Interview, text: str, kind: AttemptKind) -> str:
    number, total = interview.progress
    topic = interview.cards[number - 1].topic
    return render.prompt_html(number, total, topic, text, kind == AttemptKind.FOLLOW_UP)


def summary_frames(interview: Interview) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    summary = interview.summary()
    table = pd.DataFrame([
        {"#": r.number, "问题": render.cell_html(r.question), "主题": r.topic,
         "得分": r.score if r.score is not None else "跳过",
         "追问": r.follow_up_score if r.follow_up_score is not None else "", "评价": r.verdict,
         "下一步 study next": f"<span>{render.study_html(r.study_next, r.question)}</span>" if r.study_next else ""}
        for r in summary.rows
    ])
    chart = pd.DataFrame({"题 question": [f"Q{r.number}" for r in summary.rows],
                          "得分 score": [r.score or 0 for r in summary.rows]})
    return render.summary_html(summary), table, chart
