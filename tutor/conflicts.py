"""Claims an answer makes that the note makes about something else.

Embeddings cannot see a wrong fact: "Post-LN puts the norm before the sublayer" and
"Pre-LN puts the norm before the sublayer" are nearly the same vector, and so is the
answer that swaps them (measured: bench/eval_grading.py's fluent wrong answers, and a
swap test in the README's Grading section). What can be checked without a model is the
commonest wrong fact of interview answers to "A 和 B 有什么区别": a property the note
gives one of the compared things, said of the other.

1. The compared things are read from the question's coordination ("Pre-LN 和 Post-LN",
   "TCP vs UDP", "栈和队列", "greedy、beam search 和 sampling", "LayerNorm 而不是
   BatchNorm"), only in a question that asks for a difference; a CamelCase name is also
   known by its capitals (LayerNorm: LN).
2. Note and answer are cut into clauses. A clause is about the compared thing it starts
   with ("Threads of the same process share…": threads; in Chinese the one a first name
   only qualifies, "进程内的线程…": 线程); one that names none goes on about its sentence's
   subject; one that names a thing later ("陷入内核态", "对 UDP 来说…") or compares two
   ("TCP 比 UDP 开销大") is about no one thing.
3. An answer clause conflicts with a note clause about another compared thing when it
   says mostly what that clause says: at least MIN_SHARED_WORDS shared words (the names'
   own words aside), weighing (IDF) at least MIN_SHARED_WEIGHT and MIN_CLAIM_SHARE of the
   answer clause's words and more than MARGIN times what the note says of the answer's
   own subject, with the same negation next to the shared words (the note's "Pre-LN 可以
   不用 warmup" is not contradicted by "Post-LN 需要 warmup").

It sees only swaps; a wrong number, a reversed direction or an invented mechanism pass
unseen (see the README for what was tried and measured).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import jieba

from .lexical import terms

_COORDINATOR = re.compile(r"\s*(?:和|与|跟|及|、|或者|或|还是|而不是|而非)\s*"
                          r"|\s+(?:and|or|vs\.?|versus|/)\s+|,\s*(?=[A-Za-z])", re.I)
_WORD_INSIDE = re.compile(r"\s*[和与跟及或]\s*")  # a coordinator only if jieba reads it as one ("参与", "及时")
_QUESTION_END = re.compile(r"[？?。！!；;：:，,（）()]\s*(?![A-Za-z])")
_LATIN_TAIL = re.compile(r"([A-Za-z][\w./+@-]*(?:\s+[A-Za-z][\w./+@-]*)?)\s*$")  # "TCP/IP" is one name
_LATIN_HEAD = re.compile(r"^([A-Za-z][\w./+@-]*(?:\s+[A-Za-z][\w./+@-]*)?)")
_CJK_TAIL = re.compile(r"([\u3400-\u9fff]+)\s*$")
_CJK_HEAD = re.compile(r"^([\u3400-\u9fff]+)")
_CJK_WORD = re.compile(r"[\u3400-\u9fff]+")
# where a Chinese conjunct ends on its right ("栈和队列|有什么区别") and the question's frame
# before it on its left ("什么是|脏读", "划分为|训练集", "的|流量控制")
_CJK_AFTER = re.compile(r"有|是|的|在|分别|各自|各|之间|区别|哪|什么|怎么|怎样|如何|为什么|相比|比较|对比|能|会|要|都|上|中")
_CJK_BEFORE = re.compile(r".*(?:是|的|把|在|划分为|分为|作为|成为|使用|采用|说说|讲讲|解释|比较|对比|谈谈|介绍|请问)")
# a question that asks how things differ; "分别在哪些维度上统计均值和方差" lists, not compares
_ASKS_DIFFERENCE = re.compile(r"区别|不同|对比|比较|相比|差异|异同|而不是|而非|还是"
                              r"|\bvs\b|versus|differ|compar|\bor\b", re.I)
# not things but what a question asks about them ("有哪些优点和局限")
_NOT_THINGS = frozenset("它 他 她 它们 他们 这 那 这个 那个 两者 二者 优点 缺点 优缺点 局限 局限性 优势 劣势 作用 原因 影响 "
                        "方法 问题 场景 联系 关系 原理 思路 做法 要点 难点 公式 定义 用途 特点 好处 坏处 代价 取舍".split())
_ARTICLES = frozenset({"a", "an", "the"})
_LATIN_STOP = frozenset("what why how is are the a an of in to do does difference between compare and or vs "
                        "when which with for it its can should".split())
# English grammar words: rare in notes written in Chinese, so their IDF says nothing
_FUNCTION_WORDS = frozenset("has have had having own each its their they them there one ones other others also only "
                            "just very much many some any all both not no so than then into onto over under up out "
                            "off same such like get gets got make makes made if else because since while".split())
_CLAUSE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")  # a full stop before a space, as answers are split
_CLAUSE_SPLIT = re.compile(r"[，,：:（）()]|\s(?:while|whereas|but)\s|而且|而")
# what may come before a clause's subject: "而 UDP …", "but the thread …", "- **TCP**"
_LEAD = re.compile(r"[\W_]+|而且|而|但是|但|所以|因此|另外|其中|对于|\b(?:and|but|so|whereas|while|the|a|an|for|in)\b",
                   re.I)
# between a Chinese name and the one it qualifies: "进程内的线程", "TCP 中的拥塞控制"
_QUALIFIES = re.compile(r"\s*(?:中|内|里|里面|之间)?\s*的\s*|\s*(?:中|内|里)\s*")
_NEGATION = re.compile(r"不|没|无需|无法|\bnot\b|\bno\b|\bnever\b|n't|\bwithout\b|\bcannot\b", re.I)
_NOT_NEGATION = re.compile(r"不同|不仅|不断|不少|不过|不管|不论|不一定")  # only contain one
_NEGATION_REACH = 8  # Chinese characters after a negation that it is about
_FOLLOWING_WORDS = re.compile(r"(?:\W*\w+){1,4}")  # or English words
# "TCP 比 UDP 开销大", "higher latency than UDP": a comparison of two named things, not a
# property of one
_COMPARES = re.compile(r"比|相比|相对于|than|compared|versus|\bvs\b", re.I)
MIN_SHARED_WORDS = 2
MIN_SHARED_WEIGHT = 4.0  # IDF: two words each in fewer than ~1 in 7 cards
MARGIN = 1.5  # the note's other subject must fit the claim this much better than its own
# and the claim must be mostly the note's words: "top-p 的候选集大小会随分布自适应" shares
# "候选, 大小" with "(top-k) 候选集合大小固定" but says something else of them
MIN_CLAIM_SHARE = 0.5


@dataclass(frozen=True)
class Conflict:
    """An answer's clause about `subject` that the note says of `instead`."""

    said: str
    note: str
    subject: str
    instead: str
    sentence: tuple[int, int] = (0, 0)  # where the answer's sentence that says it starts and ends

    def about(self, point: str) -> bool:
        """Whether `point` (a card's point as graded, Markdown stripped) is the statement the
        answer contradicts, or part of it."""
        note, point = _bare(self.note), _bare(point)
        return bool(point) and (note in point or point in note)


def _bare(text: str) -> str:
    return re.sub(r"[\s*_`$]", "", text)


@dataclass(frozen=True)
class _Clause:
    text: str
    subject: str | None  # the compared thing it is about
    words: frozenset[str]
    plain: str  # lower case, names blanked ("不可重复读" is a name, not a negation)
    sentence: tuple[int, int]  # where its sentence starts and ends in the text

    def negates(self, words: frozenset[str]) -> bool:
        """Whether it says the opposite about `words`: an odd number of negations, each
        just before one of them ("可以不用 warmup", "does not need warmup"); a negation
        elsewhere ("…datagrams with no guarantee of delivery") is about something else."""
        plain = _NOT_NEGATION.sub(lambda m: " " * len(m.group()), self.plain)
        cues = [m for m in _NEGATION.finditer(plain) if any(word in _reach(plain, m.end()) for word in words)]
        return len(cues) % 2 == 1


def _reach(text: str, start: int) -> str:
    """What a negation ending at `start` is about: the next few Chinese characters, or the
    next few English words ("does not guarantee reliable ordered delivery")."""
    if _CJK_WORD.match(text[start:].lstrip()):
        return text[start: start + _NEGATION_REACH]
    words = _FOLLOWING_WORDS.match(text, start)
    return words.group() if words else ""


@dataclass(frozen=True)
class _Names:
    """The compared things, each with the patterns that find its spellings in lower case,
    and the words of those spellings."""

    patterns: tuple[tuple[str, re.Pattern], ...]
    words: frozenset[str]

    @classmethod
    def of(cls, compared: dict[str, frozenset[str]]) -> _Names:
        patterns = []
        for name, spellings in compared.items():
            for spelling in spellings:
                if _CJK_WORD.fullmatch(spelling):
                    patterns.append((name, re.compile(re.escape(spelling))))
                else:  # a whole word, plural too ("processes")
                    patterns.append((name, re.compile(rf"(?<![a-z0-9\-]){re.escape(spelling)}(?:e?s)?(?![a-z0-9\-])")))
        spellings = frozenset().union(*compared.values()) if compared else frozenset()
        # a clause that only names a thing says nothing about it: "Prompt tuning (Lester et al.)"
        return cls(tuple(patterns), spellings | {word for spelling in spellings for word in spelling.split()})

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where `text` names a compared thing; a name inside a longer one ("读" in
        "不可重复读") does not count."""
        spans = [(m.start(), m.end(), name) for name, pattern in self.patterns for m in pattern.finditer(text)]
        return sorted((start, end, name) for start, end, name in spans
                      if not any(s <= start and end <= e and e - s > end - start for s, e, _ in spans))

    def names(self, word: str) -> bool:
        return word in self.words or re.sub(r"e?s$", "", word) in self.words


def compared_terms(question: str) -> dict[str, frozenset[str]]:
    """The things a question compares ("Pre-LN 和 Post-LN", "TCP vs UDP", "栈和队列",
    "训练集、验证集和测试集") as the question spells them, each with the spellings that name it
    (lower case)."""
    if not _ASKS_DIFFERENCE.search(question):
        return {}
    found: list[str] = []
    for part in _QUESTION_END.split(question):
        pieces = _split_coordination(part)
        for left, right in zip(pieces, pieces[1:]):
            conjuncts = (_tail(left), _head(right))
            if all(conjuncts):
                found += conjuncts
    first: dict[str, str] = {}  # each thing as the question first spells it
    for name in found:
        first.setdefault(name.lower(), name)
    return {name: _spellings(name) for name in first.values()}


def _split_coordination(part: str) -> list[str]:
    bounds, at = {0}, 0
    for word in jieba.lcut(part):
        at += len(word)
        bounds.add(at)
    pieces, start = [], 0
    for match in _COORDINATOR.finditer(part):
        if _WORD_INSIDE.fullmatch(match.group()):
            at = match.start() + len(match.group()) - len(match.group().lstrip())
            if at not in bounds or at + 1 not in bounds:
                continue
        pieces.append(part[start:match.start()])
        start = match.end()
    return [*pieces, part[start:]]


def _tail(piece: str) -> str | None:
    """The conjunct a piece of a question ends with."""
    if latin := _LATIN_TAIL.search(piece):
        words = [w for w in latin.group(1).split() if w.lower() not in _LATIN_STOP]
        return " ".join(words) if words and len(" ".join(words)) >= 2 else None
    if cjk := _CJK_TAIL.search(piece):
        named = _LATIN_TAIL.search(piece[: cjk.start()].rstrip())
        if named and not cjk.group(1).startswith("的"):  # "Top-k 采样": Top-k; "TCP 的拥塞控制": 拥塞控制
            return _tail(named.group(1))
        return _chinese_thing(_CJK_BEFORE.sub("", cjk.group(1)))
    return None


def _head(piece: str) -> str | None:
    """The conjunct a piece of a question starts with."""
    if latin := _LATIN_HEAD.match(piece.strip()):
        words = latin.group(1).split()
        if len(words) > 1 and words[0].lower() in _ARTICLES:  # "a thread"
            words = words[1:]
        elif len(words) > 1 and words[1].lower() in _LATIN_STOP:  # "beam search", but "thread and"
            words = words[:1]
        name = " ".join(words)
        return name if words[0].lower() not in _LATIN_STOP and len(name) >= 2 else None
    if cjk := _CJK_HEAD.match(piece):
        return _chinese_thing(_CJK_AFTER.split(cjk.group(1), maxsplit=1)[0])
    return None


def _chinese_thing(word: str) -> str | None:
    return word if 1 <= len(word) <= 6 and word not in _NOT_THINGS else None


def _spellings(name: str) -> frozenset[str]:
    spellings = {name.lower()}
    capitals = re.findall(r"[A-Z]", name)
    if len(capitals) >= 2 and not name.isupper() and re.fullmatch(r"[A-Za-z]+", name):
        spellings.add("".join(capitals).lower())  # LayerNorm: ln
    return frozenset(spellings)


def find_conflicts(question: str, note: str, answer: str, weight: Callable[[str], float]) -> list[Conflict]:
    """The answer's clauses that say of one compared thing what the note says of another.
    `weight(word)`: how telling a shared word is (the lexical index's IDF)."""
    names, note_clauses = _read_note(question, note)
    if not note_clauses:
        return []
    conflicts = []
    for clause in _clauses(answer, names):
        if clause.subject is None:
            continue
        own = max((_fit(clause, c, weight) for c in note_clauses if c.subject == clause.subject), default=0.0)
        rivals = [(_fit(clause, c, weight), c) for c in note_clauses if c.subject != clause.subject
                  and len(shared := clause.words & c.words) >= MIN_SHARED_WORDS
                  and c.negates(shared) == clause.negates(shared)]
        if not rivals:
            continue
        fit, rival = max(rivals, key=lambda pair: pair[0])
        claim = sum(weight(w) for w in clause.words)
        if fit >= max(MIN_SHARED_WEIGHT, MIN_CLAIM_SHARE * claim) and fit > MARGIN * own + 1.0:
            conflicts.append(Conflict(clause.text, rival.text, clause.subject, rival.subject, clause.sentence))
    return conflicts


def _fit(clause: _Clause, other: _Clause, weight: Callable[[str], float]) -> float:
    return sum(weight(w) for w in clause.words & other.words)


@functools.lru_cache(maxsize=1024)
def _read_note(question: str, note: str) -> tuple[_Names, tuple[_Clause, ...]]:
    """What the question compares and the note's clauses about each (read once per card)."""
    compared = compared_terms(question)
    names = _Names.of(compared)
    if len(compared) < 2:
        return names, ()
    return names, tuple(c for c in _clauses(note, names) if c.subject is not None)


def _clauses(text: str, names: _Names) -> list[_Clause]:
    clauses = []
    for sentence_start, sentence_end, stop_end in _spans(text, _CLAUSE_END, 0, len(text)):
        subject = None
        sentence = (sentence_start, stop_end)
        for start, end, _ in _spans(text, _CLAUSE_SPLIT, sentence_start, sentence_end):
            piece = text[start:end].strip(" \t-*•")
            if len(re.sub(r"\W", "", piece)) < 2:
                continue
            lower = piece.lower()
            spans = names.spans(lower)
            if spans:  # a clause that names one starts a new subject, or leaves it unknown
                subject = _subject(lower, spans)
            # single words: word pairs ("share_memory") would count a shared word twice
            words = frozenset(w for w in terms(piece, variants=False)
                              if "_" not in w and w not in _FUNCTION_WORDS and not names.names(w))
            for name_start, name_end, _ in reversed(spans):
                lower = lower[:name_start] + " " * (name_end - name_start) + lower[name_end:]
            clauses.append(_Clause(piece, subject, words, lower, sentence))
    return clauses


def _spans(text: str, splitter: re.Pattern, start: int, end: int) -> list[tuple[int, int, int]]:
    """The pieces of text[start:end] between `splitter`'s matches: where each starts, ends,
    and ends with the match after it (a sentence's full stop)."""
    cuts = [(m.start(), m.end()) for m in splitter.finditer(text, start, end)] + [(end, end)]
    starts = [start, *(cut_end for _, cut_end in cuts[:-1])]
    return [(a, cut_start, cut_end) for a, (cut_start, cut_end) in zip(starts, cuts) if cut_start > a]


def _subject(text: str, spans: list[tuple[int, int, str]]) -> str | None:
    """The compared thing a clause starts with, or in Chinese the one that name only
    qualifies ("进程内的线程共享内存"). None when it starts with none ("陷入内核态", "对 UDP 来说
    开销小": the name is not what the clause is about) or compares two ("TCP 比 UDP 开销大")."""
    if _LEAD.sub("", text[: spans[0][0]]):
        return None
    first = spans[0]
    others = [span for span in spans[1:] if span[2] != first[2]]
    if others and _QUALIFIES.fullmatch(text[first[1]:others[0][0]]):
        first, others = others[0], [span for span in others[1:] if span[2] != others[0][2]]
    if others and _COMPARES.search(text):
        return None
    return first[2]
