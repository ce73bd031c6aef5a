"""The chat's components and the pieces of a chat turn shared by chat.py and interview.py."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import render
from .context import UI, Session


@dataclass
class ChatView:
    ui: UI
    state: gr.State
    chatbot: gr.Chatbot
    message: gr.Textbox
    related: gr.Dataset
    topics: gr.Dropdown
    count: gr.Slider
    start: gr.Button
    hint: gr.Button
    skip: gr.Button
    end: gr.Button
    summary_table: gr.Dataframe
    summary_chart: gr.BarPlot
    again: gr.Button  # "practise these again", shown after an interview that had some

    @property
    def outputs(self) -> list:
        return [self.chatbot, self.message, self.state, self.related, self.summary_table, self.summary_chart,
                self.again]


def said(view: ChatView, session: Session, history: list) -> dict:
    """The chat after a turn: the history shown, the input box cleared."""
    return {view.chatbot: history, view.message: "", view.state: session}


def user_bubble(message: str) -> dict:
    return {"role": "user", "content": render.message(render.markdown_html(message))}


def bot(content: str) -> dict:
    return {"role": "assistant", "content": content}
