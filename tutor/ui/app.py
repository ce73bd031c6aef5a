"""The web UI: the page (status line, tabs), its wiring, and the server start.

A thin adapter over `tutor.service.Tutor`: every decision lives in the core; the tab
modules turn results into chat messages, tables and charts and keep per-session state.
The page opens at once: the notes are indexed in the background (progress at the top)
and questions are answered from the previous index meanwhile.

With TUTOR_AUTH set, every page and API call needs a login and works on the logged-in
user's progress only; without it everything belongs to one local user.
"""
from __future__ import annotations

import logging
import os
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an offline tool phones no one
# The client address (login back-off, request share) is the socket's: no X-Forwarded-For is
# believed unless this names the proxy in front of the app.
os.environ.setdefault("FORWARDED_ALLOW_IPS", "")

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ..errors import TutorError  # noqa: E402
from ..service import Tutor  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..users import Accounts  # noqa: E402
from . import api, chat, knowledge, progress  # noqa: E402
from .context import UI, Session, bind  # noqa: E402
from .server import InertPages, ThrottledLogins  # noqa: E402

log = logging.getLogger(__name__)
CSS = """
.gradio-container {max-width: 1100px !important; margin: auto;}
#related .label {font-weight: 600;}
"""
THEME = dict(font=["system-ui", "PingFang SC", "Noto Sans CJK SC", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_app(tutor: Tutor, accounts: Accounts | None = None) -> gr.Blocks:
    ui = UI(tutor, accounts)
    # delete_cache: Gradio's copies of uploads and exported decks are dropped after an hour
    with gr.Blocks(title="LLM 面试辅导 · Interview Tutor", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        state = gr.State(Session.unbound)  # called once per browser session
        gr.Markdown("## LLM 面试辅导 · Interview Tutor\n基于你的笔记回答问题、模拟面试并评分。"
                    "Answers come from your notes, with sources; mock interviews are graded against them.")
        status = gr.Markdown(elem_id="index-status")
        ticker = gr.Timer(2.0, active=False)
        with gr.Tabs() as tabs:
            with gr.Tab("对话 Chat", id="chat"):
                chat_view = chat.build(ui, state)
            with gr.Tab("知识库 Knowledge", id="knowledge"):
                knowledge_view = knowledge.build(ui, state, status, ticker, chat_view)
            with gr.Tab("进度 Progress", id="progress") as progress_tab:
                progress.build(ui, state, progress_tab, tabs, chat_view)
        page.load(bind(knowledge.on_load, knowledge_view), [state], knowledge.refreshed_outputs(knowledge_view),
                  api_visibility="private")
        api.build(ui)
    return page


def serve(settings: Settings, accounts: Accounts | None) -> None:
    """Start indexing in the background and serve the page (blocks until stopped)."""
    started = time.perf_counter()
    tutor = Tutor(settings)
    _ = tutor.progress  # open the progress database now: a damaged one stops the start, loudly
    log.info("model and stores ready in %.1fs", time.perf_counter() - started)
    tutor.start_indexing()
    threading.Thread(target=report_first_index, args=(tutor,), name="tutor-first-index", daemon=True).start()
    log.info("indexing %s in the background; serving on http://%s:%d", settings.knowledge_dir, settings.host,
             settings.port)
    if accounts:
        log.info("login required: %d accounts from TUTOR_AUTH", len(accounts.passwords))
    page = build_app(tutor, accounts)
    page.queue(default_concurrency_limit=8, max_size=256)
    middleware = [Middleware(InertPages), Middleware(ThrottledLogins)]
    page.launch(server_name=settings.host, server_port=settings.port, theme=gr.themes.Soft(**THEME), css=CSS,
                footer_links=["api"], show_error=True, max_file_size="1mb",
                auth=accounts.check if accounts else None,
                auth_message="登录 Log in to your tutor (after 5 failed attempts, each further attempt waits longer)",
                app_kwargs={"middleware": middleware})


def report_first_index(tutor: Tutor) -> None:
    """Say on the console when the first background sync is done (scripts wait for it)."""
    tutor.indexer.wait()
    status = tutor.indexing_status()
    if status.error:
        log.error("error: indexing failed: %s", status.error)
    elif status.report:
        report = status.report
        log.info("ready: %d cards (%d added, %d updated, %d removed, %d skipped) in %.1fs", report.cards,
                 report.added, report.updated, report.removed, report.skipped, report.seconds)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("tutor").setLevel(logging.INFO)  # ours, with timings; libraries stay quiet
    try:
        settings = Settings.from_env()
        accounts = Accounts.parse(settings.auth) if settings.auth else None
        if not settings.knowledge_dir.is_dir():
            raise TutorError(f"notes folder not found: {settings.knowledge_dir}")
        serve(settings, accounts)
    except TutorError as error:  # settings, logins, store, model, progress database
        log.error("error: %s", error)
        return 1
    return 0
