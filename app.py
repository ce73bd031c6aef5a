"""Start the tutor's web UI: `python app.py` (settings: see README).

A minimal chat over the notes until the full UI lands: it builds or refreshes the index
on start (progress on the console), then answers questions with the matching note
answers and their sources, or says plainly that the notes do not cover the question.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an offline tool phones no one

import gradio as gr  # noqa: E402

from tutor.cli import NOT_COVERED  # noqa: E402
from tutor.notes import NotesError  # noqa: E402
from tutor.service import Answer, InputError, Tutor  # noqa: E402
from tutor.settings import Settings, SettingsError  # noqa: E402

MAX_MESSAGE_CHARS = 5000


def render_answer(answer: Answer) -> str:
    if not answer.hits:
        return NOT_COVERED
    parts = []
    for rank, hit in enumerate(answer.hits, start=1):
        card = hit.card
        heading = f"**{card.question}**" if rank == 1 else f"**相关 {rank}：{card.question}**"
        source = f"来源 source: `{card.source}:{card.line}` · {' > '.join(card.path)}"
        parts.append(f"{heading}\n\n{card.answer}\n\n<sub>{source}</sub>")
    return "\n\n---\n\n".join(parts)


def build_app(tutor: Tutor) -> gr.ChatInterface:
    def respond(message: str, history) -> str:
        message = (message or "").strip()
        if not message:
            return "请输入一个问题。(Please type a question.)"
        notice = ""
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS]
            notice = f"（问题过长，已截断为 {MAX_MESSAGE_CHARS} 字）\n\n"
        try:
            return notice + render_answer(tutor.ask(message, k=3))
        except InputError as error:
            return f"⚠️ {error}"

    return gr.ChatInterface(
        respond,
        title="LLM 面试辅导 · Interview Tutor",
        description="基于你的笔记回答问题并给出来源。Ask about your notes; answers cite file and heading.",
        examples=["为什么需要位置编码？", "What is a KV cache?", "RMSNorm 和 LayerNorm 有什么区别？"],
        analytics_enabled=False,
        api_name="ask",
    )


def main() -> int:
    def show(done: int, total: int) -> None:
        if total:
            print(f"\r  embedding {done}/{total} chunks", end="", flush=True)

    try:
        settings = Settings.from_env()
        tutor = Tutor(settings)
        print(f"checking the index of {settings.knowledge_dir} ...", flush=True)
        report = tutor.ingest(on_progress=show)
    except (SettingsError, NotesError, RuntimeError) as error:  # store and model errors are RuntimeErrors
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\nready: {report.cards} cards ({report.added} added, {report.updated} updated, "
          f"{report.removed} removed, {report.skipped} skipped) in {report.seconds:.1f}s", flush=True)
    tutor.retriever  # build now, not on the first question
    theme = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    build_app(tutor).launch(server_name=settings.host, server_port=settings.port, theme=theme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
