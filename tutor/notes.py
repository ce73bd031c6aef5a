"""Markdown notes -> question/answer cards.

The deepest heading that owns body text is a card's question, the headings above it are
its topic path, and the body is its answer; several questions under one heading, in the
forms question collections write them ("Q: … A: …", folded <details>, a numbered list of
questions, a question/answer table), are a card each (`_question_blocks`). Real notes are
messy, so every oddity is
handled here and either cleaned or reported, never allowed to crash ingestion:
`#` lines inside code fences, `**bold**` headings, image-only or TODO answers, HTML
entities, formulas pasted from web pages (rendered text followed by the LaTeX source
twice), empty, huge or non-UTF-8 files.
"""
from __future__ import annotations

import bisect
import hashlib
import html
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from .errors import TutorError

NOTE_SUFFIXES = (".md", ".markdown")
MAX_NOTE_BYTES = 5 * 1024 * 1024
MIN_ANSWER_CHARS = 8
MAX_KEY_POINTS = 24

# Only the document's structure is read with it (headings, fences, lists): the answer text
# itself is kept as written.
_STRUCTURE = MarkdownIt("commonmark").disable("inline")  # block structure only: much faster
# YAML front matter is metadata, not a paragraph over a setext `---` underline
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
METADATA_COMMENT = re.compile(r"<!--\s*((?:difficulty|tags|en)\s*:.*?)-->", re.S | re.I)
_URL_ONLY = re.compile(r"^\s*(?:[\w\u4e00-\u9fff]{0,12}\s*[:：]\s*)?<?https?://\S+>?\s*$", re.I)
_REFERENCE_LABEL = re.compile(r"^\s*(?:references?|refe?|参考(?:资料|文献|链接)?|来源)\s*[:：]?\s*$", re.I)
# Where a statement comes from rather than what it claims: a link with a paper's title ("Holtzman
# et al., The Curious Case of Neural Text Degeneration https://…"), a bare citation, or a result
# attributed to a paper ("秩塌缩的分析来自 Dong et al.（2021）。"). A learner's answer is not
# expected to cite papers, so such a statement is not a point to grade or to ask about; one
# that also claims something ("zero-shot CoT（Kojima et al., 2022）则不需要示例") is.
_URL = re.compile(r"https?://\S+", re.I)
# an author's name (not the tail of a longer word: "ACGTACGT…" is not tried at every capital)
_AUTHOR = r"(?<![A-Za-z0-9'’-])(?:(?:von|van|de|der|del|da|di|le)\s+)?[A-Z][\w'’-]*"
_YEAR = r"(?:[,，]?\s*(?:19|20)\d{2}[a-z]?|\s*[（(][^()（）\n]*?(?:19|20)\d{2}[^()（）\n]*[)）])"
_CITATION = re.compile(
    rf"{_AUTHOR}\s+et\s+al\.?(?:{_YEAR}|\s*[（(][^()（）\n]*[)）])?"  # "Liu et al.", "Liu et al.（Let's Verify…）"
    rf"|{_AUTHOR}(?:\s*等人?|\s+(?:and|&)\s+{_AUTHOR})?{_YEAR}")  # "Gao 等人（2022）", "Ioffe & Szegedy（2015）"
_CITED = "⟦cite⟧"  # a citation once marked: no comma or bracket of its own left to cut at
# "X 出自 ⟦cite⟧", "…的分析见 ⟦cite⟧ 和 ⟦cite⟧", "由 ⟦cite⟧ 提出", "来自 ⟦cite⟧ 的综述": what comes before the
# cue is the subject
_ATTRIBUTED = re.compile(rf"^(.*?)(?:来自|出自|源自|引自|参考了?|参见|见|由|from|see|by)\s*{_CITED}"
                         rf"(?:\s*(?:和|与|及|、|and|,|，)\s*{_CITED})*"
                         r"\s*(?:提出|分析|给出|报告|指出|发现|的(?:论文|综述|工作))?\s*$", re.I)
# "以上关于难度和预训练的结论" is 6.5 words; a longer subject is a claim ("MQA shares K and V across heads by …")
ATTRIBUTED_SUBJECT_WORDS = 7
_CITATION_LABEL = re.compile(r"^\s*(?:refs?|references?|参考(?:资料|文献|链接)?|来源|source)\s*[:：]", re.I)
_CLAUSE_END = re.compile(r"[，；;。！？!?]|[,.]\s")
_BRACKETED = re.compile(r"[（(][^()（）\n]*[)）]")
_INLINE_SPAN = re.compile(r"\$[^$\n]+\$|`[^`\n]+`")
_SENTENCE_FINAL = tuple("。！？!?")
TITLE_WORDS = 12  # a paper's title beside its link: "The Curious Case of Neural Text Degeneration" is 7
_TODO = re.compile(r"^\s*(?:todo|tbd|fixme|待补充|待完善|待整理|未完成)\b[\s.。!！:：]*$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)、])\s+(.*)$")
_CIRCLED = re.compile(r"[①②③④⑤⑥⑦⑧⑨⑩]")
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.])(?<!et al\.)\s+(?=[A-Z\u4e00-\u9fff])")  # "Liu et al. 发现…" is one
# Lines that start a block of their own, never the continuation of a paragraph: list items
# (also "1、", "（1）", "•"), headings, tables, quotes, fences, display math, images, HTML,
# thematic breaks, and indented code
_BLOCK_START = re.compile(r"(?: {4}|\t)|\s*(?:[-*+•]\s|\d{1,3}[.)]\s|\d{1,3}、|[（(]\d{1,3}[)）]|[①-⑩]|#|\||>|<"
                          r"|```|~~~|\$\$|!\[|(?:[-*_=]\s*){3,}$)")
_CLAUSE_FINAL = tuple("。！？；：.!?;:")
_CJK_EDGE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# "总结：" before ①②: a label that announces the list, not a statement
_LIST_LABEL = re.compile(r"(?:总结|总之|综上|小结|如下|即|(?:in )?summary|in short|to sum up)\s*[：:]\s*$", re.I)
# A formula copied from a rendered web page arrives as "O(n2⋅d)O(n^2 \cdot d)O(n^2 \cdot d)":
# the rendered glyphs, then the TeX source twice. The unit is bounded so a pathological
# line cannot make the backtracking search slow.
_DOUBLED_TEX = re.compile(r"([^\s\u4e00-\u9fff，。]{1,2}[^\n\u4e00-\u9fff，。]{3,80}?)\1")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")


@dataclass(frozen=True)
class Card:
    """One question with its reference answer, as found in the notes."""

    id: str
    question: str
    answer: str
    key_points: tuple[str, ...]
    path: tuple[str, ...]
    source: str
    line: int
    difficulty: int | None = None
    tags: tuple[str, ...] = ()
    english: str = ""  # the question in English, when the notes give one (team cards do)

    def asked_in(self, language: str) -> str:
        """The question to ask in an interview held in `language` ("en" or "zh")."""
        return self.english if language == "en" and self.english else self.question

    @property
    def topic(self) -> str:
        return self.path[0] if self.path else Path(self.source).stem

    @property
    def heading_path(self) -> str:
        """The headings above the card: `Topic > Subtopic` ("" when there are none)."""
        return " > ".join(self.path)

    @property
    def location(self) -> str:
        """Where the card is written: `file:line`."""
        return f"{self.source}:{self.line}"

    @property
    def citation(self) -> str:
        """Where and under which headings: `file:line · Topic > Subtopic`."""
        return f"{self.location} · {self.heading_path}" if self.path else self.location


@dataclass(frozen=True)
class Skipped:
    """A file or a section that could not become a card, and why."""

    source: str
    reason: str
    line: int = 0
    question: str = ""


@dataclass
class ParsedNotes:
    cards: list[Card] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0


class NotesError(TutorError):
    """The notes folder itself cannot be used (missing, not a folder)."""


def load_notes(folder: Path) -> ParsedNotes:
    """Parse every Markdown file under `folder` (recursively, hidden folders excluded)."""
    folder = Path(folder)
    if not folder.exists():
        raise NotesError(f"notes folder not found: {folder}")
    if not folder.is_dir():
        raise NotesError(f"not a folder: {folder}")
    result = ParsedNotes()
    for file in sorted(note_files(folder)):
        source = file.relative_to(folder).as_posix()
        try:
            text = read_note(file)
        except UnreadableNote as problem:
            result.skipped.append(Skipped(source, str(problem)))
            continue
        result.files += 1
        cards, skipped = parse_markdown(text, source)
        result.cards.extend(cards)
        result.skipped.extend(skipped)
        if not cards and not skipped:
            result.skipped.append(Skipped(source, "no headed sections with text"))
    return result


def note_files(folder: Path):
    for file in folder.rglob("*"):
        relative = file.relative_to(folder).parts
        if any(part.startswith(".") for part in relative):
            continue
        if file.suffix.lower() in NOTE_SUFFIXES and file.is_file():
            yield file


class UnreadableNote(Exception):
    pass


def read_note(file: Path) -> str:
    try:
        size = file.stat().st_size
        if size > MAX_NOTE_BYTES:
            raise UnreadableNote(f"file too large ({size // 1024} KiB > {MAX_NOTE_BYTES // 1024} KiB)")
        data = file.read_bytes()
    except OSError as error:
        raise UnreadableNote(f"cannot read file: {error.strerror or error}") from None
    if b"\x00" in data:
        raise UnreadableNote("binary file, not Markdown text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableNote("not UTF-8 text") from None
    if not text.strip():
        raise UnreadableNote("empty file")
    return text


@dataclass
class _Section:
    level: int  # 0: the text before the first heading
    title: str
    line: int
    ancestors: tuple[str, ...]
    body: list[str] = field(default_factory=list)
    body_line: int = 0  # the line number of the body's first line


@dataclass(frozen=True)
class _Layout:
    """Where the file's one structural reading found code and list items (indices of its
    lines): each section's forms are read from it, not from a second parse."""

    code: frozenset[int]  # lines of fenced or indented code
    items: frozenset[int]  # first lines of top-level list items
    nested: frozenset[int]  # first lines of items of lists inside them

    @classmethod
    def of(cls, tokens) -> _Layout:
        items = [token for token in tokens if token.type == "list_item_open" and token.map]
        return cls(frozenset(number for token in tokens if token.type in ("fence", "code_block") and token.map
                             for number in range(*token.map)),
                   frozenset(token.map[0] for token in items if token.level == 1),
                   frozenset(token.map[0] for token in items if token.level > 1))

    def within(self, lines: frozenset[int], offset: int, length: int) -> set[int]:
        """`lines` among a body's `length` lines starting at file line index `offset`, as body indices."""
        return {number for number in range(length) if offset + number in lines}


def parse_markdown(text: str, source: str) -> tuple[list[Card], list[Skipped]]:
    """Split one Markdown document into cards and the sections it had to skip."""
    sections, layout = _split_sections(text)
    document_title = _document_title(sections)
    cards: list[Card] = []
    skipped: list[Skipped] = []
    seen_ids: dict[str, int] = {}
    for section in sections:
        path = tuple(t for t in section.ancestors if t and t != document_title)
        blocks = _question_blocks(section.title, section.body, section.body_line, layout)
        body = "\n".join(section.body) if blocks is None else blocks.rest  # what the heading itself says
        if blocks is not None:  # "Q: … A: …" pairs, a list of questions…: a card each, under the heading
            inner = (*path, section.title) if section.title and section.title != document_title else path
            for block in blocks.questions:
                _add_card(cards, skipped, seen_ids, source, inner, block.question, block.line, block.body)
        # the body is cleaned here only where no card is made of it (`_add_card` cleans its own)
        if section.level == 0:  # before any heading: no question of its own
            if blocks is not None and clean_answer(body)[1] is None:
                skipped.append(Skipped(source, "text before the first question, under no heading", 1))
        elif not body.strip() or (blocks is not None and clean_answer(body)[1] is not None):
            pass  # a heading that only groups deeper headings, or its questions (a metadata comment at most)
        elif section.title:
            _add_card(cards, skipped, seen_ids, source, path, section.title, section.line, body)
        else:
            unusable = clean_answer(body)[1]
            skipped.append(Skipped(source, unusable, section.line) if unusable
                           else Skipped(source, "heading has no text", section.line))
    return cards, skipped


def _add_card(cards: list[Card], skipped: list[Skipped], seen_ids: dict[str, int], source: str,
              path: tuple[str, ...], question: str, line: int, raw_body: str) -> None:
    """One card from a question and the text that answers it (or why it cannot be one)."""
    raw_body = raw_body.strip()
    difficulty, tags, english = read_metadata(raw_body)
    answer, empty_reason = clean_answer(raw_body)
    if empty_reason:
        skipped.append(Skipped(source, empty_reason, line, question))
        return
    cards.append(Card(
        id=_card_id(source, path, question, seen_ids),
        question=question,
        answer=answer,
        key_points=tuple(key_points(answer)),
        path=path,
        source=source,
        line=line,
        difficulty=difficulty,
        tags=tags,
        english=english,
    ))


def _split_sections(text: str) -> tuple[list[_Section], _Layout]:
    """Sections by heading, as a CommonMark parser sees them: fences of any length (a
    ```` fence around ``` is one block), setext headings (`Title` over `===`), `#` lines
    in code are code. Headings inside lists or quotes do not start sections. A section's
    body is the source lines between its heading and the next one, kept as written. With
    them, where the same reading found code and list items (no block crosses a top-level
    heading, so a body read alone would give the same)."""
    lines = _FRONT_MATTER.sub(lambda m: "\n" * m.group().count("\n"), text.replace("\r\n", "\n").replace("\r", "\n"))
    tokens = _STRUCTURE.parse(lines)
    lines = lines.split("\n")
    headings = [(int(token.tag[1]), tokens[i + 1].content, token.map)
                for i, token in enumerate(tokens) if token.type == "heading_open" and token.level == 0]
    first = headings[0][2][0] if headings else len(lines)
    # the text before the first heading: a file of "Q: … A: …" pairs may have no heading at all
    sections: list[_Section] = [_Section(0, "", 1, (), lines[:first], 1)] if first else []
    stack: list[_Section] = []
    for number, (level, title, (start, end)) in enumerate(headings):
        while stack and stack[-1].level >= level:
            stack.pop()
        body_end = headings[number + 1][2][0] if number + 1 < len(headings) else len(lines)
        section = _Section(level=level, title=clean_inline(title), line=start + 1,
                           ancestors=tuple(s.title for s in stack), body=lines[end:body_end], body_line=end + 1)
        sections.append(section)
        stack.append(section)
    return sections, _Layout.of(tokens)


def _document_title(sections: list[_Section]) -> str | None:
    """A single leading `#` heading names the document, not a topic; keep it out of paths."""
    headed = [s for s in sections if s.level]
    top_level = [s for s in headed if s.level == 1]
    if len(top_level) == 1 and headed[0] is top_level[0]:
        return top_level[0].title
    return None


@dataclass(frozen=True)
class _QuestionBlock:
    question: str
    body: str  # its answer, as written
    line: int  # where the question is written


@dataclass(frozen=True)
class _QuestionBlocks:
    questions: list[_QuestionBlock]
    rest: str  # what the section says besides them (an introduction)


# "Q: …" / "A: …" lines (问：/答：, **Q1：**), at the start of a line (indented, they belong to
# a list item's text); case matters: "q:" / "a:" are a config's keys. Each optional piece
# starts with a character of its own, so a run of spaces is matched one way only.
_MARK_START = r"^(?P<bullet>[-*+][ \t]+)?(?:\*\*|__)?"
_MARK_END = r"(?:[ \t]*\d{1,3})?(?:[ \t]*(?:\*\*|__))?[ \t]*[:：](?:\*\*|__)?[ \t]*(?P<text>.*)$"
_QUESTION_MARK = re.compile(_MARK_START + r"(?:Q|Question|QUESTION|问|问题|题目)" + _MARK_END)
_ANSWER_MARK = re.compile(_MARK_START + r"(?:A|Answer|ANSWER|答|答案|回答|解答)" + _MARK_END)
# an answer's own label under a listed question ("答：…", "A1. …"); a bare "A：" may be a
# matrix or an option ("A：随机高斯初始化；B：零初始化") and stays
_ANSWER_LEAD = re.compile(r"^(?:\*\*|__)?(?:答|答案|回答|解答|Answer|A\d{1,3})(?:[ \t]*(?:\*\*|__))?[ \t]*[.:：、]"
                          r"(?:\*\*|__)?[ \t]*")
_FOLD_TAG = re.compile(r"<(/?)(details|summary)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
# a line that is only a question, numbered, bulleted or in bold: "1. **什么是 KV cache？**",
# "2、为什么要除以 √d？", "- What is RoPE?", "**Q3. 什么是 MoE？**"
_QUESTION_LINE = re.compile(r"^ {0,3}(?P<marker>[-*+][ \t]+|\d{1,3}[ \t]*[.、)）][ \t]*|Q\d{1,3}[ \t]*[.:：、][ \t]*)?"
                            r"(?P<bold>\*\*|__)?(?P<text>[^\n]*?[?？])(?(bold)[ \t]*(?P=bold))[ \t]*$")
_NUMBERING = re.compile(r"^(?:\d{1,3}[ \t]*[.、)）]|Q\d{1,3}[ \t]*[.:：、])[ \t]*")  # inside the bold: "**1. 什么是…？**"
MAX_QUESTION_CHARS = 400  # a longer line is not a question on its own (and is not searched as one)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*\|[ \t]*:?-{3,}:?[ \t]*\|?[ \t]*$")  # two columns
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")
_TABLE_CELL_BAR = re.compile(r"(?<!\\)\|(?=(?:[^`]*`[^`]*`)*[^`]*$)")  # not escaped, not inside `code`
MAX_ROW_BARS = 8
_QUESTION_LABEL = re.compile(r"(?:\*\*)?(?:问题|题目|问|question|q)(?:\*\*)?", re.I)
_ANSWER_LABEL = re.compile(r"(?:\*\*)?(?:答案|回答|答|解答|answer|a)(?:\*\*)?", re.I)
_QUESTION_TABLE_HEADER = re.compile(  # "| 问题 | 答案 |": the one table that may hold questions
    rf"^[ \t]*\|?[ \t]*{_QUESTION_LABEL.pattern}[ \t]*\|[ \t]*{_ANSWER_LABEL.pattern}[ \t]*\|?[ \t]*$", re.I)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.I)
# what a folded block's summary says when it only hides the heading's answer
_FOLD_LABEL = re.compile(r"(?:点击)?(?:查看|展开|显示)?(?:参考)?(?:答案|解答|解析|回答|详情)|答|"
                         r"(?:show|click to (?:show|expand|see)|see|view|reveal)?\s*(?:the\s+)?(?:answer|solution|details)",
                         re.I)
# what asks without a question mark: a question word, or a request ("写出…", "Explain …")
_CHINESE_ASKING = re.compile(r"什么|为什么|为何|怎么|怎样|如何|哪|是否|是不是|多少|几种|吗|呢|区别|异同|对比|"
                             r"^(?:请|写出|写一下|手写|解释|说明|简述|简要|介绍|推导|描述|比较|列举|列出|谈谈|讲讲|说说)")
_ENGLISH_ASKING = re.compile(r"(?:what|why|how|when|where|which|who|is|are|does|do|can|should|explain|describe|"
                             r"compare|define|write|derive|implement)\b", re.I)
_CHOICE_B = re.compile(r"^\s*(?:[-*+]\s+)?\(?B[)）:：.、]")
MIN_LISTED_QUESTIONS = 2  # one numbered line ending in "？" is a rhetorical point, not a list of questions


def _is_question(text: str) -> bool:
    return clean_inline(text).endswith(("?", "？"))


def _asks(text: str) -> bool:
    """Whether a text asks something: a question mark, a Chinese question word (notes often
    drop the "？": "什么是过拟合", "为什么 Transformer 要用多头注意力"), or an English question's
    first word."""
    text = clean_inline(text)
    return text.endswith(("?", "？")) or bool(_CHINESE_ASKING.search(text) or _ENGLISH_ASKING.match(text))


def _question_blocks(title: str, body: list[str], first_line: int, layout: _Layout) -> _QuestionBlocks | None:
    """The questions a section holds besides its heading's, as question collections write
    them: "Q: … / A: …" (问：/答：) pairs, numbered, bulleted or bold lines that are each only
    a question ("1. **什么是 KV cache？**") followed by its answer, `<details><summary>question
    </summary>answer</details>`, or a table headed 问题 / 答案; None when it holds none (its
    heading is its question). Only unmistakable forms count, outside code, and none under a
    heading that asks (`_asks`) or after a line that announces what follows ("在 prompt 里
    给几个示例：", "对比如下："): a few-shot prompt's "Q: … A: …", a checklist under "排查步骤：",
    a comparison table stay the heading's answer, and so does what merely looks like a form
    (a "Q：… / V：… / A：…" list of value functions, multiple-choice options, an answer's points)."""
    if _asks(title) or not any(_QUESTION_MARK.match(line) or _QUESTION_TABLE_HEADER.match(line)
                               or "<details" in line.lower() or _question_line(line) for line in body):
        return None  # most sections: nothing more to read
    offset = first_line - 1
    code = layout.within(layout.code, offset, len(body))
    blocks = (_marked_pairs(body, first_line, code)
              or _question_lines(body, first_line, code, layout.within(layout.items, offset, len(body)),
                                 layout.within(layout.nested, offset, len(body)))
              or _details_blocks(body, first_line, code) or _question_table(body, first_line, code))
    if blocks is None:
        return None
    announced = [line for line in blocks.rest.splitlines() if line.strip()]
    return None if announced and announced[-1].rstrip().endswith((":", "：")) else blocks


def _question_line(line: str) -> re.Match | None:
    """A numbered, bulleted or bold line that is only a question (`_QUESTION_LINE`)."""
    match = _QUESTION_LINE.match(line) if len(line) <= MAX_QUESTION_CHARS else None
    return match if match and (match.group("marker") or match.group("bold")) else None


def _marked_pairs(body: list[str], first_line: int, code: set[int]) -> _QuestionBlocks | None:
    """A "Q:" line, maybe wrapped over the next plain lines, followed at once by an "A:"
    line: each answer runs to the next such question. The pairs are written alike (bulleted
    or not: "- Q：动作价值函数" inside a plain "Q: / A:" answer is the answer's list); a lone
    pair must ask something (`_asks`: "Q: 用户的提问 / A: 助手的回答" describes a chat
    format), two or more are a collection ("Q: BF16 vs FP16"); an answer mark with nothing
    after it is a prompt left for a model to complete, and a question that asks without its
    answer mark makes the marks untrustworthy: then none counts. A multiple-choice
    question's "A：ReLU / B：Sigmoid" are its options."""
    pairs: list[tuple[int, int, str, str]] = []  # question line, answer line, their texts
    bulleted: bool | None = None  # whether the first pair's marks are list items
    for number, line in enumerate(body):
        asked = None if number in code or len(line) > MAX_QUESTION_CHARS else _QUESTION_MARK.match(line)
        if not asked or (bulleted is not None and bool(asked.group("bullet")) != bulleted):
            continue
        end = number + 1
        if not _is_question(asked.group("text")):  # a question wrapped over plain lines
            while (end < len(body) and body[end].strip() and end not in code and not _BLOCK_START.match(body[end])
                   and not _QUESTION_MARK.match(body[end]) and not _ANSWER_MARK.match(body[end])):
                end += 1
        question = clean_inline(" ".join([asked.group("text"), *body[number + 1: end]]))
        answered = _ANSWER_MARK.match(body[end]) if end < len(body) and end not in code else None
        if not question or (answered and end + 1 < len(body) and _CHOICE_B.match(body[end + 1])):
            continue  # "A：ReLU" then "B：Sigmoid": the options, not the answer
        if not answered or not answered.group("text").strip():
            if _asks(question):
                return None
            continue
        pairs.append((number, end, question, answered.group("text")))
        bulleted = bool(asked.group("bullet"))
    if not pairs or (len(pairs) == 1 and not _asks(pairs[0][2])):
        return None
    blocks = []
    for index, (asked_at, answered_at, question, answer) in enumerate(pairs):
        end = pairs[index + 1][0] if index + 1 < len(pairs) else len(body)
        blocks.append(_QuestionBlock(question, "\n".join([answer, *body[answered_at + 1: end]]), first_line + asked_at))
    return _QuestionBlocks(blocks, "\n".join(body[: pairs[0][0]]))


def _question_lines(body: list[str], first_line: int, code: set[int], items: set[int],
                    nested: set[int]) -> _QuestionBlocks | None:
    """Lines that are each only a question, numbered, bulleted or in bold (a plain line that
    asks is a rhetorical step of an answer), each followed by its answer up to the next
    one: at least MIN_LISTED_QUESTIONS of them, none without an answer (a list of open
    questions answers nothing), and every item of a list among them (a list that mixes
    questions with points is an answer's list; `items`, `nested`: the first lines of the
    body's top-level list items and of those nested in them)."""
    starts = []
    for number, line in enumerate(body):
        match = None if number in code or number in nested else _question_line(line)
        if match:  # a nested item that asks is a point of its item's answer
            starts.append((number, clean_inline(_NUMBERING.sub("", _QUESTION_MARK.sub(r"\g<text>", match.group("text"))))))
    if len(starts) < MIN_LISTED_QUESTIONS or not items <= {at for at, _ in starts}:
        return None
    blocks = []
    for (at, question), end in zip(starts, [*(number for number, _ in starts[1:]), len(body)]):
        answer = _ANSWER_LEAD.sub("", textwrap.dedent("\n".join(body[at + 1: end])).strip(), count=1)
        if not answer or not question:
            return None
        blocks.append(_QuestionBlock(question, answer, first_line + at))
    return _QuestionBlocks(blocks, "\n".join(body[: starts[0][0]]))


def _details_blocks(body: list[str], first_line: int, code: set[int]) -> _QuestionBlocks | None:
    """Folded answers under their questions: `<details><summary>Q</summary> A </details>`,
    each opening at the start of a line (inside a list item it is the item's text) and read
    tag by tag, nested folds inside an answer kept whole. A summary that is only a label
    ("答案", "Show answer") folds the heading's own answer; otherwise each summary must be a
    question, or two or more fold different subjects."""
    text = "\n".join(body)
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    tags = [m for m in _FOLD_TAG.finditer(text)
            if bisect.bisect_right(line_starts, m.start()) - 1 not in code]
    found: list[tuple[str, int, int, int]] = []  # summary, its line, where the block starts and ends
    position = 0
    while position < len(tags):
        opening = tags[position]
        if opening.group(1) or opening.group(2).lower() != "details":
            return None  # a stray tag: the folds cannot be read
        line = bisect.bisect_right(line_starts, opening.start()) - 1
        if text[line_starts[line]: opening.start()].strip() or position + 2 >= len(tags):
            return None
        summary, closing = tags[position + 1], tags[position + 2]
        if summary.group(2).lower() != "summary" or summary.group(1) or closing.group(2).lower() != "summary" \
                or not closing.group(1) or text[opening.end(): summary.start()].strip():
            return None
        depth, end = 1, position + 3
        while end < len(tags) and depth:  # the matching </details>, folds inside the answer kept
            if tags[end].group(2).lower() == "details":
                depth += -1 if tags[end].group(1) else 1
            end += 1
        if depth:
            return None
        written = text[summary.end(): closing.start()]
        asked_at = summary.end() + len(written) - len(written.lstrip())  # the question's own line
        question = clean_inline(_TAG.sub("", written))
        found.append((question, bisect.bisect_right(line_starts, asked_at) - 1, opening.start(), tags[end - 1].end()))
        position = end
    questions = [question for question, *_ in found]
    if not found or not all(questions) or any(_FOLD_LABEL.fullmatch(q.rstrip(":：")) for q in questions):
        return None
    if not all(_is_question(q) for q in questions) and len(set(questions)) < max(len(questions), MIN_LISTED_QUESTIONS):
        return None
    blocks, rest, previous = [], [], 0
    for question, line, start, stop in found:
        inner = text[start:stop]
        answer = inner[inner.lower().index("</summary>") + len("</summary>"): inner.lower().rindex("</details>")]
        blocks.append(_QuestionBlock(question, textwrap.dedent(answer), first_line + line))
        rest.append(text[previous:start])
        previous = stop
    rest.append(text[previous:])
    return _QuestionBlocks(blocks, "".join(rest))


def _question_table(body: list[str], first_line: int, code: set[int]) -> _QuestionBlocks | None:
    """A two-column table headed as questions and answers ("| 问题 | 答案 |", "| Question |
    Answer |"): each row is a card. A table of anything else (a comparison, even one whose
    rows ask "需要奖励模型吗？", numbers, more columns) stays the heading's answer."""
    rows = [number for number, line in enumerate(body) if line.lstrip().startswith("|") and number not in code]
    if len(rows) < 3 or not _TABLE_RULE.match(body[rows[1]]) or rows != list(range(rows[0], rows[0] + len(rows))):
        return None  # one table: its header, its rule, its rows
    if not _QUESTION_TABLE_HEADER.match(body[rows[0]]):
        return None
    cells = [(_cells(body[at]), at) for at in rows[2:]]
    if any(len(row) != 2 or not row[0] or not row[1] for row, _ in cells):
        return None
    blocks = [_QuestionBlock(clean_inline(row[0]), _LINE_BREAK.sub("\n", row[1]), first_line + at) for row, at in cells]
    return _QuestionBlocks(blocks, "\n".join(body[: rows[0]] + body[rows[-1] + 1:]))


def _cells(line: str) -> list[str]:
    """A table row's cells ("\\|" and a bar inside `code` are not cell borders); a row of many
    bars is no two-column row (and is not read further: the code check looks ahead per bar)."""
    if len(_UNESCAPED_BAR.findall(line)) > MAX_ROW_BARS:
        return []
    return [cell.strip().replace("\\|", "|") for cell in _TABLE_CELL_BAR.split(line.strip().strip("|"))]


def clean_inline(text: str) -> str:
    text = html.unescape(text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = text.strip().strip("*_").strip()
    return re.sub(r"\s+", " ", text)


def clean_answer(body: str) -> tuple[str, str | None]:
    """Return the displayable answer, or an empty string and the reason it is unusable."""
    had_image = bool(_IMAGE.search(body))
    text = _HTML_COMMENT.sub("", body)
    text = _IMAGE.sub("", text)
    text = html.unescape(text)
    kept: list[str] = []
    for line in text.splitlines():
        if _URL_ONLY.match(line) or _REFERENCE_LABEL.match(line):
            continue
        kept.append(repair_pasted_formulas(line.rstrip()))
    answer = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if not answer:
        return "", "image only, no answer text" if had_image else "no answer text"
    if _TODO.match(answer):
        return "", "TODO stub, no answer yet"
    if len(re.sub(r"\s", "", answer)) < MIN_ANSWER_CHARS:
        return "", "answer too short to grade against"
    return answer, None


def repair_pasted_formulas(line: str) -> str:
    """Turn "O(n2⋅d)O(n^2 \\cdot d)O(n^2 \\cdot d)" into "$O(n^2 \\cdot d)$"."""
    if "\\" not in line and "^" not in line:
        return line
    pieces: list[str] = []
    position = 0
    search_from = 0
    while match := _DOUBLED_TEX.search(line, search_from):
        start, width = match.start(), len(match.group(1))
        # The earliest repeat may be a rotation of the formula ("d)O(n^2 \cdot " twice);
        # slide right while the text stays periodic so the unit ends where the copies end.
        while start + 2 * width < len(line) and line[start + 2 * width] == line[start]:
            start += 1
        tex = line[start : start + width]
        search_from = start + 2 * width
        if not re.search(r"[\\^_]", tex):
            search_from = match.start() + 1
            continue
        pieces.append(_drop_rendered_copy(line[position:start], tex))
        pieces.append(f"${tex.strip()}$")
        position = search_from
    pieces.append(line[position:])
    return "".join(pieces)


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text)


def _drop_rendered_copy(before: str, tex: str) -> str:
    """Remove the rendered-glyph copy of `tex` that ends `before`, if it is there."""
    wanted = _alphanumeric(_TEX_COMMAND.sub("", tex))
    if not wanted:
        return before
    for start in range(len(before) - 1, max(-1, len(before) - 4 * len(tex)), -1):
        candidate = _alphanumeric(before[start:])
        if candidate == wanted:
            # the rendered copy also carries the formula's leading brackets, e.g. "(n,d)"
            lead = re.match(r"[^0-9A-Za-z]*", tex).group()
            while lead and start > 0 and before[start - 1] == lead[-1]:
                start, lead = start - 1, lead[:-1]
            return before[:start]
        if len(candidate) > len(wanted):
            break
    return before


_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")


def _fenced(text: str) -> list[tuple[int, int, str]]:
    """Each closed fenced block: where it starts and ends (fences included), and its code.
    Read line by line, in one pass: a fence closes with the same character, at least as
    many times; a line of backticks with a backtick after them ("```x``` 是行内代码") opens
    nothing; a fence never closed is no block."""
    blocks, position, opened = [], 0, None
    for line in text.splitlines(keepends=True):
        bare = line.strip()
        if opened is None:
            match = _FENCE_OPEN.match(line.rstrip("\r\n"))
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                opened = (position, match.group(1), position + len(line))
        elif bare and set(bare) == {opened[1][0]} and len(bare) >= len(opened[1]):
            blocks.append((opened[0], position + len(line), text[opened[2]:position]))
            opened = None
        position += len(line)
    return blocks


def code_blocks(answer: str) -> list[str]:
    """The code of each fenced block (```` ``` ```` or `~~~`), fences aside."""
    return [code.strip() for _, _, code in _fenced(answer) if code.strip()]


def without_code(text: str) -> str:
    """`text` with each fenced code block replaced by a line break."""
    for start, end, _ in reversed(_fenced(text)):
        text = text[:start] + "\n" + text[end:]
    return text


def key_points(answer: str) -> list[str]:
    """Bullets, numbered items or ①② items (and the sentences before ①) are the points;
    otherwise the sentences, a paragraph wrapped over several lines being one. Code
    blocks are left out: "import math" is not a statement (grading takes a block whole)."""
    answer = without_code(answer)
    points = [m.group(1).strip() for m in map(_BULLET.match, answer.splitlines()) if m]
    if not points and is_list(answer):  # what comes before ① is said too ("…不同子空间…总结：①…②…")
        circled = _CIRCLED.split(answer)
        points = [*_sentences(_LIST_LABEL.sub("", circled[0].rstrip())), *circled[1:]]
    if not points:
        points = _sentences(answer)
    cleaned = [_strip_point(p) for p in points]
    # A point is a statement to check; a restated question ("...复杂度？") is not one.
    checkable = [p for p in cleaned
                 if len(re.sub(r"\W", "", p)) >= 4 and not p.endswith(("？", "?")) and not is_reference(p)]
    # An answer is graded against at most this many points: grading embeds each of them,
    # and no interview answer covers more (a 60,000-bullet card is a list, not an answer).
    return checkable[:MAX_KEY_POINTS]


def is_reference(statement: str) -> bool:
    """Whether a statement only says where something comes from: a link beside a label
    ("ref:"), a title or nothing else; a bare citation ("Liu et al."); or, clause by clause,
    results attributed to papers ("GraphRAG 出自 Edge et al.（2024）。", "…的结论来自 A et al.
    （2024），RAFT 出自 B et al.（2024）。"), each with a short subject before its cue."""
    marked = _CITATION.sub(_CITED, statement)
    if _URL.search(marked):
        return bool(_CITATION_LABEL.match(marked)) or _is_title(_URL.sub(" ", marked).replace(_CITED, " "))
    if _CITED not in marked:
        return False
    clauses = [c.strip(" 。.；;，,") for c in outside_brackets(_CLAUSE_END, marked)]
    return all(_CITED in clause and (_words(clause.replace(_CITED, " ")) < 1 or _attributed(clause))
               for clause in clauses if clause)


def _attributed(clause: str) -> bool:
    match = _ATTRIBUTED.match(clause)
    return match is not None and _words(match.group(1).replace(_CITED, " ")) <= ATTRIBUTED_SUBJECT_WORDS


def _is_title(text: str) -> bool:
    """Whether the text beside a link is nothing, a word or two, 《a title》 or a Title In
    Capitals, rather than a statement ("pip 默认从 … 下载包。", "Nucleus sampling beats beam
    search: …")."""
    text = text.strip(" ,，:：-–—|·")
    labelled = re.match(r"([^:：]*)[:：]\s*(.*)$", text)
    if labelled and _words(labelled.group(1)) <= 2:  # "论文：《…》", "paper: …"
        text = labelled.group(2).strip()
    if text.endswith(_SENTENCE_FINAL):
        return False
    if _words(text) <= 2 or re.fullmatch(r"《[^《》]+》", text):
        return True
    latin = re.findall(r"[A-Za-z][\w'’-]*", text)
    long_words = [w for w in latin if len(w) > 3]
    return (not re.search(r"[\u3400-\u9fff]", text) and len(latin) <= TITLE_WORDS and bool(long_words)
            and sum(w[0].isupper() for w in long_words) >= 0.6 * len(long_words))


def outside_brackets(breaks: re.Pattern, text: str) -> list[str]:
    """`text` cut where `breaks` matches, but never inside brackets or `$…$` / `` `…` ``
    ("(Liu et al., 2025)" is one piece); each piece keeps the break that ends it."""
    protected = [m.span() for m in _BRACKETED.finditer(text)] + [m.span() for m in _INLINE_SPAN.finditer(text)]
    cuts = [0, *(m.end() for m in breaks.finditer(text)
                 if not any(start < m.start() < end for start, end in protected)), len(text)]
    return [text[start:end] for start, end in zip(cuts, cuts[1:]) if end > start]


def _words(text: str) -> float:
    """Words in the text (numbers too), two Chinese characters counting as one."""
    return len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’.-]*", text)) + len(re.findall(r"[\u3400-\u9fff]", text)) / 2


def is_list(answer: str) -> bool:
    """Whether the answer's key points are its list items (bullets, numbered items, ①②…)
    as its writer made them, rather than its sentences."""
    return any(map(_BULLET.match, answer.splitlines())) or len(_CIRCLED.split(answer)) > 2


def _sentences(text: str) -> list[str]:
    # "（von Oswald et al., 2023；Akyürek et al., 2022）" is one aside, not the end of a sentence
    return [s for line in paragraph_lines(text) for s in outside_brackets(_SENTENCE_END, line)]


def paragraph_lines(text: str) -> list[str]:
    """The text's lines with each paragraph on one line. In Markdown a line break inside a
    paragraph is only where the writer's editor wrapped it: "…而词语的位置是相当重要的\n一个
    信息。" is one sentence, not "一个信息。" alone. A blank line, a list item, a heading, a
    table row, a fence and what is inside it, display math or an image start a line of their
    own, and a line that ends a sentence or clause ends its paragraph's line."""
    lines: list[str] = []
    fenced = joinable = False
    for line in text.splitlines():
        stripped = line.strip()
        # a code fence, or a line that opens or closes a display formula over several lines
        fence = stripped.startswith(("```", "~~~")) or stripped.count("$$") % 2 == 1
        prose = bool(stripped) and not fenced and not fence and not _BLOCK_START.match(line)
        if prose and joinable and not lines[-1].rstrip().endswith(_CLAUSE_FINAL):
            before = lines[-1].rstrip()
            space = "" if _CJK_EDGE.match(before[-1]) and _CJK_EDGE.match(stripped[0]) else " "  # as a browser shows it
            lines[-1] = before + space + stripped
        else:
            lines.append(line)
        joinable = prose
        fenced ^= fence
    return lines


def _strip_point(point: str) -> str:
    point = re.sub(r"(\*\*|__)(.+?)\1", r"\2", point)
    return point.strip().strip("；;，,").strip()


def read_metadata(body: str) -> tuple[int | None, tuple[str, ...], str]:
    """Optional `<!-- difficulty: 2; tags: a, b; en: the question in English -->`; plain
    notes simply do not have it."""
    difficulty: int | None = None
    tags: tuple[str, ...] = ()
    english = ""
    for comment in METADATA_COMMENT.finditer(body):
        for field_text in re.split(r"[;；]", comment.group(1)):
            name, _, value = field_text.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "difficulty" and value.isdigit() and 1 <= int(value) <= 3:
                difficulty = int(value)
            elif name == "tags" and value:
                tags = tuple(t.strip() for t in re.split(r"[,，]", value) if t.strip())
            elif name == "en" and value:
                english = re.sub(r"\s+", " ", value)
    return difficulty, tags, english


def _card_id(source: str, path: tuple[str, ...], question: str, seen: dict[str, int]) -> str:
    """Stable across edits of the answer and moves within the file, unique per file.

    Repeats of the same heading get -2, -3... in order; `seen` counts each id's uses so
    a file of thousands of identical headings is still read in linear time.
    """
    digest = hashlib.sha1("\x1f".join((source, *path, question)).encode()).hexdigest()[:12]
    card_id = f"{source}#{digest}"
    uses = seen[card_id] = seen.get(card_id, 0) + 1
    return card_id if uses == 1 else f"{card_id}-{uses}"
