"""A learner's answer + the matched card -> Grade (score 0-100, verdict, covered, missed).

Raw cosine is a poor grade: e5 similarities crowd into 0.8-0.97 whatever the quality, and
an English answer to a Chinese note scores below a poor Chinese one. So every similarity
is read relative to a baseline measured for this very answer:

0. The points checked are the card's bullets, its prose statements (a long one as its
   clauses: `_claims`) and its displayed formulas (`grading_points`). The answer is
   graded against the matched card and against the best other card retrieval gives for
   that card's question (`companions`), and against the cards the caller found answering the
   question as asked (`also`: `grade` passes those retrieval marks as the same question);
   the highest grade counts and names its card.
   Before anything is embedded, the answer's statements that say of one thing the question
   compares what either card says of another ("UDP 是面向连接的" against "TCP 是面向连接
   的…"), or that give a complexity the card gives otherwise and neither card gives at
   all ("worst case O(n log n)" against "worst case O(n²)": `conflicts.find_conflicts`),
   are taken out: their sentences earn nothing, the card's point they contradict is not
   made, and the grade names them (`Grade.conflicts`).
1. The answer is split into sentences; each sentence is embedded once on the query side,
   and the whole answer's vector is their token-weighted mean (`Grader._answer_vectors`;
   embedded too with a model that does not mean-pool).
   Compared with text in the other language, the vectors are first moved by the notes'
   language offset (`Index.language_offset`, measured on the notes' own question /
   English-rendering pairs; for notes without renderings, the model's, measured on the
   shipped notes), which narrows e5's cross-lingual gap.
2. For each sentence, its cosine with every chunk of every *other* card in the index,
   written in the point's language, gives a baseline mean and spread: how similar this
   sentence is to notes that do not answer the question. Language, length and style shift
   these the same way they shift the similarity to the right card, so the z-score cancels
   them.
3. Being on topic is not making a point: an answer that talks around the question with the
   right vocabulary (or says wrong things about it) resembles the question about as much
   as the points. So each text's z-score against a point is lowered by its z-score against
   the card's own question chunk (when positive) times the point's **question share**: how
   much of the point is the question, the cosine of point and question after both are
   centred on the mean of the notes' other text in the card's language (e5 vectors share
   one large common direction, which uncentred cosines mostly measure). A point that
   restates the question ("A stack is a data structure that ...") is discounted about half
   (share 0.5), one that adds a fact the question does not name hardly at all; what is
   left is what the text says beyond the question. In a notes folder too small to centre
   on (under MIN_BASELINE_CHUNKS chunks of other cards) the share is the fixed
   `question_discount` of the previous grader.
   A key point's evidence is its best such score over the sentences (points are embedded
   on the passage side, like the chunks they are compared with). Evidence between
   `point_floor` and `point_full` counts proportionally; a point is shown as covered
   from `point_shown`.
   Against a point in the other language, the evidence gets a fixed boost for the rest
   of the gap (see GradingConfig).
4. A point's credit (from its evidence) is raised to its lexical share when that is higher:
   the IDF-weighted share of the point's rare terms (as the lexical index counts them,
   minus the question's own words) that the answer uses. It only adds, for the terse
   answer whose few exact terms e5 barely registers. Terms are language-specific, so only
   terms in a script the answer is written in count (a Chinese answer with English
   terms reads both), and the share is shrunk by the square root of those terms' part
   of the point's weight: naming the one English term of a Chinese point is not the point.
   A point is shown as covered once its credit matches that of `point_shown`.
5. Coverage = average of the mean and the top-half mean of the points' credit, so one
   well-explained point is not drowned by many short ones; score = coverage scaled so
   `full_marks` coverage earns 100.
6. No answer scores zero: empty, "不知道" / "I don't know", or one that only restates the
   question's own words. Off-topic text and gibberish need no rule: they make no point
   stand out from the baseline, so they earn (nearly) nothing.

The few constants are global (no per-card tuning), chosen on the dev sets
(bench/data/grading_dev.jsonl, the dev splits of grading_prose.jsonl and
grading_shortanswer.jsonl); bench/eval_grading.py
prints the agreement with human grades next to the previous grader and plain cosine.
"""
from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum

import numpy as np

from .conflicts import Conflict, find_conflicts
from .embeddings import TutorEmbeddings
from .index import Index, question_text
from .lexical import is_chinese, terms
from .limits import MAX_TEXT_CHARS
from .notes import MAX_KEY_POINTS, Card, code_blocks, is_list, is_reference, key_points, outside_brackets, without_code
from .retrieval import off_topic_vectors

MIN_BASELINE_CHUNKS = 20
# A prose statement with more content words (lexical terms) than this holds several claims
# and is graded as its clauses (`_claims`). Chosen on the dev splits, bullets left whole:
# 10 / 12 / 14 / 20 gave team 0.857 / 0.863 / 0.868 / -, prose 0.817 / 0.820 / 0.822 / -,
# course quizzes 0.690 / 0.684 / 0.677 / - (unsplit 0.865 / 0.817 / 0.641): 14 is the
# largest gain that leaves no dev set worse.
CLAIM_TERMS = 14
# where a statement's clauses end; an ASCII mark only before a space ("1,000" is one number)
_CLAUSE_BREAK = re.compile(r"[，：；]\s*|[,:;]\s+")
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_BULLET_LINE = re.compile(r"^\s*(?:(?:[-*+]|\d{1,3}[.)、])\s+|[①②③④⑤⑥⑦⑧⑨⑩])")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_LATIN_CHAR = re.compile(r"[A-Za-z]")
_SEGMENT_END = re.compile(r"(?<=[。！？；!?;\n])|(?<=[.])\s+")
_NON_ANSWERS = re.compile(
    r"^(不知道|不清楚|不会|不了解|没学过|忘了|不记得|跳过|pass|skip|idk|i don'?t know|i do not know|no idea|dunno|"
    r"not sure|n/?a|\?+|？+)[。.!！\s]*$",
    re.I,
)


@dataclass(frozen=True)
class ReferencePoints:
    """One card's points as the answer made them or not."""

    card_id: str
    source: str
    covered: list[str]
    missed: list[str]


@dataclass(frozen=True)
class Grade:
    question: str
    card_id: str
    score: int
    verdict: str
    covered: list[str]
    missed: list[str]
    reference: str
    source: str
    # every card the answer was graded against, the one whose grade counts (`card_id`) first:
    # the learner's own card and a fuller one on the same question, so feedback can say
    # which note each covered or missed point comes from. Points the first card also makes
    # are not repeated.
    references: list[ReferencePoints] = field(default_factory=list)
    # the answer's statements that say of one compared thing what the notes say of another
    # (`conflicts.find_conflicts`); they earned nothing
    conflicts: list[Conflict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON contract (`grade --json`, the HTTP API): `references` and `conflicts` are
        for the chat and the command line's text output, so tools that read the contract's
        keys see no change."""
        data = asdict(self)
        del data["references"], data["conflicts"]
        return data


@dataclass(frozen=True)
class GradingConfig:
    """Global knobs, in z-score units of the answer's own baseline (see module doc)."""

    point_floor: float = 2.5  # evidence below this is noise
    point_full: float = 8.0  # evidence above this is a fully made point
    point_shown: float = 4.5  # shown as "covered" from here
    full_marks: float = 0.7  # coverage that earns 100
    # the previous grader's fixed share of a text's similarity to the card's question that
    # is subtracted from its similarity to each point; the grader measures it per point
    # (step 3 of the module doc, `Grader._question_shares`)
    question_discount: float = 0.2
    copy_share: float = 0.75  # share of the answer's terms taken from the question
    # e5 aligns languages imperfectly: the same content scores about this much lower in
    # z-units when answer and notes are in different languages, after the notes' language
    # offset has been applied (`Grader._views`). Measured on the dev sets, grade-5 answers,
    # mean evidence in the notes' language over that across languages: 1.19 on
    # grading_dev.jsonl, 1.26 on the dev split of grading_prose.jsonl (1.27 / 1.43 without
    # the offset, when this was 1.3).
    cross_lingual_boost: float = 1.2
    # the same without any offset (neither the notes nor the model's shipped vectors give one)
    unmoved_boost: float = 1.3
    # a point's credit is at least this times its lexical share (step 4 of the module doc)
    lexical_credit: float = 1.0
    # False: the grader as it was before it read whole notes (bullets only, one baseline over
    # all the notes' text whatever the point's language, the matched card only); kept as
    # the evaluation's "previous" column (bench/eval_grading.py)
    whole_notes: bool = True


class Band(IntEnum):
    """Lower bounds of the verdict bands. FSRS ratings, interview follow-ups and the
    weakest-card list use the same bands (see scheduler.rating_for)."""

    EXCELLENT = 85
    GOOD = 70
    PARTIAL = 50
    WEAK = 25
    OFF = 0

    @classmethod
    def of(cls, score: int) -> Band:
        return next(band for band in cls if score >= band)  # declared from the top band down

    @property
    def verdict(self) -> str:
        return _VERDICTS[self]


_VERDICTS = {Band.EXCELLENT: "优秀 excellent", Band.GOOD: "良好 good", Band.PARTIAL: "部分正确 partial",
             Band.WEAK: "较弱 weak", Band.OFF: "未答到要点 off the mark"}


def verdict_for(score: int) -> str:
    return Band.of(score).verdict


def grading_points(card: Card) -> list[str]:
    """What an answer is checked against: the card's bullet points, then every statement of
    its prose, every displayed formula (`$$...$$`) and every fenced code block (as a whole),
    once each.

    A learner's note often puts the substance in a paragraph and a few loose bullets
    beside it (the seed's positional-encoding card: three bullets of requirements, the
    explanation and the formula in prose); grading only the bullets would miss what the
    card says. Images, links, lines that only announce a list ("编码需要：") and citations
    ("GraphRAG 出自 Edge et al.（2024）。", `notes.is_reference`) are not statements (see
    `key_points`). A long prose statement is graded as its claims (`_claims`; a claim that
    only cites is dropped too); a bullet is a point as its writer made it."""
    # a code block is one point, as a formula is ("import math" alone is not a claim),
    # fenced so that it is shown as code
    code = [code_point(block) for block in code_blocks(card.answer)]
    text = without_code(card.answer)
    formulas = list(dict.fromkeys([*(f"$${m.strip()}$$" for m in _DISPLAY_MATH.findall(text) if m.strip()), *code]))
    # a line left out is a paragraph break: the prose before a list and after it are two statements
    prose = "\n".join("" if _BULLET_LINE.match(line) or line.rstrip().endswith(("：", ":")) else line
                       for line in _DISPLAY_MATH.sub("\n", text).splitlines())
    listed = set(card.key_points) if is_list(card.answer) else set()
    statements = [*card.key_points, *key_points(prose)]
    claims = [claim for statement in statements
              for claim in ([statement] if statement in listed else _claims(statement))]
    claims = [claim for claim in dict.fromkeys(claims) if claim not in formulas]
    # formulas and code keep their place however long the prose: they are often the point
    points = claims[: max(0, MAX_KEY_POINTS - len(formulas))] + formulas[:MAX_KEY_POINTS]
    return points or [card.answer]


def code_point(code: str) -> str:
    """A fenced code block as one graded point: fenced, so that it is shown as code."""
    return f"```\n{code}\n```"


def is_code_point(point: str) -> bool:
    """Whether a graded point is a code block (`code_point`), not a statement."""
    return point.startswith("```\n") and point.endswith("\n```")


def code_lines(point: str) -> list[str]:
    """A code point's lines, fences aside."""
    return point[4:-4].splitlines()


def _claims(statement: str) -> list[str]:
    """A statement with more than CLAIM_TERMS content words, cut at its clauses and joined
    back into pieces of at least half that many ("The OS saves the registers … into the
    PCB, | then the scheduler picks another process …"); a last piece of fewer than a
    quarter joins the one before it, a longer one stays its own. Each piece is one claim an
    answer makes or not, where the whole sentence is only ever half made. A piece that only
    cites (`notes.is_reference`) is dropped: the statement as a whole passed that check in
    `key_points`, its pieces did not."""
    if _content_words(statement) <= CLAIM_TERMS:
        return [statement]
    pieces, current = [], ""
    # "$\\min(1, r)$" is one term, "（Liu et al., 2025）" one citation
    for clause in outside_brackets(_CLAUSE_BREAK, statement):
        current += clause  # with its punctuation and spaces: pieces join back to the statement
        if _content_words(current) >= CLAIM_TERMS // 2:
            pieces.append(current)
            current = ""
    if current.strip():  # a short tail belongs to the piece before it
        if pieces and _content_words(current) < CLAIM_TERMS // 4:
            pieces[-1] += current
        else:
            pieces.append(current)
    pieces = [piece.strip().strip("，,；;：:").strip() for piece in pieces if piece.strip()]
    return [piece for piece in pieces if not is_reference(piece)]


def _content_words(text: str) -> int:
    return sum("_" not in term for term in terms(text, variants=False))


def answer_segments(answer: str) -> list[str]:
    pieces = [p.strip(" \t-*•，,") for p in _SEGMENT_END.split(answer)]
    return [p for p in pieces if len(re.sub(r"\W", "", p)) >= 2]


class _View:
    """An answer's text vectors as compared with notes in one language, and their cosine
    with every chunk of the index (computed when first read, once per answer)."""

    def __init__(self, vectors: np.ndarray, chunk_vectors: np.ndarray, boost: float = 1.0) -> None:
        self.vectors = vectors
        self._chunk_vectors = chunk_vectors
        self.boost = boost  # what a point's evidence is multiplied by (GradingConfig.cross_lingual_boost)

    @functools.cached_property
    def similarities(self) -> np.ndarray:
        return self.vectors @ self._chunk_vectors.T


class _Recent:
    """A small least-recently-used map, safe across threads (interview preparation runs in
    its own thread). Two threads may both work a value out; the second write wins."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._limit:
                self._items.popitem(last=False)
        return value


class Grader:
    """Grades against the cards of one `Index` (its other cards' chunks are the baseline)."""

    def __init__(self, index: Index, embeddings: TutorEmbeddings, config: GradingConfig | None = None,
                 companions: Callable[[Card], Sequence[Card]] | None = None,
                 point_vectors: Callable[[list[str]], np.ndarray] | None = None) -> None:
        """`companions(card)`: the cards the notes give for the card's question (retrieval's
        hits for it). A learner's own short card and a fuller card on the same question both
        answer it; an answer is graded against whichever of them credits it more.
        `point_vectors(points)`: their passage-side vectors (the shipped notes' file, which
        embeds only what it lacks); `embeddings.passages` by default."""
        self.index = index
        self.embeddings = embeddings
        self.point_vectors = point_vectors or embeddings.passages
        self.config = config or GradingConfig()
        self.companions = companions
        # what the first grade against a card works out, kept for the cards graded lately
        self._recent_point_vectors = _Recent(512)
        self._companions = _Recent(1024)
        self._recent_question_shares = _Recent(512)

    def grade(self, card: Card, answer: str, question: str | None = None, also: Sequence[Card] = ()) -> Grade:
        """Grade `answer` against `card`, or against the card the notes give beside it for
        the same question when that one credits the answer more (see `companions`), or
        against one of `also` (other cards that answer the question as asked)."""
        answer = (answer or "").strip()[:MAX_TEXT_CHARS]  # callers check; a direct caller is cut
        # the answer's terms, segmented once for the copy check and the lexical share
        answer_terms = set(terms(answer, variants=False))
        asked = _asked(card, question)
        if not _has_content(answer) or _NON_ANSWERS.match(answer) or self._restates(answer_terms, asked):
            return self._result(card, question, 0, [], self._points_of(card))

        by_id: dict[str, Card] = {}
        for reference in (card, *self._companions_of(card), *also):  # the first card of an id stays
            by_id.setdefault(reference.id, reference)
        references = tuple(by_id.values())
        conflicts = [conflict for reference in references
                     for conflict in self._conflicts(reference, answer, tuple(r for r in references if r is not reference),
                                                     question)]
        shown: dict[str, Conflict] = {}
        for conflict in conflicts:  # a statement at odds with both notes is named once (both points count)
            shown.setdefault(conflict.said, conflict)
        named = list(shown.values())
        credited = _without(answer, conflicts)
        if credited != answer:
            answer_terms = set(terms(credited, variants=False))
            if not _has_content(credited) or self._restates(answer_terms, asked):  # nothing else said
                return replace(self._result(card, question, 0, [], self._points_of(card)), conflicts=named)
        views = self._views(credited, self._answer_vectors(credited))
        grades = [self._grade_against(reference, credited, question, views, answer_terms, conflicts)
                  for reference in references]
        best = max(grades, key=lambda grade: grade.score)  # the matched card wins a tie
        # Its score counts alone: grading against the union of both cards' points would mark
        # a complete answer to the learner's short card down for the fuller card's extras.
        return replace(best, references=_references(best, [g for g in grades if g is not best]), conflicts=named)

    def _answer_vectors(self, answer: str) -> np.ndarray:
        """The answer's vectors (query side): the whole answer, then each of its sentences.

        With a mean-pooling model (e5) the whole is not embedded again when there are several
        sentences: the token-weighted mean of the sentences' vectors is within cosine 0.98
        (median; 0.94 at worst) of the whole answer's own vector on the dev answers, so
        embedding it would double the cost of a grade for nothing (the dev sets' agreement
        with human grades moved by +0.001 to +0.004). A repeated sentence is embedded once
        and weighs as often as it occurs; a one-sentence answer is embedded once."""
        occurrences = Counter(answer_segments(answer))
        sentences = list(occurrences)
        if len(sentences) < 2:
            return self.embeddings.queries([answer])
        if not self.embeddings.mean_pooled:
            return self.embeddings.queries([answer, *sentences])
        vectors = self.embeddings.queries(sentences)
        weights = np.array([self.embeddings.tokens(s) * occurrences[s] for s in sentences], dtype=np.float32)
        whole = weights @ vectors
        return np.vstack([whole / max(float(np.linalg.norm(whole)), 1e-12), vectors])

    def prepare(self, card: Card) -> None:
        """Do now what the first grade against `card` would: find its second reference (one
        query embedding), get both cards' points' vectors (read from the shipped vectors
        for shipped cards, embedded otherwise) and their question shares; all kept for the
        next grades."""
        for reference in (card, *self._companions_of(card)):
            self._question_shares(reference, self._points_of(reference))

    def _grade_against(self, card: Card, answer: str, question: str | None, views: dict[bool, _View],
                       answer_terms: set[str], conflicts: list[Conflict]) -> Grade:
        points = self._points_of(card)
        asked = _asked(card, question)
        baselines = {chinese: self._baseline(card, views[chinese], chinese) for chinese in (True, False)}
        card_language = is_chinese(card.answer)
        point_languages = [_language(point, card_language) for point in points]
        baseline = np.stack([baselines[chinese][0] for chinese in point_languages], axis=1)  # (texts, points)
        spread = np.stack([baselines[chinese][1] for chinese in point_languages], axis=1)

        point_vectors = self._points(points)
        similarity = np.where(np.array(point_languages), views[True].vectors @ point_vectors.T,
                              views[False].vectors @ point_vectors.T)
        point_z = (similarity - baseline) / spread
        question_language = is_chinese(card.question)
        question_baseline, question_spread = baselines[question_language]
        question_z = ((views[question_language].vectors @ self._question_vector(card) - question_baseline)
                      / question_spread)
        shares = self._question_shares(card, points) if self.config.whole_notes else self.config.question_discount
        point_z = point_z - shares * np.maximum(question_z, 0.0)[:, None]
        evidence = point_z.max(axis=0)
        evidence = evidence * views[card_language].boost
        config = self.config
        span = config.point_full - config.point_floor
        credit = np.clip((evidence - config.point_floor) / span, 0.0, 1.0)
        if config.lexical_credit > 0:
            lexical = self._lexical_shares(points, answer, answer_terms, asked)
            credit = np.maximum(credit, np.clip(config.lexical_credit * lexical, 0.0, 1.0))
        contradicted = np.array([any(c.about(point) for c in conflicts) for point in points], bool)
        credit = np.where(contradicted, 0.0, credit)  # a point the answer got the wrong way round is not made
        top_half = np.sort(credit)[::-1][: max(1, len(credit) // 2)]
        coverage = 0.5 * credit.mean() + 0.5 * top_half.mean()
        score = int(round(100 * min(1.0, coverage / config.full_marks)))
        shown = credit >= (config.point_shown - config.point_floor) / span
        covered = [p for p, hit in zip(points, shown) if hit]
        missed = [p for p, hit in zip(points, shown) if not hit]
        return self._result(card, question, score, covered, missed)

    # pieces ---------------------------------------------------------------------------
    def _points_of(self, card: Card) -> list[str]:
        return grading_points(card) if self.config.whole_notes else list(card.key_points) or [card.answer]

    def _conflicts(self, card: Card, answer: str, others: tuple[Card, ...], asked: str | None) -> list[Conflict]:
        """What the answer says of one thing the card compares that the card says of another,
        a complexity the card gives otherwise and `others` (the other references) do not
        give at all, or a denial of what the question as `asked` (else the card's) takes as
        given (module `conflicts`); the previous grader did not look."""
        if not self.config.whole_notes:
            return []
        return find_conflicts(card.question, card.answer, answer, self.index.lexical.idf,
                              tuple(other.answer for other in others), asked)

    def _companions_of(self, card: Card) -> tuple[Card, ...]:
        """The cards the notes give for `card`'s question besides it (asked once per card).
        None for a card that is not as indexed: a follow-up's one-point card (`followups.
        point_card`) is graded against that point alone."""
        indexed = self.index.card(card.id)
        if self.companions is None or not self.config.whole_notes or indexed is None or indexed.answer != card.answer:
            return ()
        known = self._companions.get(card.id)
        if known is None:
            known = self._companions.put(card.id, tuple(other for other in self.companions(card) if other.id != card.id))
        return known

    def _views(self, answer: str, vectors: np.ndarray) -> dict[bool, _View]:
        """The answer's vectors as compared with Chinese text (True) and with English text
        (False): as embedded for its own language, moved by the notes' language offset for
        the other (`Index.cross_language_offset`: the model's when the notes have none).
        The previous grader compares them as they are."""
        offset = self.index.cross_language_offset if self.config.whole_notes else None
        answer_chinese = is_chinese(answer)
        views = {answer_chinese: _View(vectors, self.index.chunk_vectors)}
        if offset is None:
            views[not answer_chinese] = _View(vectors, self.index.chunk_vectors, self.config.unmoved_boost)
        else:
            moved = vectors + (-offset if answer_chinese else offset)
            moved /= np.linalg.norm(moved, axis=1, keepdims=True)
            views[not answer_chinese] = _View(moved, self.index.chunk_vectors, self.config.cross_lingual_boost)
        return views

    def _baseline(self, card: Card, view: _View, chinese: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each text's mean and spread of similarity to other cards' text in one language.

        A text is compared with a point in the point's language, so its baseline is taken
        in that language too: e5 scores any two texts in different languages lower, and a
        baseline in the answer's own language would read a correct answer in English to a
        Chinese note (or the reverse) as below chance. Too little text in that language
        (English in Chinese notes without renderings): all the notes' text instead."""
        chunks = self.index.chunks_not_of(card.id, chinese=chinese if self.config.whole_notes else None)
        if len(chunks) < MIN_BASELINE_CHUNKS:
            chunks = self.index.chunks_not_of(card.id)
        scores = view.similarities[:, chunks]
        if len(chunks) < MIN_BASELINE_CHUNKS:  # a tiny notes folder: lean on everyday chatter too
            scores = np.hstack([scores, view.vectors @ off_topic_vectors(self.embeddings).T])
        return scores.mean(axis=1), scores.std(axis=1) + 1e-6

    def _question_shares(self, card: Card, points: list[str]) -> np.ndarray:
        """Per point, how much of it is the card's question (step 3): their cosine once both
        are centred on the mean of the notes' other text in the card's language, clipped to
        0-1; the fixed `question_discount` when the notes hold too little other text to
        centre on. Kept for the cards graded lately.

        Why centred: every e5 vector shares one large direction, so any two texts have
        cosine 0.7-0.9 and an uncentred share would discount every point alike. Why a share
        rather than one constant: a fixed 0.2, chosen on the team's cards (whose bullets
        rarely restate their question), let answers that only restate the question (kind
        "vague", human grade 1) score 44 on average on course quizzes whose one-sentence
        references do restate it (bench/data/grading_shortanswer.jsonl, dev split, the
        quizzes' notes alone)."""
        key = (card.id, question_text(card), *points)
        known = self._recent_question_shares.get(key)
        if known is not None:
            return known
        centre, count = self.index.mean_chunk_not_of(card.id, chinese=is_chinese(card.answer))
        if count < MIN_BASELINE_CHUNKS:  # too little text in that language: all the notes' text, as the baseline does
            centre, count = self.index.mean_chunk_not_of(card.id)
        if count < MIN_BASELINE_CHUNKS:
            # no centre to speak of: the mean of a few chunks (or of none) leaves e5's common
            # direction in both vectors and every share near their plain cosine, ~0.8
            shares = np.full(len(points), self.config.question_discount)
        else:
            centre = centre.astype(np.float32)
            centred_points = self._points(points) - centre
            centred_question = self._question_vector(card) - centre
            cosines = centred_points @ centred_question / np.maximum(
                np.linalg.norm(centred_points, axis=1) * np.linalg.norm(centred_question), 1e-9)
            shares = np.clip(cosines, 0.0, 1.0)
        return self._recent_question_shares.put(key, shares)

    def _question_vector(self, card: Card) -> np.ndarray:
        """The card's question chunk as indexed (embedded on the fly for a card not in it)."""
        position = self.index.positions.get(card.id)
        if position is not None:
            return self.index.question_vector(position)
        return self._points([question_text(card)])[0]

    def _lexical_shares(self, points: list[str], answer: str, answer_terms: set[str], asked: set[str]) -> np.ndarray:
        """Per point: IDF-weighted share of its rare terms found in the answer, the question's
        own terms (`asked`) left out (step 4)."""
        index = self.index.lexical
        has_cjk, has_latin = bool(_CJK_CHAR.search(answer)), bool(_LATIN_CHAR.search(answer))
        shares = []
        for point in points:
            weights = {t: index.idf(t) for t in index.content_terms(point, variants=False) if t not in asked}
            readable = [t for t in weights if (has_cjk if _CJK_CHAR.search(t) else has_latin)]
            total, own = sum(weights.values()), sum(weights[t] for t in readable)
            if total <= 0 or own <= 0:
                shares.append(0.0)
                continue
            found = sum(weights[t] for t in readable if t in answer_terms)
            shares.append(found / own * math.sqrt(own / total))
        return np.asarray(shares)

    def _restates(self, answer_terms: set[str], asked: set[str]) -> bool:
        """An answer made of the question's own words says nothing the question did not."""
        if not answer_terms:
            return False
        return len(answer_terms & asked) / len(answer_terms) >= self.config.copy_share

    def _points(self, points: list[str]) -> np.ndarray:
        """Passage-side vectors of a card's key points, kept for the cards graded lately."""
        key = tuple(points)
        cached = self._recent_point_vectors.get(key)
        return cached if cached is not None else self._recent_point_vectors.put(key, self.point_vectors(points))

    def _result(self, card: Card, question: str | None, score: int, covered: list[str], missed: list[str]) -> Grade:
        score = max(0, min(100, score))
        return Grade(
            question=question or card.question,
            card_id=card.id,
            score=score,
            verdict=verdict_for(score),
            covered=covered,
            missed=missed,
            reference=card.answer,
            source=card.citation,
            references=[ReferencePoints(card.id, card.citation, covered, missed)],
        )


def _asked(card: Card, question: str | None) -> set[str]:
    """The words of the card's question and of the question as asked: saying them is not an answer."""
    return set(terms(card.question, variants=False)) | set(terms(question or "", variants=False))


def _without(answer: str, conflicts: list[Conflict]) -> str:
    """The answer without its sentences that contradict the notes: what is left to credit."""
    for start, end in sorted({c.sentence for c in conflicts}, reverse=True):
        answer = answer[:start] + "\n" + answer[end:]
    return answer.strip()


def _references(best: Grade, others: list[Grade]) -> list[ReferencePoints]:
    shown = set(best.covered) | set(best.missed)
    references = list(best.references)
    for other in others:
        covered = [p for p in other.covered if p not in shown]
        missed = [p for p in other.missed if p not in shown]
        shown.update(covered + missed)
        if covered or missed:
            references.append(ReferencePoints(other.card_id, other.source, covered, missed))
    return references


def _language(point: str, card_language: bool) -> bool:
    """A point's language (is it Chinese?); a formula has none and takes its card's."""
    if not re.search(r"[\u3400-\u9fff]|[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", "", point)):
        return card_language
    return is_chinese(point)


def _has_content(text: str) -> bool:
    return len(re.sub(r"[\W_]", "", text)) >= 2
