"""Claims an answer makes that the note makes about something else.

Embeddings cannot see a wrong fact: "Post-LN puts the norm before the sublayer" and
"Pre-LN puts the norm before the sublayer" are nearly the same vector, and so is the
answer that swaps them (measured: bench/eval_grading.py's fluent wrong answers, and a
swap test in docs/grading.md). What can be checked without a model is the
commonest wrong fact of interview answers to "A 和 B 有什么区别": a property the note
gives one of the compared things, said of the other.

1. The compared things are read from the question's coordination ("Pre-LN 和 Post-LN",
   "TCP vs UDP", "栈和队列", "greedy、beam search 和 sampling", "LayerNorm 而不是
   BatchNorm", "BFS differs from DFS", "processes, threads and coroutines"), in a question
   that asks for a difference or that lists three things or more in one run ("什么是脏读、
   不可重复读和幻读": it asks about each). A CamelCase name is also known by its capitals
   (LayerNorm: LN), a name of three parts by their initials (breadth-first search: BFS);
   such an abbreviation names the thing only in capitals, as a whole word ("cases" is not
   CAS).
2. Note and answer are cut into clauses. A clause is about the compared thing it starts
   with ("Threads of the same process share…": threads; in Chinese the one a first name
   only qualifies, "进程内的线程…": 线程); one that names none goes on about its sentence's
   subject; one that names a thing later ("陷入内核态", "对 UDP 来说…") or compares two
   ("TCP 比 UDP 开销大", "DFS differs from BFS in that…") is about no one thing. A
   one-character name inside a longer word does not name it ("栈顶" is not "栈"), and a
   clause that mentions another thing only that way is about no one thing ("队列先进先出，
   出栈入栈都在栈顶").
3. What the note says of each thing is all its clauses about it taken together (a claim
   may join two of them: "BFS uses a stack and goes as deep as possible" against "DFS goes
   as deep as possible…, using a stack"). An answer clause conflicts when it says mostly
   what the note says of another compared thing: at least MIN_SHARED_WORDS shared words
   (the names' own words aside), weighing (IDF) at least MIN_SHARED_WEIGHT and
   MIN_CLAIM_SHARE of the clause's words that the note uses at all, and more than MARGIN
   times (+ 1) what the note says of the answer's own subject or of any third thing. The
   note clause cited is the other thing's that shares most; it must carry the same
   negation next to the shared words (the note's "Pre-LN 可以不用 warmup" is not
   contradicted by "Post-LN 需要 warmup") and not the opposite degree ("TCP 开销大" beside
   "UDP 开销小" agrees with the note).

4. **Wrong complexities** (`_wrong_quantities`), whatever the question: a Big-O (or
   "constant time", "线性时间", "对数级", "quadratic time") the answer gives where the note
   gives another for the same thing. Each is read in one canonical form (`_canonical`:
   O(d·n²) = O(n^2 \\cdot d)). The answer's clause is matched to the note's clause with a
   comparable complexity (`_Complexity.comparable`: time or memory, the case, the
   variables) that shares most of its words (IDF, the complexity and words that only name
   the measure — 复杂度, time — aside): at least MIN_SHARED_WEIGHT, or every word of the
   answer's clause ("Self-attention is O(n·d²)"); a clause of no words of its own takes its
   sentence's, which must then be mostly the note clause's. Not a conflict: a value either
   reference gives anywhere, a negated clause ("不是 O(n²)"), a bound ("低于 O(n²)"), a clause
   that also gives the note's value ("from O(n²) to O(n)"), a clause about another thing
   (each side has words the other lacks: OTHER_SUBJECT). Other numbers (shares, decimals,
   bits) are not checked: in these notes they are measurements, examples and arithmetic
   ("MQA 缩小为 1/64" beside the GQA example's 1/8), which a first version flagged.

5. **A denied premise** (`_denied_premise`): a question that asks why a thing is not used
   ("为什么NLP不用BN？", "Why don't NLP models use BatchNorm?") takes it as given; an answer
   clause about the thing that says it works well or is what is used, in the field the
   question names ("其实 BatchNorm 在 NLP 里效果更好", "most NLP models use BatchNorm"),
   without a negation, a report of what others think, or the field as the other side of a
   comparison ("better in CV than in NLP"), denies it. Its sentence earns nothing; no note
   point is taken out.

Besides these, a reversed direction ("T 越大越尖锐"), an invented mechanism or a claim with
its negation the other way round pass unseen (see docs/grading.md for what was tried
and measured).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import jieba

from .lexical import terms
from .notes import key_points, without_code

_COORDINATOR = re.compile(r"\s*(?:和|与|跟|及|、|或者|或|还是|而不是|而非)\s*"
                          r"|\s+(?:and|or|vs\.?|versus|/|differs?\s+from|compared\s+(?:to|with))\s+|,\s*(?=[A-Za-z])", re.I)
_WORD_INSIDE = re.compile(r"\s*[和与跟及或]\s*")  # a coordinator only if jieba reads it as one ("参与", "及时")
_QUESTION_END = re.compile(r"[？?。！!；;：:，,（）()](?!\s*[A-Za-z])\s*")  # "A, B and C" is one part
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
                        "when which with for it its can should differ differs different".split())
# English grammar words: rare in notes written in Chinese, so their IDF says nothing
_FUNCTION_WORDS = frozenset("has have had having own each its their they them there one ones other others also only "
                            "just very much many some any all both not no so than then into onto over under up out "
                            "off same such like get gets got make makes made if else because since while".split())
_CLAUSE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")  # a full stop before a space, as answers are split
_JOINS = r"\s(?:while|whereas|but)\s|而且|而"  # where a sentence's clauses meet, besides punctuation
_CLAUSE_SPLIT = re.compile(rf"[，,：:（）()]|{_JOINS}")
# what may come before a clause's subject: "而 UDP …", "but the thread …", "- **TCP**"
_LEAD = re.compile(r"[\W_]+|而且|而|但是|但|所以|因此|另外|其中|对于|\b(?:and|but|so|whereas|while|the|a|an|for|in)\b",
                   re.I)
# between a Chinese name and the one it qualifies: "进程内的线程", "TCP 中的拥塞控制"
_QUALIFIES = re.compile(r"\s*(?:中|内|里|里面|之间)?\s*的\s*|\s*(?:中|内|里)\s*")
_NEGATION = re.compile(r"不|没|未|无需|无法|\bnot\b|\bno\b|\bnever\b|n't|\bwithout\b|\bcannot\b", re.I)
_NOT_NEGATION = re.compile(r"不同|不仅|不断|不少|不过|不管|不论|不一定|未来|未知|未登录")  # only contain one
_NEGATION_REACH = 8  # Chinese characters after a negation that it is about
_FOLLOWING_WORDS = re.compile(r"(?:\W*\w+){1,4}")  # or English words
# "TCP 比 UDP 开销大", "higher latency than UDP": a comparison of two named things, not a
# property of one
_COMPARES = re.compile(r"比|相比|相对于|不同于|than|compared|versus|\bvs\b|\bdiffers?\b|\bunlike\b", re.I)
MIN_SHARED_WORDS = 2
# "TCP 开销大" beside the note's "UDP 开销小" agrees with it: the same words, opposite degrees
_OPPOSITE_DEGREES = tuple(pair.split("/") for pair in (
    "大/小 高/低 多/少 快/慢 长/短 强/弱 宽/窄 重/轻 增/减 升/降 好/差 简单/复杂 "
    "large/small big/small larger/smaller bigger/smaller high/low higher/lower more/less more/fewer "
    "fast/slow faster/slower long/short longer/shorter strong/weak stronger/weaker better/worse "
    "heavy/light heavier/lighter wide/narrow wider/narrower increase/decrease").split())
# a question that names this many things in one list ("什么是脏读、不可重复读和幻读") asks about
# each of them, as a comparison does; two ("均值和方差") are often one subject
LISTED_THINGS = 3
# a name of this many words is also known by their initials ("breadth-first search": BFS);
# of two words the initials are too often something else ("beam search": bs, batch size)
ACRONYM_PARTS = 3
MIN_SHARED_WEIGHT = 4.0  # IDF: two words each in fewer than ~1 in 7 cards
MARGIN = 1.5  # the note's other subject must fit the claim this much better than its own
# and the claim must be mostly the note's words: "top-p 的候选集大小会随分布自适应" shares
# "候选, 大小" with "(top-k) 候选集合大小固定" but says something else of them
MIN_CLAIM_SHARE = 0.5


class ConflictKind(StrEnum):
    SWAP = "swap"  # said of `subject`, what the note says of `instead`
    QUANTITY = "quantity"  # the quantity `subject` where the note gives `instead`
    PREMISE = "premise"  # `subject` said to suit what the question asks why it does not


@dataclass(frozen=True)
class Conflict:
    """An answer's clause about `subject` that the note says of `instead` (a swap), that
    gives the quantity `subject` where the note gives `instead`, or that says `subject` works
    well where the question asks why it is not used (a denied premise: `note` is the note's
    first point, `notes.key_points`, shown beside it; `instead` the question)."""

    said: str
    note: str
    subject: str
    instead: str
    sentence: tuple[int, int] = (0, 0)  # where the answer's sentence that says it starts and ends
    kind: ConflictKind = ConflictKind.SWAP

    def about(self, point: str) -> bool:
        """Whether `point` (a card's point as graded, Markdown stripped) is the statement the
        answer contradicts, or part of it. A denied premise contradicts no one point: its
        sentence earns nothing, the note's points stay to be made."""
        if self.kind == ConflictKind.PREMISE:
            return False
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
        plain = self.plain
        cues = [m for m in _negations(plain) if any(word in _reach(plain, m.end()) for word in words)]
        return len(cues) % 2 == 1


def _negations(plain: str) -> list[re.Match]:
    """The negation cues of a lower-case text (its names blanked first, `_blank_names`, where
    it has them), not counting words that only contain one ("不同", "未来")."""
    return list(_NEGATION.finditer(_NOT_NEGATION.sub(lambda m: " " * len(m.group()), plain)))


def _blank_names(lower: str, spans: list[tuple[int, int, str]]) -> str:
    """`lower` with the names at `spans` blanked, positions kept: "不可重复读" is a name, not a
    negation."""
    for start, end, _ in reversed(spans):
        lower = lower[:start] + " " * (end - start) + lower[end:]
    return lower


def _reach(text: str, start: int) -> str:
    """What a negation ending at `start` is about: the next few Chinese characters, or the
    next few English words ("does not guarantee reliable ordered delivery")."""
    if _CJK_WORD.match(text[start:].lstrip()):
        return text[start: start + _NEGATION_REACH]
    words = _FOLLOWING_WORDS.match(text, start)
    return words.group() if words else ""


@dataclass(frozen=True)
class _Names:
    """The compared things, each with the patterns that find its spellings, and the words of
    those spellings (lower case)."""

    patterns: tuple[tuple[str, re.Pattern, bool], ...]  # name, pattern, whether it reads the text as written
    words: frozenset[str]

    @classmethod
    def of(cls, compared: dict[str, frozenset[str]]) -> _Names:
        patterns = []
        for name, spellings in compared.items():
            for spelling in spellings:
                if _CJK_WORD.fullmatch(spelling):
                    patterns.append((name, re.compile(re.escape(spelling)), False))
                elif spelling != name.lower() and spelling.isalpha():
                    # an abbreviation ("LN", "BFS") names the thing only in capitals and as a
                    # whole word: "cases" is not CAS, "bit" is not a binary indexed tree
                    patterns.append((name, re.compile(rf"(?<![A-Za-z0-9\-]){spelling.upper()}(?![A-Za-z0-9\-])"), True))
                else:  # a whole word, plural too ("processes")
                    pattern = re.compile(rf"(?<![a-z0-9\-]){re.escape(spelling)}(?:e?s)?(?![a-z0-9\-])")
                    patterns.append((name, pattern, False))
        spellings = frozenset().union(*compared.values()) if compared else frozenset()
        # a clause that only names a thing says nothing about it: "Prompt tuning (Lester et al.)"
        return cls(tuple(patterns), spellings | {word for spelling in spellings for word in spelling.split()})

    def find(self, text: str) -> tuple[list[tuple[int, int, str]], set[str]]:
        """Where `text` names a compared thing (positions in `text.lower()`), and the things
        it mentions only inside longer words. A name inside a longer one ("读" in
        "不可重复读") does not count, nor a one-character Chinese name inside a longer word
        ("栈" in "栈顶": the stack's top is not the stack; longer names are specific enough,
        and jieba cuts them unreliably: "测试|集用")."""
        lower = text.lower()
        as_written = text if len(text) == len(lower) else lower  # positions must agree
        spans = [(m.start(), m.end(), name) for name, pattern, written in self.patterns
                 for m in pattern.finditer(as_written if written else lower)]
        spans = [(start, end, name) for start, end, name in spans
                 if not any(s <= start and end <= e and e - s > end - start for s, e, _ in spans)]
        one_character = [span for span in spans if span[1] - span[0] == 1 and _CJK_WORD.fullmatch(lower[span[0]:span[1]])]
        in_words: set[tuple[int, int, str]] = set()
        if one_character:  # jieba is asked only when a one-character name was found
            words = _words_at(lower)
            in_words = {span for span in one_character if not _whole_word(lower, words, span[0], span[1])}
        spans = [span for span in spans if span not in in_words]
        return sorted(spans), {name for _, _, name in in_words} - {name for _, _, name in spans}

    def names(self, word: str) -> bool:
        return word in self.words or re.sub(r"e?s$", "", word) in self.words

    def part_of_name(self, word: str) -> bool:
        """A Chinese word inside a name ("测试" of "测试集"): what names the thing, not what is said of it."""
        return bool(_CJK_WORD.fullmatch(word)) and any(word in spelling for spelling in self.words)


def compared_terms(question: str) -> dict[str, frozenset[str]]:
    """The things a question compares ("Pre-LN 和 Post-LN", "TCP vs UDP", "栈和队列",
    "训练集、验证集和测试集") as the question spells them, each with the spellings that name it
    (lower case)."""
    asks_difference = bool(_ASKS_DIFFERENCE.search(question))
    found: list[str] = []
    for part in _QUESTION_END.split(question):
        pieces = _split_coordination(part)
        lists: list[list[str]] = []  # runs of things joined one to the next ("A、B 和 C")
        for left, right in zip(pieces, pieces[1:]):
            conjuncts = (_tail(left), _head(right))
            if not all(conjuncts):
                continue
            if lists and lists[-1][-1] == conjuncts[0] and _bare_name(left) == _bare_name(conjuncts[0]):
                lists[-1].append(conjuncts[1])
            else:
                lists.append(list(conjuncts))
        found += [name for things in lists
                  if asks_difference or len({name.lower() for name in things}) >= LISTED_THINGS for name in things]
    first: dict[str, str] = {}  # each thing as the question first spells it
    for name in found:
        first.setdefault(name.lower(), name)
    return {name: _spellings(name) for name in first.values()}


def _words_at(text: str) -> list[tuple[int, int]]:
    """Where each of jieba's words in `text` starts and ends."""
    spans, at = [], 0
    for word in jieba.lcut(text):
        spans.append((at, at + len(word)))
        at += len(word)
    return spans


# jieba joins a one-character name to the particle beside it ("栈是"); that is still the name
_PARTICLES = frozenset("是的和与也都在会就只不可能则要或")


def _whole_word(text: str, words: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether text[start:end] is whole words, or one word with a particle beside it."""
    first = next(span for span in words if span[0] <= start < span[1])
    last = next(span for span in words if span[0] < end <= span[1])
    beside = text[first[0]:start] + text[end:last[1]]
    return not beside or (first == last and beside in _PARTICLES)


def _split_coordination(part: str) -> list[str]:
    bounds = {0} | {end for _, end in _words_at(part)}  # where jieba's words start and end
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


def _bare_name(text: str) -> str:
    """A list's middle piece is one thing when it is only that thing's name ("A、B 和 C")."""
    return re.sub(r"[\W_]", "", text).lower()


def _chinese_thing(word: str) -> str | None:
    return word if 1 <= len(word) <= 6 and word not in _NOT_THINGS else None


def _spellings(name: str) -> frozenset[str]:
    spellings = {name.lower()}
    capitals = re.findall(r"[A-Z]", name)
    if len(capitals) >= 2 and not name.isupper() and re.fullmatch(r"[A-Za-z]+", name):
        spellings.add("".join(capitals).lower())  # LayerNorm: ln
    parts = re.split(r"[\s-]+", name)
    if len(parts) >= ACRONYM_PARTS and all(re.fullmatch(r"[A-Za-z][a-z]+", part) for part in parts):
        spellings.add("".join(part[0] for part in parts).lower())  # breadth-first search: bfs
    return frozenset(spellings)


def find_conflicts(question: str, note: str, answer: str, weight: Callable[[str], float],
                   other_notes: tuple[str, ...] = (), asked: str | None = None) -> list[Conflict]:
    """The answer's clauses that deny the premise of the question as `asked` (else of the
    note's `question`: the question a mock interview asks; step 5), that say of one compared
    thing what the note says of another, then those that give another complexity than the
    note and than `other_notes` (the other card graded for the same question).
    `weight(word)`: how telling a shared word is (the lexical index's IDF)."""
    read = _read_note(question, note)
    swaps: list[Conflict] = []
    if read.said_of:
        said = (_swap(clause, read, weight) for clause in _clauses(answer, read.names) if clause.subject is not None)
        swaps = [conflict for conflict in said if conflict is not None]
    premise = _denied_premise(asked or question, note, answer, weight)
    return premise + swaps + _wrong_quantities(note, answer, weight, other_notes)


def _swap(clause: _Clause, read: _Note, weight: Callable[[str], float]) -> Conflict | None:
    """The answer clause says mostly what the note says of another compared thing (step 3)."""
    fits = {subject: _total(clause.words & words, weight) for subject, words in read.said_of.items()}
    own = fits.pop(clause.subject, 0.0)
    rivals = sorted(((fit, subject) for subject, fit in fits.items()
                     if len(clause.words & read.said_of[subject]) >= MIN_SHARED_WORDS), reverse=True)
    if not rivals:
        return None
    fit, instead = rivals[0]
    runner_up = rivals[1][0] if len(rivals) > 1 else 0.0  # a claim that fits two other things is of neither
    claim = _total(clause.words & read.words, weight)  # words the note never uses say nothing either way
    if fit < max(MIN_SHARED_WEIGHT, MIN_CLAIM_SHARE * claim) or fit <= MARGIN * max(own, runner_up) + 1.0:
        return None
    # the note clause about that thing that says most of it, said the same way (the note's
    # "Pre-LN 可以不用 warmup" is not contradicted by "Post-LN 需要 warmup"), and not to the
    # opposite degree ("TCP 开销大" beside "UDP 开销小" agrees with the note)
    cited = max((c for c in read.clauses if c.subject == instead), key=lambda c: _total(clause.words & c.words, weight))
    shared = clause.words & cited.words
    if not shared or cited.negates(shared) != clause.negates(shared) or _contrasts(clause.plain, cited.plain):
        return None
    return Conflict(clause.text, cited.text, clause.subject, instead, clause.sentence)


def _contrasts(said: str, note: str) -> bool:
    """Whether the two texts use opposite degrees ("大" against "小", "faster" against "slower")."""
    def has(text: str, word: str) -> bool:
        return word in text if _CJK_WORD.fullmatch(word) else re.search(rf"\b{word}\b", text) is not None
    return any(has(said, a) and not has(said, b) and has(note, b) and not has(note, a)
               for pair in _OPPOSITE_DEGREES for a, b in (pair, pair[::-1]))


def _total(words: frozenset[str], weight: Callable[[str], float]) -> float:
    return sum(weight(w) for w in words)


@dataclass(frozen=True)
class _Note:
    """A card's note as `find_conflicts` reads it."""

    names: _Names  # the things its question compares
    clauses: tuple[_Clause, ...]  # its clauses about one of them
    said_of: Mapping[str, frozenset[str]]  # everything it says of each (read-only: the note is cached)
    words: frozenset[str]  # all those words


@functools.lru_cache(maxsize=1024)
def _read_note(question: str, note: str) -> _Note:
    """What the question compares and what the note says of each (read once per card)."""
    compared = compared_terms(question)
    names = _Names.of(compared)
    clauses = tuple(c for c in _clauses(note, names) if c.subject is not None) if len(compared) >= 2 else ()
    said_of: dict[str, frozenset[str]] = {}
    for clause in clauses:
        said_of[clause.subject] = said_of.get(clause.subject, frozenset()) | clause.words
    return _Note(names, clauses, MappingProxyType(said_of), frozenset().union(*said_of.values()))


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
            spans, inside = names.find(piece)
            if spans:  # a clause that names one starts a new subject, or leaves it unknown
                subject = _subject(lower, spans)
            elif inside - {subject}:  # "队列先进先出，出栈入栈都在栈顶": no longer about 队列 alone
                subject = None
            # single words: word pairs ("share_memory") would count a shared word twice
            words = frozenset(w for w in terms(piece, variants=False)
                              if "_" not in w and w not in _FUNCTION_WORDS and not names.names(w)
                              and not names.part_of_name(w))
            clauses.append(_Clause(piece, subject, words, _blank_names(lower, spans), sentence))
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


# --- wrong complexities (step 4) ----------------------------------------------------------

_BIG_O = re.compile(r"(?<![A-Za-z0-9_])O\s*\(((?:[^()]|\([^()]*\)){1,40})\)")  # "复杂度是O(n)" too
_FULL_WIDTH = str.maketrans("（）", "()")  # "O（n²）", as Chinese input writes it; lengths kept
_COMPLEXITY_WORDS = (  # the same classes in words; "线性" alone is also "linear" as in 线性表
    (re.compile(r"constant[\s-]time|常数(?:时间|级|复杂度)", re.I), "1"),
    (re.compile(r"linear[\s-]time|线性(?:时间|级|复杂度)", re.I), "n"),
    (re.compile(r"logarithmic[\s-]time|对数(?:时间|级|复杂度)", re.I), "logn"),
    (re.compile(r"quadratic[\s-]time|平方(?:时间|级|复杂度)", re.I), "n^2"),
)
# a bound is not a value: "低于 O(n²)", "at most O(n^2)", "O(n) 以内"
_BOUND_BEFORE = re.compile(r"(?:低于|高于|小于|大于|不超过|不到|至多|至少|最多|最少|少于|多于|超过|优于|好于|"
                           r"less than|more than|at most|at least|up to|better than|worse than|below|above|"
                           r"under|over|bounded by|within)\s*$", re.I)
_BOUND_AFTER = re.compile(r"^\s*(?:以上|以下|以内|之内|or (?:better|less|more|worse|lower|higher))", re.I)
# memory is measured apart from time: "空间复杂度 O(n)" beside "时间复杂度 O(n log n)" is no clash
_SPACE = re.compile(r"空间|显存|内存|存储|space|memory|storage", re.I)
# and one case apart from another: "退化到 O(n)" beside "平均 O(1)" is no clash either
_CASES = {"worst": re.compile(r"最坏|最差|退化|worst|degrad", re.I), "average": re.compile(r"平均|average|expected", re.I),
          "best": re.compile(r"最好|最优|best", re.I), "amortized": re.compile(r"均摊|摊还|amorti[sz]ed", re.I)}
# words that only name what is measured: every complexity clause has them
_MEASURES = frozenset("复杂 复杂度 时间 时间复杂度 空间 空间复杂度 计算 计算量 开销 每层 单层 约 大约 大概 "
                      "complexity time space cost costs run runs take takes per".split())
# words of this weight (IDF) on both sides that the other lacks: two clauses about two things
OTHER_SUBJECT = MIN_SHARED_WEIGHT / 2
_QUANTITY_CLAUSE = re.compile(rf"[，,：:]|{_JOINS}")  # brackets kept, and never cut inside an O(…)
_FACTOR = re.compile(r"sqrt\([^()]*\)|log[a-z]|\d+\^[a-z]|[a-z](?:\^?\d+)?|\d+")
_POWER = re.compile(r"(sqrt\([^()]*\)|log[a-z]|\d+\^[a-z]|[a-z])\^?(\d*)")  # "2^n" is its own base


@dataclass(frozen=True)
class _Complexity:
    value: str  # canonical: "d*n^2", "logn*n", "e+v"
    written: str  # as the text writes it
    space: bool  # a memory bound, not a time bound
    case: str | None  # "worst", "average", "best", "amortized"; None: not said, or several

    def comparable(self, other: _Complexity) -> bool:
        """Whether the two measure the same: both time or both memory, the same case (or a
        case not said), and in the same variables when both have any ("O(h)" of a tree's
        height is not compared with "O(log n)")."""
        mine, theirs = _variables(self.value), _variables(other.value)
        return (self.space == other.space and (None in (self.case, other.case) or self.case == other.case)
                and not (mine and theirs and not mine & theirs))


@dataclass(frozen=True)
class _QuantityClause:
    text: str
    quantities: tuple[_Complexity, ...]
    words: frozenset[str]  # its words (or, having none, its sentence's before it), the measures' names aside
    negated: bool
    sentence: tuple[int, int]
    borrowed: bool = False  # its words are its sentence's before it


def _complexities(text: str) -> list[tuple[_Complexity, int, int]]:
    """The complexities `text` gives as values (not bounds), with where each is written."""
    text = text.translate(_FULL_WIDTH)
    space = bool(_SPACE.search(text))
    cases = [case for case, cue in _CASES.items() if cue.search(text)]
    case = cases[0] if len(cases) == 1 else None
    found = [(m.group(), _canonical(m.group(1)), m.start(), m.end()) for m in _BIG_O.finditer(text)]
    found += [(m.group(), value, m.start(), m.end()) for pattern, value in _COMPLEXITY_WORDS
              for m in pattern.finditer(text)]
    return [(_Complexity(value, written, space, case), start, end) for written, value, start, end in found
            if not _BOUND_BEFORE.search(text[:start]) and not _BOUND_AFTER.match(text[end:])]


def _canonical(expression: str) -> str:
    """One spelling per Big-O argument: "n^2 \\cdot d", "n²d", "d n^2" and "n*n*d" are all
    "d*n^2"; "n log(n)", "n lg n" and "nlogn" are "logn*n"; "|V|+|E|" is "e+v". Constant
    factors go (O(2n) is O(n))."""
    text = unicodedata.normalize("NFKC", expression).lower().replace("**", "^")
    text = re.sub(r"\\(?:mathrm|text|mathcal|operatorname|left|right)\b", "", text)
    text = re.sub(r"\\sqrt\s*\{([^{}]*)\}|√\s*\{?\(?([a-z0-9]+)\)?\}?|sqrt\s*\(([^()]*)\)",
                  lambda m: " sqrt(" + "".join(g or "" for g in m.groups()).strip() + ") ", text)
    text = re.sub(r"max\(([^()]*)\)", lambda m: m.group(1).replace(",", "+"), text)  # O(max(n, m)) = O(n + m)
    text = re.sub(r"\\log|\blg\b", "log", text)
    text = re.sub(r"log\s*_?\s*\{?2\}?(?=\s*[a-z(])", "log", text)  # log₂ n: NFKC makes it log2 n
    text = re.sub(r"log\s*\(\s*([a-z])\s*\)", r"log\1", text)
    text = re.sub(r"log\s+([a-z])", r"log\1", text)
    text = re.sub(r"\\cdot|\\times|[*·⋅×\\{}|\s]", "", text)
    terms = []
    for term in text.split("+"):
        powers: Counter[str] = Counter()
        for part, sign in zip(term.split("/"), (1, -1, -1, -1)):  # "n^2 d / h": h divides
            for factor in _FACTOR.findall(part):
                if factor.isdigit():
                    continue  # a constant factor
                base, power = _POWER.fullmatch(factor).groups()
                powers[base] += sign * int(power or 1)
        terms.append("*".join(base if n == 1 else f"{base}^{n}" for base, n in sorted(powers.items()) if n) or "1")
    return "+".join(sorted(terms))


def _variables(value: str) -> set[str]:
    return set(re.findall(r"(?<![a-z])(?:log)?([a-z])(?![a-z(])", value.replace("sqrt", "")))


def _quantity_clauses(text: str) -> list[_QuantityClause]:
    written = text.translate(_FULL_WIDTH)
    if not _BIG_O.search(written) and not any(pattern.search(written) for pattern, _ in _COMPLEXITY_WORDS):
        return []  # most answers and notes give none: no clause need be segmented
    clauses = []
    for sentence_start, sentence_end, stop_end in _spans(text, _CLAUSE_END, 0, len(text)):
        inside = [m.span() for m in _BIG_O.finditer(written, sentence_start, sentence_end)]
        cuts = [m for m in _QUANTITY_CLAUSE.finditer(text, sentence_start, sentence_end)
                if not any(start < m.start() < end for start, end in inside)]  # "O(max(n, m))" is whole
        starts = [sentence_start, *(m.end() for m in cuts)]
        ends = [*(m.start() for m in cuts), sentence_end]
        before: frozenset[str] = frozenset()
        for start, end in zip(starts, ends):
            piece = text[start:end].strip()
            found = _complexities(piece)
            blank = piece
            for _, at, until in sorted(found, key=lambda q: -q[1]):
                blank = blank[:at] + " " + blank[until:]
            own = frozenset(w for w in terms(blank, variants=False)
                            if "_" not in w and w not in _FUNCTION_WORDS and w not in _MEASURES
                            and not re.fullmatch(r"[\d.]+", w))
            words = own or before  # "二分查找的复杂度：O(log n)": the sentence's words before the colon
            before = before | own
            if found:
                clauses.append(_QuantityClause(piece, tuple(q for q, _, _ in found), words,
                                               bool(_negations(piece.lower())), (sentence_start, stop_end), not own))
    return clauses


def _wrong_quantities(note: str, answer: str, weight: Callable[[str], float],
                      other_notes: tuple[str, ...] = ()) -> list[Conflict]:
    """The answer's clauses that give a complexity the note gives otherwise (step 4): one
    conflict per clause. A value any of `other_notes` gives (the other card graded for the
    same question) is no conflict either."""
    said = _quantity_clauses(answer)
    if not said:
        return []
    given = _note_quantities(note)
    known = [q for clause in (*given, *(c for other in other_notes for c in _note_quantities(other)))
             for q in clause.quantities]
    conflicts = []
    for clause in said:
        if clause.negated:
            continue
        for quantity in clause.quantities:
            if any(q.value == quantity.value and quantity.comparable(q) for q in known):
                continue  # a note gives it somewhere
            aligned = [(_total(clause.words & other.words, weight), other) for other in given
                       if any(quantity.comparable(q) for q in other.quantities) and clause.words & other.words]
            if not aligned:
                continue
            fit, cited = max(aligned, key=lambda pair: (pair[0], not pair[1].borrowed))
            if clause.borrowed or cited.borrowed:  # words from elsewhere in the sentence: mostly shared
                if fit < max(MIN_SHARED_WEIGHT, MIN_CLAIM_SHARE * _total(clause.words | cited.words, weight)):
                    continue
            elif fit < MIN_SHARED_WEIGHT and not clause.words <= cited.words:
                continue
            if min(_total(clause.words - cited.words, weight), _total(cited.words - clause.words, weight)) >= OTHER_SUBJECT:
                continue  # each says something the other does not: "linear attention is O(n)" beside "standard …"
            theirs = [q for q in cited.quantities if quantity.comparable(q)]
            if {q.value for q in theirs} & {q.value for q in clause.quantities}:
                continue  # "from O(n²) to O(n)": the answer gives the note's value too
            instead = " / ".join(dict.fromkeys(q.written for q in theirs))  # all the note's clause gives
            conflicts.append(Conflict(clause.text, cited.text, quantity.written, instead,
                                      clause.sentence, ConflictKind.QUANTITY))
            break
    return conflicts


@functools.lru_cache(maxsize=1024)
def _note_quantities(note: str) -> tuple[_QuantityClause, ...]:
    return tuple(_quantity_clauses(without_code(note)))  # code constants are not claims


# --- a denied premise (step 5) ------------------------------------------------------------

_NAME = r"([A-Za-z][A-Za-z0-9.+-]*(?:[ \t]+[A-Za-z][A-Za-z0-9.+-]*){0,2})"  # ASCII: "BN而用LN" is BN
_OBJECT = r"(?:a\s+|an\s+|the\s+)?" + _NAME
# questions that ask why a thing is not used: the thing, as the question names it; not "为什么
# Post-LN 不用 warmup 会发散" or "why does it diverge if we don't use warmup" (the thing is needed)
_WHY_NOT = tuple(re.compile(pattern, re.I) for pattern in (
    r"(?:为什么|为何|为啥)[^？?]*?(?:不|很少|极少|不能|不再)(?:用|使用|采用|选用)\s*" + _NAME
    + r"(?![A-Za-z0-9.+-])(?!\s*(?:会|就|的话|时|的时候))",
    r"(?:为什么|为何|为啥)\s*" + _NAME + r"\s*(?:不适合|不适用|不太适合)",
    _NAME + r"\s*(?:为什么|为何|为啥)\s*(?:不适合|不适用|不太适合|很少用|不用)",
    r"\bwhy\s+(?:is|are)\s+" + _OBJECT + r"\s+(?:not|rarely|seldom|never|hardly)\s+used",
    r"\bwhy\s+(?:isn't|aren't)\s+" + _OBJECT + r"\s+used",
    r"\bwhy\s+(?:is|are)\s+" + _OBJECT
    + r"\s+(?:a\s+(?:poor|bad)\s+fit|not\s+(?:a\s+good\s+fit|suitable)|unsuitable|avoided)",
    r"\bwhy\s+(?:do|does)\s+[^?]*?\bavoid\s+" + _OBJECT,
    r"\bwhy\s+(?:don't|doesn't|do\s+not|does\s+not)\s+(?:(?!\b(?:if|unless|when|without)\b)[^?])*?\buse\s+"
    + _OBJECT,
    r"\bwhy\s+not\s+(?:just\s+)?use\s+" + _OBJECT,
))
# where a captured name ends ("use MSE loss for classification": MSE loss), and what is no name
_AFTER_NAME = frozenset("in for on with without at to during when as instead anymore nowadays today now here there "
                        "and or if because since while".split())
_NOT_A_NAME = frozenset("it its they them this that these those such same one ones something anything "
                        "everything more less bigger larger smaller using so very".split())
_CAMEL_CASE = re.compile(r"(?<![A-Za-z0-9])[A-Z][a-z]+(?:[A-Z][a-z]*)+(?![A-Za-z0-9])")  # "做BatchNorm" too
# what says a thing works well, after its name ("BN 在 NLP 里效果更好", "BatchNorm works better")
_GOOD_AFTER = re.compile(r"更好|更优|更适合|更合适|更稳定|更有效|效果(?:很|非常|也|更)?好|表现(?:很|更)?好|好用|优于|胜过"
                         r"|\b(?:works?|performs?)\s+(?:much\s+|even\s+|just\s+)?(?:better|well|fine)\b"
                         r"|\bmore\s+(?:stable|suitable|effective|robust)\b|\bsuperior\b|\boutperforms?\b"
                         r"|\b(?:widely|commonly|usually|typically)\s+used\b", re.I)
# or that it is what is used, just before it ("大模型都用 BatchNorm", "most models use BatchNorm")
_USED_BEFORE = re.compile(r"(?:都|普遍|广泛|主要|大多|大都)(?:在)?(?:用|使用|采用)(?:的是)?\s*$"
                          r"|\b(?:most|many|all|modern)\b[\w\s-]{0,40}\buse\s+(?:a\s+|the\s+)?$", re.I)
# a name right after these is what the clause compares with or replaces, not what it is about:
# "LN 比 BN 更适合", "LayerNorm replaced BatchNorm", "用 LN 替代 BN 效果更好"
_AS_OBJECT = re.compile(r"(?:比|相比于?|相对于|不同于|不像|替代|取代|代替|替换|换成|换掉|than|compared\s+(?:to|with)"
                        r"|unlike|replac(?:e|es|ed|ing)|instead\s+of|over|versus|vs\.?|from)\s*(?:the\s+)?$", re.I)
# a claim reported to be rejected: "有人认为 BN 在 NLP 里更好", "Many people think BatchNorm works better"
_REPORTED = re.compile(r"认为|以为|觉得|有人说|常说|据说|误解|误区|\b(?:think|thinks|thought|believe[sd]?|assume[sd]?|myth"
                       r"|misconception|claim[sed]*|said)\b", re.I)
# "better in CV than (it does) in NLP", "比在 NLP 里": the question's field named as the other
# side of a comparison
_OTHER_SIDE = re.compile(r"(?:than|比|相比于?|相较于?|相对于|比起|compared\s+(?:to|with))\s*"
                         r"(?:(?:it|they|does|do|did|is|are|was|were|in|for|on|with|at|the|在|对)\b\s*)*$", re.I)
# a clause about somewhere else than the field ("除了 NLP，…", "outside NLP"), or about what
# would be ("如果 batch 足够大，BN 在 NLP 里也会更好", "if batches were fixed, BN would work")
_ELSEWHERE = re.compile(r"除了|以外|之外|\b(?:outside|apart\s+from|except|other\s+than|besides)\b", re.I)
_HYPOTHETICAL = re.compile(r"如果|假如|假设|若|即使|即便|只要|要是|倘若|\b(?:if|unless|would|could|might"
                           r"|as\s+long\s+as|provided)\b", re.I)
# what the question says is used instead ("为什么不用 ReLU 而用 SwiGLU"): not the field
_INSTEAD = re.compile(r"(?:而用|而是|改用|instead\s+of|in\s+favou?r\s+of|rather\s+than|over)(.*)$", re.I)
# where a claim about another setting ends: "BN 在 CV 里效果很好，但在 NLP 里……"
_CONTRAST = re.compile(r"但是?|不过|然而|(?<![因从然])而|\b(?:but|however|whereas|while|although|though|unlike|and)\b",
                       re.I)
_PREMISE_CLAUSE_SPLIT = re.compile(f"{_CLAUSE_SPLIT.pattern}|{_CONTRAST.pattern}", re.I)
# the words that ask it, which name no field
_ASKING_WHY_NOT = frozenset("为什么 为何 为啥 不 不用 用 使用 采用 选用 很少 极少 一般 通常 往往 不适合 适合 不适用 适用 "
                            "不太 现在 如今 used use using rarely seldom never hardly not poor bad fit good suitable "
                            "unsuitable avoid avoided don't doesn't we you they people during favor favour".split())
# a word of the question this telling (IDF) names the field it asks about ("NLP"), not the
# words of many questions ("models", "loss", "large": IDF 2.2-2.3 in the shipped notes)
MIN_FIELD_WEIGHT = 3.0


@functools.lru_cache(maxsize=1024)  # asked for every reference of every grade
def why_not_thing(question: str) -> str | None:
    """The thing a question asks why it is not used ("为什么NLP不用BN？": BN; "Why don't we
    use MSE loss for classification?": MSE loss), or None."""
    for pattern in _WHY_NOT:
        found = pattern.search(question)
        if found is None:
            continue
        words = []
        for word in found.group(1).split():
            if word.lower() in _AFTER_NAME:
                break
            words.append(word.rstrip("."))
        if words and words[0].lower() not in _NOT_A_NAME:
            return " ".join(words)
    return None


def _denied_premise(question: str, note: str, answer: str, weight: Callable[[str], float]) -> list[Conflict]:
    """The answer's clauses that say the thing the question asks why it is not used works
    well, or is what is used, in the very field the question names: "为什么NLP不用BN？"
    answered "BatchNorm 在 NLP 里效果更好". A false alarm zeroes a right sentence, so every
    condition leans towards silence:
    - the thing is one the note names (by the question's name, its capitals, a short name
      inside it, or a CamelCase name of the note or answer whose capitals it is: BN,
      BatchNorm);
    - the field is a word of the question the note uses too, telling enough (IDF ≥
      `MIN_FIELD_WEIGHT`), not the thing nor what the question says is used instead; without
      one nothing is checked ("BN 在 CV 里效果很好" is often part of a right answer);
    - the answer is cut into clauses at commas and contrast words (但 / 而 / but / and…); a
      clause denies the premise when it is about the thing (`_denies`), names the field
      itself, not as the other side of a comparison ("better in CV than in NLP"), and is
      not about elsewhere ("除了 NLP", "outside NLP"), not hypothetical ("如果…", "would"),
      not a report of what others think ("有人认为…"), and has no negation."""
    thing = why_not_thing(question)
    if thing is None:
        return []
    names = _Names.of(_thing_spellings(thing, note + "\n" + answer))
    if not names.find(note)[0]:
        return []  # a thing the note never names is not the note's premise
    instead = _INSTEAD.search(question)
    field = ({term for term in terms(question, variants=False)} & _note_terms(note)) - {
        term for term in terms(instead.group(1) if instead else "", variants=False)}
    field = {term for term in field if "_" not in term and not names.names(term) and weight(term) >= MIN_FIELD_WEIGHT
             and term not in _LATIN_STOP | _FUNCTION_WORDS | _ASKING_WHY_NOT}
    if not field:
        return []
    statement = next(iter(key_points(note)), note.strip())  # shown beside the claim
    conflicts = []
    for sentence_start, sentence_end, stop_end in _spans(answer, _CLAUSE_END, 0, len(answer)):
        for start, end, _ in _spans(answer, _PREMISE_CLAUSE_SPLIT, sentence_start, sentence_end):
            clause = answer[start:end].strip(" \t-*•")
            context = answer[sentence_start:end]  # "有人认为，…", "如果 batch 足够大，…" come first
            if (_REPORTED.search(context) or _HYPOTHETICAL.search(context) or _ELSEWHERE.search(clause)
                    or not _names_field(clause, field) or not _denies(clause, names)):
                continue
            conflicts.append(Conflict(clause, statement, thing, question.strip(), (sentence_start, stop_end),
                                      ConflictKind.PREMISE))
            break  # one per sentence: it earns nothing either way
    return conflicts


@functools.lru_cache(maxsize=1024)
def _note_terms(note: str) -> frozenset[str]:
    """A card's words (segmented once per card, as `_read_note` reads it once)."""
    return frozenset(terms(note, variants=False))


def _thing_spellings(thing: str, text: str) -> dict[str, frozenset[str]]:
    """The thing's names: itself, the capitalised short names inside a longer one ("MSE" of
    "MSE loss"), and for an abbreviation the CamelCase names in `text` whose capitals it is."""
    spelled = {thing: _spellings(thing)}
    words = thing.split()
    if len(words) > 1:
        spelled |= {word: _spellings(word) for word in words if re.search(r"[A-Z].*[A-Z0-9]", word)}
    if thing.isupper():  # "BN": also "BatchNorm"
        spelled |= {word: _spellings(word) for word in _CAMEL_CASE.findall(text)
                    if "".join(re.findall(r"[A-Z]", word)) == thing}
    return spelled


def _denies(clause: str, names: _Names) -> bool:
    """Whether the clause says the thing works well or is what is used, about the thing
    itself (not what it is compared with or replaced by, nor a name it only qualifies: "BN
    的改进版 PowerNorm 效果更好"), without a negation."""
    spans, _ = names.find(clause)
    lower = clause.lower()
    about = [(start, end) for start, end, _ in spans
             if not _AS_OBJECT.search(lower[:start]) and not re.match(r"\s*的", lower[end:])]
    if not about:
        return False
    if not (_GOOD_AFTER.search(lower, about[0][1]) or any(_USED_BEFORE.search(lower[:start]) for start, _ in about)):
        return False
    return not _negations(_blank_names(lower, spans))


def _names_field(text: str, field: set[str]) -> bool:
    """Whether `text` names one of the question's field words, other than after "than"."""
    lower = text.lower()
    for term in set(terms(text, variants=False)) & field:
        pattern = re.escape(term) if _CJK_WORD.fullmatch(term) else rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])"
        if any(not _OTHER_SIDE.search(lower[:m.start()]) for m in re.finditer(pattern, lower)):
            return True
    return False
