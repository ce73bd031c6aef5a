"""The knowledge tab: browse and search the cards, read one, upload notes; and the page's
indexing status, refreshed while a background sync runs."""
from __future__ import annotations

import os
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ..errors import IndexNotReady, InputError
from ..indexing import IndexingStatus
from ..notes import Card
from . import render
from .chat import LATEX, ChatView
from .context import UI, Session, bind

ALL_TOPICS = "全部 all"
CARD_COLUMNS = ["问题 question", "主题 path", "来源 source", "难度 difficulty"]
SKIPPED_COLUMNS = ["文件 file", "行 line", "标题 heading", "原因 reason"]


@dataclass
class KnowledgeView:
    ui: UI
    state: gr.State
    status: gr.Markdown  # the page's indexing line (above the tabs)
    ticker: gr.Timer  # runs while indexing, to refresh the status and the lists
    topic_filter: gr.Dropdown
    search: gr.Textbox
    cards: gr.Dataframe
    count: gr.Markdown
    card_view: gr.Markdown
    upload: gr.File
    upload_status: gr.Markdown
    skipped: gr.Dataframe
    chat_topics: gr.Dropdown  # the interview's topic choice lives in the chat tab


def build(ui: UI, state: gr.State, status: gr.Markdown, ticker: gr.Timer, chat: ChatView) -> KnowledgeView:
    with gr.Row():
        topic_filter = gr.Dropdown(choices=[ALL_TOPICS], value=ALL_TOPICS, label="主题 Topic", scale=1,
                                   elem_id="topic-filter")
        search = gr.Textbox(label="搜索 Search", placeholder="关键词或问题 keyword or question", scale=3, elem_id="search")
    cards = gr.Dataframe(value=card_table([]), interactive=False, wrap=True, max_height=380, elem_id="cards",
                         label="卡片 Cards（点击查看 click to view）", datatype=["markdown", "str", "str", "str"],
                         latex_delimiters=LATEX, column_widths=["56%", "22%", "14%", "8%"])
    count = gr.Markdown(elem_id="card-count")
    card_view = gr.Markdown(latex_delimiters=LATEX, elem_id="card-view")
    with gr.Accordion("上传笔记 Upload notes (.md, UTF-8, ≤ 1 MiB)", open=False):
        upload = gr.File(file_count="multiple", file_types=[".md", ".markdown"], label="Markdown 笔记", elem_id="upload")
        upload_button = gr.Button("加入并索引 Add & index", variant="primary", elem_id="upload-button")
        upload_status = gr.Markdown(elem_id="upload-status")
    with gr.Accordion("无法使用的章节 Sections without a usable answer", open=False):
        skipped = gr.Dataframe(value=pd.DataFrame(columns=SKIPPED_COLUMNS), interactive=False, wrap=True,
                               elem_id="skipped")
    view = KnowledgeView(ui, state, status, ticker, topic_filter, search, cards, count, card_view, upload,
                         upload_status, skipped, chat.topics)
    private = {"api_visibility": "private"}
    for trigger in (topic_filter.input, search.submit):
        trigger(ui.guarded(bind(on_filter, view)), [topic_filter, search, state], [cards, count, state], **private)
    cards.select(bind(on_card, view), [state], card_view, **private)
    upload_button.click(ui.guarded(bind(on_upload, view)), [upload, state], [upload_status, ticker], **private)
    refreshed = [status, ticker, cards, count, skipped, topic_filter, chat.topics, state]
    ticker.tick(bind(on_tick, view), [state], refreshed, show_progress="hidden", **private)
    return view


def refreshed_outputs(view: KnowledgeView) -> list:
    return [view.status, view.ticker, view.cards, view.count, view.skipped, view.topic_filter, view.chat_topics,
            view.state]


# handlers ------------------------------------------------------------------------------
def on_load(view: KnowledgeView, state: Session | None, request: gr.Request) -> dict:
    """A page (newly opened, or after indexing) shows the notes as they are now."""
    session = view.ui.session_of(state, request)
    cards = _cards(view, "", None)
    session.shown_cards = [c.id for c in cards]
    names = _topic_names(view)
    status = view.ui.tutor.indexing_status()
    return {view.status: status_html(status), view.ticker: gr.Timer(active=status.running),
            view.cards: card_table(cards), view.count: count_html(view, len(cards)), view.skipped: skipped_table(view),
            view.topic_filter: gr.update(choices=[ALL_TOPICS] + names, value=ALL_TOPICS),
            view.chat_topics: gr.update(choices=names), view.state: session}


def on_tick(view: KnowledgeView, state: Session | None, request: gr.Request) -> dict:
    """While indexing: the progress line; when it ends, the lists refreshed."""
    status = view.ui.tutor.indexing_status()
    if status.running:
        return {view.status: status_html(status)}
    return on_load(view, state, request)


def on_filter(view: KnowledgeView, topic: str, query: str, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    cards = _cards(view, query, None if topic in (None, "", ALL_TOPICS) else topic)
    session.shown_cards = [c.id for c in cards]
    return {view.cards: card_table(cards), view.count: count_html(view, len(cards)), view.state: session}


def on_card(view: KnowledgeView, state: Session | None, event: gr.SelectData, request: gr.Request) -> str:
    session = view.ui.session_of(state, request)
    row = event.index[0] if isinstance(event.index, (list, tuple)) and event.index else event.index
    valid = isinstance(row, int) and 0 <= row < len(session.shown_cards)  # event data is the client's
    wanted = session.shown_cards[row] if valid else None
    try:
        card = view.ui.tutor.card(wanted) if wanted else None
    except IndexNotReady:
        card = None
    return render.card_html(card) if card else render.message(render.paragraph("（未找到 not found）"))


def on_upload(view: KnowledgeView, files: list | None, state: Session | None, request: gr.Request) -> dict:
    session = view.ui.session_of(state, request)
    if not files:
        return {view.upload_status: render.message(render.paragraph("请先选择 .md 文件。Choose .md files first."))}
    added, problems = [], []
    for file in files:
        path = getattr(file, "name", file)
        original = getattr(file, "orig_name", None) or os.path.basename(path)
        try:
            added.append(view.ui.tutor.add_note(original, path, user=session.user).name)
        except (InputError, OSError) as error:
            problems.append(str(error))
    lines = [render.paragraph(f"✗ {p}") for p in problems]
    if added:
        view.ui.tutor.start_indexing()
        lines.insert(0, render.paragraph(f"✓ 已加入 added {', '.join(added)}：正在后台索引，进度见页面顶部。"
                                         "Indexing in the background: progress at the top of the page."))
    return {view.upload_status: render.message(*lines), view.ticker: gr.Timer(active=bool(added))}


# display -------------------------------------------------------------------------------
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


def card_table(cards: list[Card]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"问题 question": render.cell_html(c.question), "主题 path": c.heading_path,
          "来源 source": c.location, "难度 difficulty": c.difficulty or ""} for c in cards],
        columns=CARD_COLUMNS,
    )


def count_html(view: KnowledgeView, shown: int) -> str:
    try:
        total = len(view.ui.tutor.retriever.cards)
    except IndexNotReady:
        return render.message(render.paragraph("索引中 indexing…"))
    topics = len(_topic_names(view))
    return render.message(render.paragraph(
        f"显示 {shown} / 共 {total} 张卡片，{topics} 个主题 · showing {shown} of {total} cards in {topics} topics"))


def skipped_table(view: KnowledgeView) -> pd.DataFrame:
    report = view.ui.tutor.last_report
    return pd.DataFrame(
        [{"文件 file": s.source, "行 line": s.line or "", "标题 heading": s.question, "原因 reason": s.reason}
         for s in (report.skipped_details if report else [])],
        columns=SKIPPED_COLUMNS,
    )


def _cards(view: KnowledgeView, query: str, topic: str | None) -> list[Card]:
    try:
        return view.ui.tutor.find_cards(query, topic)
    except IndexNotReady:
        return []


def _topic_names(view: KnowledgeView) -> list[str]:
    try:
        return [name for name, _ in view.ui.tutor.topics()]
    except IndexNotReady:
        return []
