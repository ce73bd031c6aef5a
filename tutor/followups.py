"""What the interviewer says between questions: follow-ups chosen from the notes' own
structure, and hints that read as sentences.

After a main answer:
- a good answer (≥ 70) goes one level deeper: the next question is a card that builds on
  this one — its question names a technical name this card's question names, or it is of
  the same topic and its text uses this question's terms — the nearest such question
  (question chunks' cosine) among those not asked yet;
- a partial answer (50–69) is asked about its most important missed point (the one
  carrying the most rare-term weight beyond the question's own words), as a question of
  the point's kind: a formula, a comparison, a cost, a reason, a number, or a detail;
- a weak answer (1–49) hears what the notes say on that point and is asked to explain it;
- an empty or "don't know" answer (0), or one with nothing left to ask, moves on.
Hints name a direction first (the kind of the missing point), then give the start of the
point itself. A code block from the notes is one point (`grading.grading_points`): it is
asked about only when no statement is left to ask, as a request to write it, named by
what it is written for, and never quoted whole into a sentence; its hint quotes its key
line (`key_line`).
Everything is said in the interview's language (Chinese or English); names keep the
notes' spelling; citations ("Child et al., 2019") and sizes ("140GB") are never named as
a subject.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .answerability import salient_terms
from .conflicts import ConflictKind
from .grading import Band, Grade, code_lines, grading_points, is_code_point
from .index import Index
from .lexical import is_chinese, terms
from .notes import Card

_CITATION = re.compile(r"[（(][^（）()]*(?:et al|\d{4})[^（）()]*[)）]|\b[A-Z][a-z]+ et al\.?,?\s*\d{0,4}")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.S)
_STATED_FORMULA = re.compile(r"\$\$|\$[^$]*[=≈∝][^$]*\$|公式|formula")
_NAME = re.compile(r"[A-Z]|\d|-")  # a name: capitals inside, a digit or a hyphen
_CUES = (  # (kind, pattern) on the point's prose (formulas aside): the first match names its kind
    ("compare", re.compile(r"相比|区别|不同于|而是|对比|优于|\bvs\.?\b|than|compared|unlike|whereas|instead of")),
    ("cost", re.compile(r"代价|缺点|开销|成本|限制|局限|问题是|损失|cost|drawback|downside|overhead|limitation|trade-?off")),
    ("reason", re.compile(r"因为|所以|为了|原因|导致|因此|由于|because|so that|in order to|therefore|since|due to")),
    # a quantity: a number with a unit or a multiplier, or of two digits or more; never the
    # digits of a name (GPT-3, FP16, ZeRO-1) or a lone small number ("秩 1")
    ("number", re.compile(r"(?<![A-Za-z\d.\-_])(?:\d+(?:\.\d+)?\s*(?:%|％|倍|×|x\b|[KMGT]B?\b|B\b|k\b|亿|万|千"
                          r"|bits?\b|bytes?\b|位|比特|字节|层|维|个|次|tokens?\b)|\d{2,})")),
)
_EXAMPLES = re.compile(r"[（(]\s*(?:如|例如|比如|e\.g\.|such as)[^（）()]*[)）]"  # examples name no subject
                       r"|(?:例如|比如|如(?=\s|[A-Za-z])|e\.g\.|such as)\s*[^，。；,;（(]*")
# the reporting verb a cut citation leaves behind ("Dong et al.（2021）指出，…")
_CITED_VERB = re.compile(r"^(?:指出|提出|发现|表明|认为|证明|显示|shows?|found|argued?)[，,：:\s]*")
# a point that leans on the text before it: a pronoun, or a connective that goes on from a
# clause the point was cut from ("而…", "then the scheduler picks…")
_LEANS_BACK = re.compile(r"(?:这|那|此|其|它|因此|所以|于是|同时|另外|此外|而|并且|但是|但|且|从而|进而|然后"
                         r"|(?:this|that|these|those|it|so|thus|hence|and|but|then|which|while|whereas|or)\b)", re.I)
# what a code block defines at its top level (class, def, function, func), and its lines
# that say nothing of the method yet (imports, comments, decorators, seeding the randomness)
_DEFINED = re.compile(r"^(?:async\s+)?(class|def|function|func)\s+([A-Za-z]\w*)", re.M)
_PREAMBLE = re.compile(r"(?:(?:import|from|using|package)\b|#|//|/\*|\*|--|@|.*(?:seed|default_rng)\()")
_TRAILING_COMMENT = re.compile(r"\s+(?:#|//).*$")
CODE_LINE_CHARS = 60  # a code line quoted in a hint or a summary cell is cut near this
_ASIDE = re.compile(r"[（(](?![A-Za-z0-9 .\-]+[)）])[^（）()]*[)）]")  # brackets, unless a bare Latin gloss: （RoPE）
QUESTIONS = {
    "zh": {
        "formula": "这一点能用公式写出来吗？每一项是什么意思？",
        "compare": "{subject}和相近的做法相比，区别在哪里？",
        "cost": "关于{subject}，这样做有什么代价或限制？",
        "reason": "关于{subject}，为什么会这样？背后的原因是什么？",
        "number": "关于{subject}，具体的数字是多少？这个数是怎么来的？",
        "detail": "关于{subject}，你能再具体说说吗？",
        "code": "能把{subject}的实现写成代码吗？写出关键的几步就行。",
        "unnamed": "这道题还有一部分你没有谈到，能补充一下吗？",
        "it": "这一点",
    },
    "en": {
        "formula": "Can you write this down as a formula and say what each term means?",
        "compare": "How does {subject} compare with the nearby alternatives?",
        "cost": "For {subject}, what does this cost, and where does it stop working?",
        "reason": "For {subject}, why is that? What is the reason behind it?",
        "number": "For {subject}, what is the actual number, and where does it come from?",
        "detail": "Can you say more about {subject}?",
        "code": "Can you write {subject} as code? The key steps are enough.",
        "unnamed": "There is one part of this question you have not covered yet. Can you add it?",
        "it": "this approach",
    },
}
HINTS = {
    "zh": {
        "formula": "想想{subject}的数学形式：它能写成一个公式。",
        "compare": "想想{subject}和相近的方法相比有什么不同。",
        "cost": "想想{subject}的代价和限制。",
        "reason": "想想{subject}背后的原因：为什么要这样做？",
        "number": "想想和{subject}有关的具体数字和量级。",
        "detail": "想想{subject}在这里起什么作用。",
        "code": "想想{subject}的实现要分哪几步，每一步的输入和输出是什么。",
        "unnamed": "想想题目问的哪一部分你还没有答到。",
        "start": "笔记里的这一点是这样开头的：「{start}……」",
        "code_start": "笔记里的代码关键的一行是：「{start}」",
        "it": "它",
    },
    "en": {
        "formula": "Think about how {subject} is written as a formula.",
        "compare": "Think about how {subject} compares with the nearby alternatives.",
        "cost": "Think about what {subject} costs and where it stops working.",
        "reason": "Think about the reason behind {subject}: why is it done this way?",
        "number": "Think about the actual numbers behind {subject} and their order of magnitude.",
        "detail": "Think about the part {subject} plays here.",
        "code": "Think about the steps {subject} takes in code, and what goes in and out of each.",
        "unnamed": "Think about which part of the question your answer has not reached yet.",
        "start": "The notes start this point like this: \"{start}…\"",
        "code_start": "A key line of the notes' code: \"{start}\"",
        "it": "it",
    },
}
SAYINGS = {
    "zh": {
        "deeper": "答得不错，往深一层问：",
        "correction": "这个回答和笔记的要点差得比较远。笔记里是这样说的：「{point}」。你能解释一下为什么是这样吗？",
        "correction_code": "这个回答和笔记的要点差得比较远。笔记里给了{subject}的实现代码，你能写出它的关键几步吗？",
        "contradiction": "你说「{said}」，但笔记里这说的是 {instead}：「{note}」。为什么是 {instead} 而不是 {subject}？",
        "wrong_quantity": "你说「{said}」，但笔记里是 {instead}：「{note}」。为什么是 {instead} 而不是 {subject}？",
        "premise": "你说「{said}」，但这道题问的正是为什么不用 {subject}，笔记里说：「{note}」。"
                   "{subject} 在这里有什么问题？",
    },
    "en": {
        "deeper": "Good. One level deeper: ",
        "correction": "That is a long way from the notes. They say: \"{point}\" Can you explain why?",
        "correction_code": "That is a long way from the notes. They give the code of {subject}: "
                           "can you write its key steps?",
        "contradiction": "You said \"{said}\", but the notes say that of {instead}: \"{note}\" "
                         "Why {instead} and not {subject}?",
        "wrong_quantity": "You said \"{said}\", but the notes give {instead}: \"{note}\" "
                          "Why {instead} and not {subject}?",
        "premise": "You said \"{said}\", but the question asks why {subject} is not used, and the notes say: "
                   "\"{note}\" What goes wrong with {subject} here?",
    },
}

# which of SAYINGS asks about each kind of wrong fact
CONFLICT_SAYINGS = {ConflictKind.SWAP: "contradiction", ConflictKind.QUANTITY: "wrong_quantity",
                    ConflictKind.PREMISE: "premise"}


class FollowUpKind(StrEnum):
    DEEPER = "deeper"  # a good answer: a card that builds on this one
    MISSED = "missed"  # a partial answer: its most important missed point
    CORRECTION = "correction"  # a weak answer: what the notes say, explained by the learner
    CONTRADICTION = "contradiction"  # a claim said of the wrong compared thing: why the notes say otherwise


@dataclass(frozen=True)
class FollowUp:
    kind: FollowUpKind
    prompt: str  # what the interviewer says
    reference: Card  # what the reply is graded against


def follow_up(card: Card, grade: Grade, index: Index, skip_ids: set[str], language: str) -> FollowUp | None:
    """The interviewer's next move after a main answer (None: the next question)."""
    words = SAYINGS[language]
    if grade.conflicts:  # a wrong fact first, however the rest went
        conflict = grade.conflicts[0]
        saying = CONFLICT_SAYINGS[conflict.kind]
        prompt = words[saying].format(said=_quote(conflict.said), note=_quote(conflict.note),
                                      subject=conflict.subject, instead=conflict.instead)
        point = next((p for p in grading_points(card) if conflict.about(p)), conflict.note)  # graded on the whole point
        return FollowUp(FollowUpKind.CONTRADICTION, prompt, point_card(card, point))
    if grade.score >= Band.GOOD:
        deeper = builds_on(card, index, skip_ids)
        if deeper is None:
            return None
        return FollowUp(FollowUpKind.DEEPER, words["deeper"] + as_question(deeper.asked_in(language), language), deeper)
    if grade.score <= 0 or not grade.missed:
        return None
    point = most_important(grade.missed, card, index)
    reference = point_card(card, point)
    if grade.score >= Band.PARTIAL:
        return FollowUp(FollowUpKind.MISSED, question_about(point, card, language), reference)
    if is_code_point(point):  # code flattened into a sentence reads as noise: ask for it instead
        subject = subject_of(point, card, language) or QUESTIONS[language]["it"]
        return FollowUp(FollowUpKind.CORRECTION, words["correction_code"].format(subject=subject), reference)
    return FollowUp(FollowUpKind.CORRECTION, words["correction"].format(point=_quote(point)), reference)


def builds_on(card: Card, index: Index, skip_ids: set[str]) -> Card | None:
    """The nearest card (by question) that builds on what this card's question is about:
    its own question names one of the technical names this question names, or it is of
    the same topic and its text uses one of this question's content terms. (A shared
    everyday word such as 传统 never links two topics.)"""
    position = index.positions.get(card.id)
    if position is None:
        return None
    names = {term for term, _ in salient_terms(card.question)}
    about = index.lexical.content_terms(card.question)
    scores = index.card_scores(index.question_vector(position))  # questions against questions: no language discount
    for i in np.argsort(-scores):
        other = index.cards[int(i)]
        if other.id == card.id or other.id in skip_ids:
            continue
        names_it = bool(names & set(terms(other.question)))
        if names_it or (other.topic == card.topic and any(index.lexical.in_card(t, int(i)) for t in about)):
            return other
    return None


def most_important(points: list[str], card: Card, index: Index) -> str:
    """The point carrying the most rare-term weight beyond the question's own words, among
    the points that stand on their own (one opening with 这 / 因此 / "This" leans on the
    sentence before it, which the learner has not seen); statements, even leaning ones,
    before code: a code block's identifiers are rare terms, not importance (on every card
    with code in the shipped notes the block outweighed each statement)."""
    asked = set(index.lexical.content_terms(card.question, variants=False))

    def weight(point: str) -> float:  # one term per name, as grading counts it
        return sum(index.lexical.idf(t) for t in index.lexical.content_terms(point, variants=False) if t not in asked)

    statements = [p for p in points if not is_code_point(p)]
    standalone = [p for p in statements if not _LEANS_BACK.match(p.strip())]
    return max(standalone or statements or points, key=weight)


def as_question(text: str, language: str) -> str:
    """A question as the notes wrote it; a bare heading ("Self attention的时间复杂度") is
    turned into a request."""
    if text.rstrip().endswith(("？", "?")):
        return text
    return f"请讲讲{text.strip()}。" if language == "zh" else f"Tell me about {text.strip()}."


def point_card(card: Card, point: str) -> Card:
    """A follow-up on one point is graded against that point."""
    return Card(id=card.id, question=card.question, answer=point, key_points=(point,), path=card.path,
                source=card.source, line=card.line, english=card.english)


def question_about(point: str, card: Card, language: str) -> str:
    lead = "追问：" if language == "zh" else "Follow-up: "
    return lead + _say(QUESTIONS[language], point, card, language)


def hint(point: str, card: Card, number: int, language: str) -> str:
    """The first hint names a direction; later ones give the start of the point (of code,
    its key line)."""
    texts = HINTS[language]
    if number <= 1:
        return _say(texts, point, card, language)
    if is_code_point(point):
        return texts["code_start"].format(start=key_line(point, _about(card)))
    return texts["start"].format(start=start_of(point))


def _say(templates: dict[str, str], point: str, card: Card, language: str) -> str:
    """The template of the point's kind around its subject; a point with nothing to name
    and nothing more specific to ask gets a sentence that names nothing."""
    kind, subject = point_kind(point), subject_of(point, card, language)
    if subject is None:
        return templates["unnamed" if kind == "detail" else kind].format(subject=templates["it"])
    return templates[kind].format(subject=subject)


def point_kind(point: str) -> str:
    if is_code_point(point):
        return "code"
    if _STATED_FORMULA.search(point):
        return "formula"
    prose = _MATH.sub(" ", _CITATION.sub("", point))
    return next((kind for kind, cue in _CUES if cue.search(prose)), "detail")


def subject_of(point: str, card: Card, language: str) -> str | None:
    """A name the point is about that the question does not already say, as written in
    the notes; else the card's own heading (its last topic) when the question does not say
    it either and it is in the interview's language; else None."""
    asked = card.question.lower()
    if is_code_point(point):  # what the code is written for (its main class or function)
        main = _main_definition(point, _about(card))
        names = [main[0]] if main else []
    else:
        prose = _EXAMPLES.sub("", _MATH.sub(" ", _CITATION.sub("", point)))
        # names said in the sentence itself or glossed in brackets; a name inside a bracketed aside is not its subject
        names = [written for _, written in salient_terms(_ASIDE.sub("", prose))
                 if len(written) >= 3 and _NAME.search(written[1:]) and written.lower() not in asked]
    heading = card.path[-1] if card.path else ""
    if not names and heading and heading.lower() not in asked and (language == "zh" or not is_chinese(heading)):
        names = [heading]
    if not names:
        return None
    return "「" + names[0] + "」" if language == "zh" else names[0]


def _about(card: Card) -> str:
    return f"{card.question} {' '.join(card.path)}"


def _main_definition(point: str, about: str) -> tuple[str, str] | None:
    """The top-level definition (name, line) a code block is written for: the one `about`
    (the card's question and headings) names, else a class, else the last function (helpers
    come before what uses them); a private name (`_pad`) only when there is nothing else."""
    found = [(m.group(2), m.group(1), line) for line in code_lines(point) if (m := _DEFINED.match(line))]
    public = [f for f in found if not f[0].startswith("_")] or found
    if not public:
        return None
    said = about.lower()
    position = max(range(len(public)), key=lambda i: (public[i][0].lower() in said, public[i][1] == "class", i))
    return public[position][0], public[position][2]


def key_line(point: str, about: str = "") -> str:
    """The line of a code block a hint quotes: its main definition's (see
    `_main_definition`), else its first line past imports, comments, decorators,
    docstrings and seeding; cut near CODE_LINE_CHARS, a trailing comment dropped."""
    main = _main_definition(point, about)
    line = main[1] if main else _first_statement(code_lines(point))
    line = _TRAILING_COMMENT.sub("", line.strip())
    return line if len(line) <= CODE_LINE_CHARS else _cut(line, CODE_LINE_CHARS) + " …"


def _first_statement(lines: list[str]) -> str:
    in_docstring = False
    for line in lines:
        bare = line.strip()
        quotes = bare.count('"""') + bare.count("'''")
        if in_docstring or quotes:
            in_docstring ^= quotes % 2 == 1
            continue
        if bare and not _PREAMBLE.match(bare):
            return bare
    return next((line for line in lines if line.strip()), "")


def start_of(point: str) -> str:
    """About the first 40 % of a point (citations left out), ended where a reader would pause."""
    text = _CITED_VERB.sub("", _CITATION.sub("", _flat(point))).strip()
    return _cut(text, max(8, int(len(text) * 0.4)))


def _quote(point: str, limit: int = 90) -> str:
    """The point as the notes say it, citation and all; a long one up to a pause near `limit`."""
    text = _flat(point)
    return text if len(text) <= limit else _cut(text, limit) + "……"


def _cut(text: str, target: int) -> str:
    """`text` cut near `target` characters where a reader would pause: the clause mark
    nearest to it (within half to 1.6 times), else the nearest space or change between
    Chinese and Latin script, else at `target`; never inside a formula."""
    low, high = max(1, target // 2), min(len(text) - 1, int(target * 1.6))
    clauses = [i for i in range(low, high + 1) if text[i] in "，,；;：:、（("]
    words = [i for i in range(low, high + 1) if text[i] == " " or _script(text[i - 1]) != _script(text[i])]
    cut = min(clauses or words or [target], key=lambda i: abs(i - target))
    if text.count("$", 0, cut) % 2:
        cut = text.rfind("$", 0, cut)
    return text[:cut].rstrip("，,；;：:、（( ")


def _script(char: str) -> str:
    return "latin" if char.isascii() and char.isalnum() else "other"


def _flat(point: str) -> str:
    return re.sub(r"\s+", " ", point).strip().rstrip("。.")
