"""The evaluation sets name real cards and keep their splits apart (a stale label would
silently change a figure)."""
from __future__ import annotations

import importlib.util
import json
import re
from collections import defaultdict

from tutor.evaluation import Query, card_key, load_graded_answers, load_queries, own_cards_shown, score_rankings
from tutor.lexical import is_chinese, terms
from tutor.notes import load_notes

from ..conftest import KNOWLEDGE, ROOT

DATA = ROOT / "bench" / "data"


def test_real_style_questions_name_cards_of_the_shipped_notes():
    queries = load_queries(DATA / "realstyle_questions.jsonl")
    keys = {card_key(card) for card in load_notes(KNOWLEDGE).cards}
    assert len(queries) >= 400 and {q.split for q in queries} == {"dev", "check"}
    assert {key for q in queries for key in q.expected} <= keys
    assert all(bool(q.expected) == (q.kind == "covered") for q in queries)
    english = sum(q.lang == "en" for q in queries) / len(queries)
    assert english >= 0.35 and sum(q.kind == "offdomain-tech" for q in queries) >= 60



def test_coverage_set_is_check_only_and_mostly_covered_by_the_notes():
    """Interview questions written without reading the notes, labelled against them: the
    notes answer at least 90 % (the coverage goal), and no row can leak into a fit."""
    queries = load_queries(DATA / "coverage_questions.jsonl")
    keys = {card_key(card) for card in load_notes(KNOWLEDGE).cards}
    assert len(queries) >= 150 and {q.split for q in queries} == {"check"}
    assert {key for q in queries for key in q.expected} <= keys
    assert sum(q.lang == "en" for q in queries) / len(queries) >= 0.35
    assert sum(q.on_topic for q in queries) / len(queries) >= 0.9


def test_blind_questions_and_the_decline_sets_name_cards_and_keep_their_splits():
    """Questions written before reading the notes (split once, dev / check), other fields'
    questions for the fit (dev) and a held-back set of declines (check)."""
    keys = {card_key(card) for card in load_notes(KNOWLEDGE).cards}
    blind = load_queries(DATA / "blind_questions.jsonl")
    assert len(blind) >= 140 and {q.split for q in blind} == {"dev", "check"}
    assert {key for q in blind for key in q.expected} <= keys
    assert all(bool(q.expected) == (q.kind == "covered") for q in blind)
    assert sum(q.lang == "en" for q in blind) / len(blind) >= 0.35
    english = load_queries(DATA / "blind_en_questions.jsonl")
    assert len(english) >= 100 and {q.lang for q in english} == {"en"} and {q.split for q in english} == {"dev", "check"}
    assert {key for q in english for key in q.expected} <= keys
    dev, check = load_queries(DATA / "offdomain_dev.jsonl"), load_queries(DATA / "decline_check.jsonl")
    assert {q.split for q in dev} == {"dev"} and {q.split for q in check} == {"check"}
    assert not any(q.expected for q in dev + check)
    assert sum(q.kind == "offdomain-tech" for q in dev) >= 100 and sum(q.kind == "offdomain-tech" for q in check) >= 60
    assert not {q.text for q in dev} & {q.text for q in check}


def test_uncovered_near_misses_are_without_gold_and_split_by_file():
    dev, check = load_queries(DATA / "uncovered_dev.jsonl"), load_queries(DATA / "uncovered_check.jsonl")
    assert len(dev) >= 60 and {q.split for q in dev} == {"dev"} and {q.kind for q in dev} == {"uncovered-llm"}
    assert len(check) >= 60 and {q.split for q in check} == {"check"}
    assert {q.kind for q in check} == {"uncovered-llm", "offdomain-tech"}
    assert not any(q.expected for q in dev + check)
    texts = [q.text for q in dev + check]
    assert len(set(texts)) == len(texts)  # no question in both

def test_prose_grading_set_names_cards_of_its_notes_and_splits_by_note():
    answers = load_graded_answers(DATA / "grading_prose.jsonl")
    keys = {card_key(card) for card in load_notes(DATA / "prose_notes").cards}
    assert len(answers) >= 200 and {a.card for a in answers} <= keys and len(keys) >= 25
    splits = defaultdict(set)
    for answer in answers:
        splits[answer.card].add(answer.split)
    assert all(len(s) == 1 for s in splits.values())  # every answer of a note in one split
    assert sum(a.lang == "en" for a in answers) / len(answers) >= 0.35
    assert {a.grade for a in answers} == {0, 1, 2, 3, 4, 5}


def test_cross_language_grading_set_names_cards_of_its_notes_and_splits_by_note():
    """Answers mostly in the other language than their note (bench/data/CROSSLING.md)."""
    answers = load_graded_answers(DATA / "grading_crossling.jsonl")
    cards = load_notes(DATA / "crossling_notes").cards
    keys = {card_key(card) for card in cards}
    assert len(keys) == 16 and len(answers) == 128 and {a.card for a in answers} <= keys
    splits = defaultdict(set)
    for answer in answers:
        splits[answer.card].add(answer.split)
    assert all(len(s) == 1 for s in splits.values()) and {a.split for a in answers} == {"dev", "check"}
    language = {card_key(card): "zh" if is_chinese(card.answer) else "en" for card in cards}
    assert sum(a.lang != language[a.card] for a in answers) / len(answers) >= 0.6
    assert {a.grade for a in answers} == {0, 1, 2, 3, 4, 5}


def test_course_quiz_grading_set_names_cards_of_its_notes_and_splits_by_question():
    """bench/data/SHORTANSWER.md: 24 questions per language, 10 answers each, half the
    questions of each language dev, every answer of a question in its question's split."""
    answers = load_graded_answers(DATA / "grading_shortanswer.jsonl")
    cards = load_notes(DATA / "shortanswer_notes").cards
    assert {a.card for a in answers} == {card_key(card) for card in cards} and len(cards) == 48
    splits = defaultdict(set)
    for answer in answers:
        splits[answer.card].add(answer.split)
    assert all(len(s) == 1 for s in splits.values())
    for lang in ("en", "zh"):
        questions = {a.card: a.split for a in answers if a.lang == lang}
        assert len(questions) == 24 and sorted(questions.values()).count("dev") == 12
    assert len(answers) == 480 and {a.grade for a in answers} == {0, 1, 2, 3, 4, 5}


def test_notes_without_renderings_keep_every_card_but_its_english_question(tmp_path):
    """`eval_retrieval.py --without-renderings` measures notes as a learner writes them: the
    same cards (ids, questions, answers, difficulty, tags), none with an English rendering."""
    spec = importlib.util.spec_from_file_location("eval_retrieval", ROOT / "bench" / "eval_retrieval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    original = load_notes(KNOWLEDGE).cards
    stripped = load_notes(module.without_renderings(KNOWLEDGE, tmp_path / "notes")).cards
    assert sum(bool(card.english) for card in original) >= 300
    assert not any(card.english for card in stripped)
    assert [(c.id, c.question, c.answer, c.difficulty, c.tags) for c in stripped] == \
        [(c.id, c.question, c.answer, c.difficulty, c.tags) for c in original]
    # the rendering first, with a ';' inside it, and a comment that is only a rendering
    notes = tmp_path / "own"
    notes.mkdir()
    (notes / "a.md").write_text(
        "# T\n\n## 什么是甲？\n<!-- en: What is X; how is it used?; difficulty: 2; tags: a, b -->\n\n"
        "甲是一种把输入映射到输出的方法。\n\n## 为什么乙？\n<!-- en: Why Y? -->\n\n因为乙让训练更稳定。\n", encoding="utf-8")
    assert [c.english for c in load_notes(notes).cards] == ["What is X", "Why Y?"]
    copied = load_notes(module.without_renderings(notes, tmp_path / "own_copy")).cards
    assert [(c.question, c.difficulty, c.tags, c.english) for c in copied] == \
        [("什么是甲？", 2, ("a", "b"), ""), ("为什么乙？", None, (), "")]


OTHER_NOTES = [DATA / "prose_notes", DATA / "crossling_notes", DATA / "shortanswer_notes"]


def test_other_peoples_notes_questions_name_cards_of_those_notes_and_keep_their_split():
    """othernotes_questions.jsonl is labelled against the other people's notes alone
    (`eval_retrieval.py --notes ... --alone`): every kind and language in both splits."""
    keys = {card_key(card) for folder in OTHER_NOTES for card in load_notes(folder).cards}
    queries = load_queries(DATA / "othernotes_questions.jsonl")
    assert len(queries) >= 200 and {q.split for q in queries} == {"dev", "check"}
    assert {key for q in queries for key in q.expected} == keys  # every card is gold somewhere
    assert all(bool(q.expected) == (q.kind == "covered") for q in queries)
    assert all(q.lang == ("zh" if re.search(r"[\u4e00-\u9fff]", q.text) else "en") for q in queries)  # any Chinese
    assert sum(q.lang == "en" for q in queries) / len(queries) >= 0.35
    groups = defaultdict(list)
    for q in queries:
        groups[(q.kind, q.lang)].append(q.split)
    assert all(abs(s.count("dev") - s.count("check")) <= 1 for s in groups.values())
    assert len(groups) == 8 and len({q.text for q in queries}) == len(queries)


def test_notes_beside_the_shipped_ones_or_alone(tmp_path):
    """`--notes` folders sit beside the shipped notes (uploads left out) or, with `--alone`,
    replace them; either way in a scratch index, not the usual one."""
    from tutor.evaluation import settings_with_notes
    from tutor.settings import Settings

    settings = Settings(knowledge_dir=KNOWLEDGE, data_dir=tmp_path / "usual")
    beside = settings_with_notes(settings, OTHER_NOTES[:2], tmp_path / "beside")
    alone = settings_with_notes(settings, OTHER_NOTES, tmp_path / "alone", alone=True)
    assert beside.data_dir == tmp_path / "beside" / "data" and beside.chroma_url is None
    shipped, others = load_notes(KNOWLEDGE).cards, [c for f in OTHER_NOTES for c in load_notes(f).cards]
    assert sorted(card_key(c) for c in load_notes(beside.knowledge_dir).cards) == \
        sorted(card_key(c) for c in shipped + [c for f in OTHER_NOTES[:2] for c in load_notes(f).cards])
    assert sorted(card_key(c) for c in load_notes(alone.knowledge_dir).cards) == sorted(card_key(c) for c in others)
    assert not (beside.knowledge_dir / "uploads").exists()


def test_seed_grading_set_grades_the_learners_own_cards_and_is_check_only():
    """grading_seed.jsonl grades answers against the seed notes' own cards (the learner's
    notes, as the held-out set does); it is never used to tune anything."""
    answers = load_graded_answers(DATA / "grading_seed.jsonl")
    keys = {card_key(card) for card in load_notes(KNOWLEDGE).cards if card.source == "llm_interview_notes.md"}
    assert len(answers) >= 50 and {a.card for a in answers} <= keys and len({a.card for a in answers}) >= 5
    assert {a.split for a in answers} == {"check"} and all(0 <= a.grade <= 5 for a in answers)
    assert sum(a.lang == "en" for a in answers) / len(answers) >= 0.35


def test_scoring_of_rankings():
    queries = [Query("a", frozenset({"x"})), Query("b", frozenset({"y"})), Query("c", frozenset())]
    figures = score_rankings(queries, [["x", "z"], ["z", "w", "y"], []])
    assert figures["recall@1"] == 0.5 and figures["recall@3"] == 1.0
    assert figures["mrr"] == round((1 + 1 / 3) / 2, 4)
    assert figures["rejected"] == 1.0 and figures["abstention"] == 1.0
    assert figures["several expected"] == 0 and figures["all shown"] != figures["all shown"]  # NaN: none to count
    figures = score_rankings(queries, [[], ["y"], ["x"]])
    assert figures["recall@3"] == 0.5 and figures["answered"] == 0.5 and figures["rejected"] == 0.0
    assert figures["abstention"] == round(1 / 3, 4)


def test_all_shown_counts_the_queries_with_several_expected_cards():
    same_question = frozenset({"own", "fuller"})
    queries = [Query("d", same_question), Query("e", same_question), Query("f", frozenset({"x"}))]
    figures = score_rankings(queries, [["fuller", "z", "own"], ["fuller", "z"], ["x"]])
    assert figures["all shown"] == 0.5 and figures["several expected"] == 2 and figures["recall@1"] == 1.0
    # more expected cards than hits: all k shown is all that can be shown
    many = [Query("g", frozenset({"a", "b", "c", "d"}))]
    assert score_rankings(many, [["a", "b", "c"]], k=3)["all shown"] == 1.0
    assert score_rankings(many, [["a", "b", "z"]], k=3)["all shown"] == 0.0


def test_the_why_not_answers_give_every_question_each_kind_once():
    """whynot_answers.jsonl (bench/eval_conflicts.py): five kinds of answer per question, one
    of them in the other language, so a flag rate per kind compares like with like."""
    rows = [json.loads(line) for line in (DATA / "whynot_answers.jsonl").read_text(encoding="utf-8").splitlines()]
    by_question = defaultdict(list)
    for row in rows:
        assert row["answer"].strip() and row["lang"] == ("zh" if is_chinese(row["answer"]) else "en")
        by_question[row["question"]].append(row)
    assert len(by_question) == 12
    for question, answers in by_question.items():
        assert sorted(a["kind"] for a in answers) == ["correct", "correct-contrast", "partial", "wrong-other",
                                                      "wrong-premise"], question
        asked_in = "zh" if is_chinese(question) else "en"
        assert sum(a["lang"] != asked_in for a in answers) == 1, question


def test_the_premise_probe_pairs_why_not_questions_with_right_and_wrong_answers():
    rows = [json.loads(line) for line in (DATA / "premise_probe.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {row["kind"] for row in rows} == {"right", "wrong-premise"}
    assert all(row["question"].strip() and row["answer"].strip() for row in rows)
    assert sum(row["kind"] == "right" for row in rows) == 84


def test_broad_questions_name_overview_cards_and_keep_their_writers_apart():
    """bench/data/BROAD.md: topic-only questions, split by writer (2 and 3 dev, 1 and 4
    check), no check question the same as a dev one but for its wording's stop words."""
    rows = [json.loads(line) for line in (DATA / "broad_questions.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = load_queries(DATA / "broad_questions.jsonl")
    keys = {card_key(card) for card in load_notes(KNOWLEDGE).cards}
    assert {key for q in queries for key in q.expected} <= keys
    assert all(bool(q.expected) == (q.kind == "covered") and len(q.expected) <= 2 for q in queries)
    assert {row["writer"]: row["split"] for row in rows} == {1: "check", 2: "dev", 3: "dev", 4: "check"}
    counts = {(split, kind): sum(q.split == split and q.kind == kind for q in queries)
              for split in ("dev", "check") for kind in ("covered", "uncovered-llm")}
    assert counts == {("dev", "covered"): 105, ("dev", "uncovered-llm"): 14,
                      ("check", "covered"): 94, ("check", "uncovered-llm"): 10}
    dev = {frozenset(terms(q.text)) for q in queries if q.split == "dev"}
    assert not [q.text for q in queries if q.split == "check" and frozenset(terms(q.text)) in dev]
    texts = [q.text for q in queries]
    assert len(set(texts)) == len(texts)


def test_the_users_own_card_is_counted_only_where_it_is_gold_and_shown():
    own, fuller = "llm_interview_notes|KV Cache 和 MQA", "inference|自回归生成时 KV cache 缓存了什么？"
    queries = [Query("kv cache 为什么快", frozenset({own, fuller})), Query("MQA 共享什么", frozenset({own})),
               Query("什么是 RMSNorm", frozenset({"normalization|RMSNorm"}))]
    rankings = [[fuller, own], [fuller], [own]]  # the third shows the user's card, but it is not gold there
    assert own_cards_shown(queries, rankings) == (1, 2)
