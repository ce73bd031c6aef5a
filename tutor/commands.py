"""Chat commands: `/interview [topic] [n]`, `/hint`, `/skip`, `/end`, `/help` (and their
Chinese forms). Parsing lives here, not in the UI, so every front end reads them alike."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_INTERVIEW_QUESTIONS = 3


class CommandKind(StrEnum):
    INTERVIEW = "interview"
    HELP = "help"
    HINT = "hint"
    SKIP = "skip"
    END = "end"


# The slash forms work anywhere; the bare words only answer an interview in progress
# (outside one, "跳过" is just a message).
_WORDS = {
    CommandKind.INTERVIEW: ("/interview", "/面试"),
    CommandKind.HELP: ("/help", "/帮助"),
    CommandKind.HINT: ("/hint", "/提示", "提示"),
    CommandKind.SKIP: ("/skip", "/跳过", "跳过"),
    CommandKind.END: ("/end", "/结束", "结束", "结束面试"),
}
_BY_WORD = {word: kind for kind, words in _WORDS.items() for word in words}
_COUNT = re.compile(r"(?<!\S)(\d{1,2})(?!\S)")
_ENGLISH = re.compile(r"(?<!\S)(?:en|english|英文)(?!\S)", re.I)


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    slash: bool  # typed with "/" (a command anywhere), or a bare word (only inside an interview)
    topics: list[str] = field(default_factory=list)  # /interview: the topics named
    count: int = DEFAULT_INTERVIEW_QUESTIONS  # /interview: how many questions
    unknown: str = ""  # /interview: text that names no topic
    language: str = "zh"  # /interview: "en" (or "english") asks in English


def parse_command(message: str, topic_names: list[str] | None = None) -> Command | None:
    """The command `message` is, or None for a question or an answer. For /interview the
    rest of the line is an optional count and topic names (matched case-insensitively,
    longest first, so "Attention" does not shadow "Multi-Head Attention")."""
    text = message.strip()
    first, _, rest = text.partition(" ")
    kind = _BY_WORD.get(first.lower()) if rest.strip() == "" or first.lower() in _WORDS[CommandKind.INTERVIEW] else None
    if kind is None:
        return None
    slash = first.startswith("/")
    if kind != CommandKind.INTERVIEW:
        return Command(kind, slash)
    number = _COUNT.search(rest)
    count = int(number.group(1)) if number else DEFAULT_INTERVIEW_QUESTIONS
    rest = (rest[: number.start()] + rest[number.end():]) if number else rest
    english = _ENGLISH.search(rest)
    rest = _ENGLISH.sub(" ", rest)
    names = sorted(topic_names or [], key=len, reverse=True)
    topics = [name for name in names if name.lower() in rest.lower()]
    return Command(kind, slash, topics=topics, count=count, unknown="" if topics else rest.strip(),
                   language="en" if english else "zh")
