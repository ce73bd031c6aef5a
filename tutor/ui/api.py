"""The HTTP API for scripts: /ask, /grade and /progress, the command line's JSON. The user
is the login's; a refused call (bad input, busy) answers {"error": ...} for that call only."""
from __future__ import annotations

import gradio as gr

from ..errors import TutorError
from ..progress import ProgressError
from ..service import GradeNotSaved
from .context import UI, bind


def build(ui: UI) -> None:
    for handler, name in ((api_ask, "ask"), (api_grade, "grade"), (api_progress, "progress")):
        gr.api(ui.guarded(bind(handler, ui), on_busy=_refused), api_name=name)


def _refused(error: Exception) -> dict:
    return {"error": str(error)}


def api_ask(ui: UI, question: str, request: gr.Request) -> dict:
    """Answer a question from the notes: the command line's `ask --json` object."""
    ui.user_of(request)
    try:
        return ui.tutor.ask(question, k=3).to_dict()
    except TutorError as error:
        return {"error": str(error)}


def api_grade(ui: UI, question: str, answer: str, request: gr.Request) -> dict:
    """Grade an answer against the closest card and record it in the caller's progress:
    the command line's grade JSON."""
    learner = ui.tutor.learner(ui.user_of(request))
    try:
        return learner.grade(question, answer).to_dict()
    except GradeNotSaved as error:  # the grade stands; say it was not recorded
        return {**error.grade.to_dict(), "not_saved": str(error)}
    except TutorError as error:
        return {"error": str(error)}


def api_progress(ui: UI, request: gr.Request) -> dict:
    """The caller's progress: the command line's progress JSON."""
    try:
        return ui.tutor.learner(ui.user_of(request)).report().to_dict()
    except (ProgressError, TutorError) as error:
        return {"error": str(error)}
