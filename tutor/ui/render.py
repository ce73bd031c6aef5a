"""Safe HTML for everything the web UI shows: notes, messages, grades, summaries.

Notes are shared by every user of a server and messages come from anyone, so their text
is untrusted. It is parsed with markdown-it (raw HTML off: HTML in a note is shown as
text) and rendered by rules that keep the result inert whatever renders it next:
- every text node is escaped, and the Markdown punctuation in it (and what would make a
  bare URL a link) is written as character references, which no Markdown parser reads
  as syntax;
- images become links: an offline tool fetches nothing from other hosts; links open in a
  new tab without referrer (markdown-it already refuses javascript:, data: and file:);
- $...$ / $$...$$ math stays text for the page's KaTeX; every other `$` is a reference in
  an element of its own, so the page's LaTeX scan only pairs the math emitted here;
- the output has no blank line: Gradio's Markdown layer passes an HTML block through
  untouched until a blank line, so each fragment stays one block.
"""
from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from mdit_py_plugins.dollarmath import dollarmath_plugin

from ..conflicts import Conflict, ConflictKind
from ..conversation import Reply, ReplyKind, not_covered_message
from ..followups import key_line
from ..grading import Grade, code_lines, is_code_point
from ..interview import Summary
from ..notes import Card

# `:` and `@` too: a Markdown layer that links bare URLs and e-mail addresses finds none
_SYNTAX = "&<>\"'`*_[]!\\~|#:@"
_TEXT = str.maketrans({ch: f"&#{ord(ch)};" for ch in _SYNTAX} | {"$": "<span>&#36;</span>"})
_WWW = re.compile(r"(www)\.", re.I)
_CODE = str.maketrans({ch: f"&#{ord(ch)};" for ch in _SYNTAX + "$"} | {"\n": "&#10;"})
_MATH = str.maketrans({ch: f"&#{ord(ch)};" for ch in _SYNTAX + "$"} | {"\n": " "})
_ATTRIBUTE = str.maketrans({ch: f"&#{ord(ch)};" for ch in "&<>\"'`$"})  # opaque to Markdown already
_LANGUAGE = re.compile(r"[\w+-]{1,30}")
# Links in shared notes go to other sites or within the page; a same-site path (/logout)
# or a protocol-relative one (//host) would act for, or mislead, whoever clicks.
_SAFE_LINK = re.compile(r"^(https?://|mailto:|#)", re.I)


def escape(text: str) -> str:
    """Plain text (names, topics, errors) as inert HTML, line breaks as <br>."""
    return _WWW.sub(r"\1&#46;", str(text).translate(_TEXT)).replace("\r", "").replace("\n", "<br>")


def _attribute(value: str) -> str:
    return str(value).translate(_ATTRIBUTE)


class _InertRenderer(RendererHTML):
    def renderAttrs(self, token) -> str:  # noqa: N802 (markdown-it's name)
        return "".join(f' {name}="{_attribute(value)}"' for name, value in (token.attrs or {}).items())

    def text(self, tokens, idx, options, env) -> str:
        return escape(tokens[idx].content)

    def html_inline(self, tokens, idx, options, env) -> str:  # unreachable with html off; kept inert anyway
        return escape(tokens[idx].content)

    html_block = html_inline

    def code_inline(self, tokens, idx, options, env) -> str:
        return f"<code>{tokens[idx].content.translate(_CODE)}</code>"

    def fence(self, tokens, idx, options, env) -> str:
        token = tokens[idx]
        language = token.info.strip().split(" ")[0] if token.info else ""
        css = f' class="language-{language}"' if _LANGUAGE.fullmatch(language) else ""
        return f"<pre><code{css}>{token.content.translate(_CODE)}</code></pre>\n"

    def code_block(self, tokens, idx, options, env) -> str:
        return f"<pre><code>{tokens[idx].content.translate(_CODE)}</code></pre>\n"

    def softbreak(self, tokens, idx, options, env) -> str:
        return " " if env.get("inline") else "\n"

    def image(self, tokens, idx, options, env) -> str:
        token = tokens[idx]
        alt = escape("".join(child.content for child in token.children or []) or "image")
        source = str(token.attrGet("src") or "")
        if re.match(r"https?://", source, re.I):  # shown as a link, never fetched by the page
            return f'<a href="{_attribute(source)}" target="_blank" rel="noopener noreferrer nofollow">🖼 {alt}</a>'
        return f"<span>🖼 {alt}</span>"

    def link_open(self, tokens, idx, options, env) -> str:
        href = str(tokens[idx].attrGet("href") or "")
        if not _SAFE_LINK.match(href):
            return "<span>"
        env.setdefault("links", []).append(True)
        return f'<a href="{_attribute(href)}" target="_blank" rel="noopener noreferrer nofollow">'

    def link_close(self, tokens, idx, options, env) -> str:
        return "</a>" if env.get("links") and env["links"].pop() else "</span>"

    def heading_open(self, tokens, idx, options, env) -> str:
        return "<h4>"  # a heading inside an answer must not outshout the card's question

    def heading_close(self, tokens, idx, options, env) -> str:
        return "</h4>\n"

    def math_inline(self, tokens, idx, options, env) -> str:
        return f"${tokens[idx].content.translate(_MATH)}$"

    def math_inline_double(self, tokens, idx, options, env) -> str:
        return f"$${tokens[idx].content.translate(_MATH)}$$"

    def math_block(self, tokens, idx, options, env) -> str:
        return f"<div class=\"math\">$${tokens[idx].content.translate(_MATH)}$$</div>\n"

    math_block_label = math_block


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False},
                        renderer_cls=_InertRenderer)
    parser.enable(["table", "strikethrough"])
    parser.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    renderer = parser.renderer  # the plugin installs its own math rules: ours go back on top
    for name in ("math_inline", "math_inline_double", "math_block", "math_block_label"):
        renderer.rules[name] = getattr(renderer, name)
    return parser


_PARSER = _markdown()
_BLANK_LINES = re.compile(r"\n\s*\n")


def markdown_html(text: str) -> str:
    """Untrusted Markdown (an answer, a message) as one inert HTML block."""
    rendered = _PARSER.render(str(text or ""), {"inline": False})
    return '<div class="md">' + _BLANK_LINES.sub("\n", rendered).strip() + "</div>"


def inline_html(text: str) -> str:
    """Untrusted one-line Markdown (a question, a key point) as inert inline HTML."""
    return _BLANK_LINES.sub(" ", _PARSER.renderInline(str(text or ""), {"inline": True})).strip()


def point_html(point: str) -> str:
    """A graded point: Markdown on one line, or a fenced code block (`grading.grading_points`)
    shown as code, its blank lines dropped (a message has none)."""
    if not is_code_point(point):
        return inline_html(point)
    code = "\n".join(line for line in code_lines(point) if line.strip())
    return "<pre><code>" + _WWW.sub(r"\1&#46;", code.translate(_TEXT)) + "</code></pre>"


def study_html(point: str, question: str = "") -> str:
    """The one thing to study next, in a summary's table cell: a point as `inline_html`; a
    code block by its key line (`followups.key_line`: the whole block does not fit a cell)."""
    if not is_code_point(point):
        return inline_html(point)
    line = key_line(point, question)
    return f"<code>{escape(line)}</code>" + ("" if line.endswith("…") else " …")


def cell_html(text: str) -> str:
    """inline_html for a table's Markdown cell: wrapped, so a question starting "1." or "-"
    is not read as a list by the table's Markdown layer."""
    return f"<span>{inline_html(text)}</span>"


# messages ------------------------------------------------------------------------------
# Each message is one <div> without blank lines (see the module doc); the parts below are
# joined with single newlines.
def message(*parts: str) -> str:
    return '<div class="msg">' + "\n".join(p for p in parts if p) + "</div>"


def paragraph(text: str) -> str:
    """One paragraph of our own plain text (escaped: it may quote the user)."""
    return f"<p>{escape(text)}</p>"


def error(text: str) -> str:
    return f"<p>⚠ {escape(text)}</p>"


def source_line(card: Card) -> str:
    path = card.heading_path
    return f"<p><sub>来源 source: <code>{escape(card.location)}</code>{' · ' + escape(path) if path else ''}</sub></p>"


def reply_html(reply: Reply) -> str:
    """A chat answer: the best card open, the others folded, or "not in my notes"."""
    if reply.kind == ReplyKind.NOT_COVERED:
        parts = [paragraph(not_covered_message(reply.unexplained))]
        if reply.related:
            parts.append(paragraph("笔记里最接近的主题 (nearest topics in the notes)："))
            items = "".join(f"<li><strong>{escape(c.topic)}</strong>：{inline_html(c.question)}</li>" for c in reply.related)
            parts.append(f"<ul>{items}</ul>")
        return message(*parts)
    parts = []
    for rank, hit in enumerate(reply.hits, start=1):
        card = hit.card
        body = markdown_html(card.answer) + "\n" + source_line(card)
        if rank == 1:
            parts.append(f"<h3>{inline_html(card.question)}</h3>\n{body}")
        else:  # the best match is open; the others wait behind their question
            label = "笔记里同一问题的另一份回答 also in your notes" if hit.same_question else "另见 see also"
            parts.append(f"<details><summary>{label}：{inline_html(card.question)}</summary>\n{body}\n</details>")
    if reply.kind == ReplyKind.EXPAND and reply.related:
        related = "；".join(inline_html(c.question) for c in reply.related)
        parts.append(f"<p><strong>相关问题 related:</strong> {related}</p>")
    return message(*parts)


def _notes_say(conflict: Conflict) -> str:
    if conflict.kind == ConflictKind.QUANTITY:
        return f"笔记里是 {escape(conflict.instead)}："
    if conflict.kind == ConflictKind.PREMISE:
        return f"而题目问的正是为什么不用 {escape(conflict.subject)}；笔记里说："
    return f"笔记里这是 {escape(conflict.instead)} 的："


def grade_html(grade: Grade, not_saved: str | None = None) -> str:
    parts = [f"<p><strong>得分 score: {grade.score}/100 · {escape(grade.verdict)}</strong></p>"]
    if grade.conflicts:  # first: a wrong fact matters more than a missed point
        items = "".join(f"<li>你说「{inline_html(c.said)}」，{_notes_say(c)}「{inline_html(c.note)}」</li>"
                        for c in grade.conflicts)
        parts.append(f"<p>⚠ 与笔记不符 contradicts your notes:</p>\n<ul>{items}</ul>")
    if grade.covered:
        items = "".join(f"<li>{point_html(p)}</li>" for p in grade.covered)
        parts.append(f"<p>✓ 答到的要点 covered:</p>\n<ul>{items}</ul>")
    if grade.missed:
        items = "".join(f"<li>{point_html(p)}</li>" for p in grade.missed)
        parts.append(f"<p>✗ 遗漏的要点 missed:</p>\n<ul>{items}</ul>")
    parts.append(f"<details><summary>参考答案 reference ({escape(grade.source)})</summary>\n"
                 f"{markdown_html(grade.reference)}\n</details>")
    for other in grade.references[1:]:  # the other note on the same question, its own points
        items = "".join([*(f"<li>✓ {point_html(p)}</li>" for p in other.covered),
                         *(f"<li>✗ {point_html(p)}</li>" for p in other.missed)])
        parts.append(f"<p>笔记里同一问题的另一份回答 also in your notes ({escape(other.source)}):</p>\n<ul>{items}</ul>")
    if not_saved:
        parts.append(paragraph(f"⚠ 这次作答没有保存到进度 not saved to your progress: {not_saved}"))
    return "\n".join(parts)


def prompt_html(number: int, total: int, topic: str, prompt: str, follow_up: bool) -> str:
    if follow_up:
        return f"<p>↪ {inline_html(prompt)}</p>"
    return f"<p>▶ <strong>第 {number}/{total} 题</strong> · {escape(topic)}</p>\n<p>{inline_html(prompt)}</p>"


def _study_cell(point: str | None, question: str, source: str) -> str:
    return study_html(point, question) + f" <sub>{escape(source)}</sub>" if point else "—"


def summary_html(summary: Summary) -> str:
    average = f"{summary.average:.0f}" if summary.average is not None else "—"
    rows = "".join(
        f"<tr><td>{r.number}</td><td>{inline_html(r.question)}</td>"
        f"<td>{r.score if r.score is not None else '—'}</td><td>{escape(r.verdict)}</td>"
        f"<td>{_study_cell(r.study_next, r.question, r.source)}</td></tr>"
        for r in summary.rows
    )
    head = "<tr><th>#</th><th>问题</th><th>得分</th><th>评价</th><th>下一步复习 study next</th></tr>"
    parts = ["<h3>面试结束 · Interview summary</h3>",
             f"<p>平均分 average <strong>{average}</strong>/100 · 作答 answered {summary.answered} · "
             f"跳过 skipped {summary.skipped}</p>",
             f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"]
    if summary.by_topic:
        topics = "；".join(f"{escape(t)} {s:.0f}" for t, s in summary.by_topic.items())
        parts.append(f"<p>按主题 by topic：{topics}</p>")
    return "\n".join(parts)


def card_html(card: Card) -> str:
    points = "".join(f"<li>{inline_html(p)}</li>" for p in card.key_points)
    return message(f"<h3>{inline_html(card.question)}</h3>", markdown_html(card.answer),
                   f"<p><strong>要点 key points</strong></p>\n<ul>{points}</ul>", source_line(card))
