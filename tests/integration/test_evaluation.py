"""Retrieval quality on the team's dev set over the whole shipped knowledge base.

A regression guard, not a tuning loop: thresholds sit a little below the figures the
harness reports (see README), so a change that hurts retrieval fails here.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from tutor.evaluation import (
    ANCHORS,
    OURS,
    check_labels,
    evaluate_retrieval,
    load_queries,
    retrieval_rankings,
    score_rankings,
    subset_figures,
)
from tutor.service import Tutor
from tutor.settings import Settings

from ..conftest import KNOWLEDGE, ROOT

DATA = ROOT / "bench" / "data"


@pytest.fixture(scope="module")
def full_tutor(full_index, e5):
    data, _ = full_index
    return Tutor(replace(Settings.from_env({}), knowledge_dir=KNOWLEDGE, data_dir=data), embeddings=e5)


@pytest.mark.parametrize("name", ["retrieval_dev.jsonl", "retrieval_check.jsonl"])
def test_labels_name_real_cards(full_tutor, name):
    queries = load_queries(DATA / name)
    assert len(queries) >= 80
    assert check_labels(queries, full_tutor.retriever.cards) == []


def test_dev_set_recall_and_abstention_beat_the_baselines(full_tutor):
    results = evaluate_retrieval(full_tutor.retriever, load_queries(DATA / "retrieval_dev.jsonl"))
    ours = results[OURS]
    dense = results["dense only, no abstention"]
    naive = results["naive BM25+dense RRF, no abstention"]
    assert ours["recall@3"] >= 0.93
    assert ours["abstention"] >= 0.9 and ours["rejected"] >= 0.9
    assert ours["recall@1"] >= dense["recall@1"]
    assert ours["mrr"] > naive["mrr"]


def test_real_style_check_split_is_answered_and_declined_better_than_before(full_tutor):
    """The check split of questions written in the style of real interviews (never used to
    fit the answerability model). Floors sit a little below the measured figures (README)."""
    queries = [q for q in load_queries(DATA / "realstyle_questions.jsonl") if q.split == "check"]
    assert len(queries) >= 190 and check_labels(queries, full_tutor.retriever.cards) == []
    rankings = retrieval_rankings(full_tutor.retriever, queries)
    ours, before = subset_figures(queries, rankings[OURS]), subset_figures(queries, rankings[ANCHORS])
    assert ours["covered zh recall@3"] >= 0.94 and ours["covered en recall@3"] >= 0.89
    assert ours["covered zh recall@1"] >= 0.9 and ours["covered en recall@1"] >= 0.8
    # the check split's uncovered questions are few (7 zh, 6 en) since the notes cover most
    # of the topics it was written about: these floors are coarse. Counted, not as a share:
    # a row that a new card covers leaves the denominator (3 of 8 became 3 of 7 in 733444f)
    def uncovered_zh_answered(method: str) -> int:
        return sum(bool(ranking) for q, ranking in zip(queries, rankings[method])
                   if q.kind == "uncovered-llm" and q.lang == "zh")
    assert uncovered_zh_answered(OURS) <= 3 < uncovered_zh_answered(ANCHORS)
    assert ours["uncovered-llm en answered"] <= 0.2 < before["uncovered-llm en answered"]
    assert ours["offdomain-tech zh answered"] <= 0.15 < before["offdomain-tech zh answered"]
    assert ours["chatter zh answered"] == ours["chatter en answered"] == 0



def test_near_misses_written_after_the_fit_are_declined(full_tutor):
    """78 questions close to the notes that they do not answer (never used to fit):
    measured 3 of 78 answered (README); the previous rule answered most of them."""
    queries = load_queries(DATA / "uncovered_check.jsonl")
    rankings = retrieval_rankings(full_tutor.retriever, queries)
    ours, before = score_rankings(queries, rankings[OURS]), score_rankings(queries, rankings[ANCHORS])
    assert ours["rejected"] >= 0.93 and before["rejected"] < 0.6

def test_grading_agrees_with_human_grades_far_better_than_cosine(full_tutor):
    from tutor.evaluation import evaluate_grading, load_graded_answers

    answers = load_graded_answers(DATA / "grading_dev.jsonl")
    assert len(answers) >= 100 and len({a.card for a in answers}) >= 15
    result = evaluate_grading(full_tutor.grader, full_tutor.embeddings, full_tutor.retriever.cards, answers)
    assert result["all"]["ours"]["spearman"] >= 0.8
    assert result["all"]["ours"]["spearman"] > result["all"]["cosine"]["spearman"] + 0.3
    assert result["en"]["ours"]["spearman"] >= 0.7  # parity: English answers to Chinese notes
    # reading whole notes (prose points, a baseline per language, the second card) did not cost
    # agreement on cards written for grading (0.864 vs 0.834 on 2026-11-30)
    assert result["all"]["ours"]["spearman"] >= result["all"]["previous"]["spearman"]
    by_kind = result["mean score by kind"]
    for nothing in ("idk", "offtopic"):
        assert by_kind[nothing] < 10
    assert by_kind["complete"] > by_kind["partial"] > by_kind["weak"]
