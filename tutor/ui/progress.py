"""The progress tab: one user's attempts, what is due, mastery by topic, the weakest cards
(practise them), and exports (the CSV goes straight into that user's browser)."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ..errors import TutorError
from ..progress import AttemptKind, ProgressError
from ..service import Learner
from . import interview, render
from .chat import LATEX
from .chatview import ChatView, bot, said, user_bubble
from .context import UI, Session, bind

PRACTISE_COUNT = 5
TABLE_COLUMNS = ["问题 question", "主题 topic"]
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


@dataclass
class ProgressView:
    ui: UI
    state: gr.State
    summary: gr.Markdown
    mastery_chart: gr.BarPlot
    score_chart: gr.LinePlot
    practise: gr.Button
    weak_table: gr.Dataframe
    due_table: gr.Dataframe
    export_csv: gr.Textbox
    export_files: gr.File

    @property
    def outputs(self) -> list:
        return [self.summary, self.mastery_chart, self.score_chart, self.due_table, self.weak_table, self.practise,
                self.state]


def build(ui: UI, state: gr.State, tab: gr.Tab, tabs: gr.Tabs, chat: ChatView) -> ProgressView:
    summary = gr.Markdown(elem_id="progress-summary")
    with gr.Row():
        mastery_chart = gr.BarPlot(x="主题 topic", y="掌握度 mastery %", y_lim=[0, 100], visible=False,
                                   label="各主题掌握度 Mastery by topic", elem_id="mastery-chart")
        score_chart = gr.LinePlot(x="时间 time", y="得分 score", y_lim=[0, 100], visible=False,
                                  label="得分变化 Score over time", elem_id="score-chart")
    with gr.Row():
        practise = gr.Button("练习这些 Practise these", variant="primary", interactive=False, elem_id="practise")
        refresh = gr.Button("刷新 Refresh", elem_id="refresh-progress")
        export = gr.Button("导出 Export (CSV + Anki)", elem_id="export")
    tables = {"interactive": False, "wrap": True, "datatype": ["markdown", "str", "str", "str"],
              "latex_delimiters": LATEX, "column_widths": ["64%", "16%", "10%", "10%"]}
    weak_table = gr.Dataframe(elem_id="weak-table", label="最薄弱的卡片 Weakest cards（「练习这些」会逐一再问）", **tables)
    due_table = gr.Dataframe(elem_id="due-table", label="今天到期 Due today", **tables)
    export_csv = gr.Textbox(visible=False, elem_id="export-csv")
    export_files = gr.File(label="导出文件 Exports (Anki deck; the CSV downloads directly)", file_count="multiple",
                           visible=False, elem_id="export-files")
    view = ProgressView(ui, state, summary, mastery_chart, score_chart, practise, weak_table, due_table,
                        export_csv, export_files)
    private = {"api_visibility": "private"}
    for trigger in (tab.select, refresh.click):
        trigger(ui.guarded(bind(on_progress, view)), [state], view.outputs, **private)
    practise.click(ui.guarded(bind(on_practise, view, chat, tabs)), [chat.chatbot, state], [*chat.outputs, tabs],
                   **private)
    export.click(ui.guarded(bind(on_export, view)), [state], [export_csv, export_files], **private).then(
        None, [export_csv], None, js=DOWNLOAD_CSV_JS, **private)
    return view


# handlers ------------------------------------------------------------------------------
def on_progress(view: ProgressView, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    try:
        shown = progress_frames(view.ui.learner(session))
    except (ProgressError, TutorError) as error:
        return {view.summary: render.message(render.error(str(error))), view.practise: gr.update(interactive=False),
                view.state: session}
    session.practise_ids = shown["practise"]
    return {view.summary: shown["headline"],
            view.mastery_chart: gr.update(value=shown["mastery"], visible=not shown["mastery"].empty),
            view.score_chart: gr.update(value=shown["scores"], visible=not shown["scores"].empty),
            view.due_table: shown["due"], view.weak_table: shown["weak"],
            view.practise: gr.update(interactive=bool(session.practise_ids)), view.state: session}


def on_practise(view: ProgressView, chat: ChatView, tabs: gr.Tabs, history: list, state: Session | None,
                request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    history = list(history or [])
    to_chat = {tabs: gr.update(selected="chat")}
    if not session.practise_ids:
        nothing = render.message(render.paragraph("还没有需要练习的卡片。Nothing to practise yet."))
        return {**said(chat, session, history + [bot(nothing)]), **to_chat}
    history.append(user_bubble("练习这些 Practise these"))
    ids = session.practise_ids
    return {**interview.start(chat, session, history, [], len(ids), card_ids=ids), **to_chat}


def on_export(view: ProgressView, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    try:
        csv_text = view.ui.learner(session).attempts_csv()
        deck = str(view.ui.tutor.export_anki())
    except (ProgressError, TutorError, ValueError, OSError) as error:
        raise gr.Error(f"导出失败 export failed: {error}") from None
    return {view.export_csv: csv_text, view.export_files: gr.update(value=[deck], visible=True)}


# display -------------------------------------------------------------------------------
def progress_frames(learner: Learner) -> dict:
    """Everything the progress tab shows, for one learner."""
    report = learner.report()
    due = learner.due_today()
    weakest = learner.weakest(PRACTISE_COUNT)
    title = f"<h3>{render.escape(learner.user)} 的进度 · Progress</h3>"
    if report.attempts:
        counts = (f"<p>作答 attempts <strong>{report.attempts}</strong> · 现在到期 due now <strong>{report.due}</strong>"
                  f" · 今天到期 due today <strong>{len(due)}</strong></p>")
        lines = [title, counts]
        if report.topics:
            lines.append(render.paragraph("最薄弱的主题 weakest topics：" + "、".join(t.topic for t in report.topics[:3])))
        headline = render.message(*lines)
    else:
        headline = render.message(title, render.paragraph(
            "还没有练习记录。在「对话」里开始一次模拟面试吧。No practice yet: start a mock interview in the Chat tab."))
    attempts = learner.attempts(AttemptKind.QUESTION)
    return {
        "headline": headline,
        "mastery": pd.DataFrame({"主题 topic": [t.topic for t in report.topics],
                                 "掌握度 mastery %": [round(t.mastery * 100) for t in report.topics]}),
        "scores": pd.DataFrame({"时间 time": [a.at.astimezone().replace(tzinfo=None) for a in attempts],
                                "得分 score": [a.score if a.score is not None else 0 for a in attempts]}),
        "due": pd.DataFrame([{**_row(c), "到期 due": s.due.astimezone().strftime("%m-%d %H:%M"), "上次 last": _last(s)}
                             for c, s in due], columns=[*TABLE_COLUMNS, "到期 due", "上次 last"]),
        "weak": pd.DataFrame([{**_row(c), "上次 last": _last(s), "复习 reviews": s.reviews} for c, s in weakest],
                             columns=[*TABLE_COLUMNS, "上次 last", "复习 reviews"]),
        "practise": [c.id for c, _ in weakest],
    }


def _row(card) -> dict:
    return {"问题 question": render.cell_html(card.question), "主题 topic": card.topic}


def _last(schedule) -> int | str:
    return "跳过" if schedule.last_score is None else schedule.last_score
