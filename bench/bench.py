"""Ingest and query speed, each next to bare embedding time measured in the same run.

    python bench/bench.py [--embedding e5] [--queries 100]

Prints: first ingest of knowledge/ into a fresh temporary index (cards/s, chunks/s), with
the shipped vectors and without them (every chunk embedded),
re-ingest of unchanged notes, `ask` latency p50/p95 next to one bare query embedding
(interleaved, same questions), grading a ~200-character answer next to one embedding
of it, and the progress store's cost next to that grading (recording an attempt;
choosing an interview's cards from a schedule of every card), and parsing repeated
headings next to distinct ones. The machines are shared and noisy: read the ratios, not
the absolute times. `bench/load.py` measures one user's burst against another's questions.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from tutor.evaluation import load_queries
from tutor.lexical import is_chinese
from tutor.notes import parse_markdown
from tutor.service import Tutor
from tutor.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
SHORT_ENGLISH = "Padding makes the batch statistics unstable, so LayerNorm normalizes each token on its own."
ANSWER_200 = (
    "LayerNorm 对每个 token 自己的特征维度做归一化，不依赖 batch 里的其他样本；而 NLP 的 batch 中句子长度不一，"
    "补零之后再做 BatchNorm，统计量会被 padding 干扰，方差变大，训练不稳定。另外同一位置不同句子的 token 之间关联不大，"
    "跨样本归一化会抹掉 token 之间的差异，所以 Transformer 里普遍使用 LayerNorm 或 RMSNorm。"
)


def timed_in_blocks(first, second, items: list, block: int = 5) -> tuple[list[float], list[float]]:
    """Seconds of `first(item)` and of `second(item)` for every item, in alternating blocks of
    `block` items, so both see the same machine load. Timed in turns (embed, grade, embed…),
    the embedding that followed a grade ran several times slower than the same embedding
    inside the grade (105 vs ~26 ms for the short answer on 2026-12-01: numpy's BLAS threads
    were still spinning, see embeddings.leave_cores_to_the_model), which made `ask` and
    grading look cheaper than one embedding."""
    times: tuple[list[float], list[float]] = ([], [])
    for start in range(0, len(items), block):
        for call, kept in ((first, times[0]), (second, times[1])):
            for item in items[start:start + block]:
                started = time.perf_counter()
                call(item)
                kept.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_ask_and_grade(tutor: Tutor, questions: list[str], card) -> float:
    """Prints `ask` next to a bare query embedding and grading next to one embedding of the
    answer; returns the p50 seconds of grading the ~200-character answer."""
    # English questions alone too: they also take MiniLM's second opinion (english_opinion.py)
    english = [q for q in questions if not is_chinese(q)]
    for label, asked in (("", questions), (", English questions", english)):
        embed_times, ask_times = timed_in_blocks(tutor.embeddings.query, tutor.ask, asked)
        e50, e95 = statistics.median(embed_times), percentile(embed_times, 0.95)
        a50, a95 = statistics.median(ask_times), percentile(ask_times, 0.95)
        print(f"  bare query embedding{label}: p50 {e50 * 1e3:.1f} ms, p95 {e95 * 1e3:.1f} ms  ({len(asked)} questions)")
        print(f"  ask{label}:                  p50 {a50 * 1e3:.1f} ms, p95 {a95 * 1e3:.1f} ms")
        print(f"  ask / bare embedding{label}: p50 {a50 / e50:.2f}x, p95 {a95 / e95:.2f}x")
    # The short English answer is one sentence, embedded once; the 204-character one is
    # embedded sentence by sentence (its whole vector is their mean: Grader._answer_vectors).
    for answer in (ANSWER_200, SHORT_ENGLISH):
        tutor.embeddings.query(answer)  # warm-up
        tutor.grader.grade(card, answer)
        answer_embeddings, grade_times = timed_in_blocks(tutor.embeddings.query,
                                                         lambda a: tutor.grader.grade(card, a), [answer] * 30)
        embed_once, grade_once = statistics.median(answer_embeddings), statistics.median(grade_times)
        print(f"  grade a {len(answer)}-char answer: p50 {grade_once * 1e3:.0f} ms vs one embedding of it "
              f"{embed_once * 1e3:.0f} ms = {grade_once / embed_once:.1f}x (1.5x + 50 ms: "
              f"{(1.5 * embed_once + 0.05) * 1e3:.0f} ms)")
        if answer is ANSWER_200:
            long_grade = grade_once
    return long_grade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", default="e5")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        settings = dataclasses.replace(Settings.from_env(), embedding=args.embedding, data_dir=Path(data_dir),
                                       chroma_url=None)
        started = time.perf_counter()
        tutor = Tutor(settings)
        print(f"model {tutor.embeddings.model_id} loaded in {time.perf_counter() - started:.2f}s")

        first = tutor.ingest()
        print(f"first ingest:  {first.cards} cards, {first.chunks} chunks in {first.seconds:.1f}s "
              f"= {first.cards / first.seconds:.1f} cards/s, {first.chunks / first.seconds:.1f} chunks/s")
        with tempfile.TemporaryDirectory() as other_dir:  # the same, every chunk embedded by the model
            unshipped = Tutor(dataclasses.replace(settings, data_dir=Path(other_dir), shipped_vectors=None),
                              tutor.embeddings)
            embedded = unshipped.ingest()
        print(f"  without the shipped vectors: {embedded.seconds:.1f}s = {embedded.chunks / embedded.seconds:.1f} "
              f"chunks/s; with them {first.seconds / embedded.seconds:.1%} of that")
        again = tutor.ingest()
        print(f"re-ingest:     {again.seconds:.2f}s (added {again.added}, updated {again.updated}) "
              f"= {again.seconds / first.seconds:.1%} of the first")

        started = time.perf_counter()
        retriever = tutor.retriever
        print(f"retriever ready in {time.perf_counter() - started:.2f}s ({len(retriever)} cards)")

        questions = [q.text for q in load_queries(DATA / "retrieval_dev.jsonl")]
        questions = (questions * (args.queries // len(questions) + 1))[: args.queries]
        tutor.ask(questions[0])  # warm-up
        card = tutor.ask("为什么NLP不用BN？", k=1).hits[0].card
        # The tutor runs numpy's BLAS on one thread (embeddings.leave_cores_to_the_model);
        # the same figures with numpy's default threads show what that buys.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        # the tutor's setting last: `g50` (grading cost, for the progress store's line) is its figure
        for label, blas_threads in ((f"BLAS on {cores} threads (one per core, OpenBLAS's default)", cores),
                                    ("BLAS on 1 thread (the tutor's setting)", 1)):
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                print(label)
                g50 = time_ask_and_grade(tutor, questions, card)

        # The first grade against a card also finds its second reference (one query
        # embedding) and gets both cards' points' vectors (from the shipped vectors for these
        # cards); an interview does that while the learner types (Grader.prepare).
        first_times, first_embedding = [], []
        for other in tutor.retriever.cards[:: max(1, len(tutor.retriever.cards) // 10)][:10]:
            t0 = time.perf_counter()
            tutor.embeddings.query(ANSWER_200)
            t1 = time.perf_counter()
            tutor.grader.grade(other, ANSWER_200)
            first_times.append(time.perf_counter() - t1)
            first_embedding.append(t1 - t0)
        f50, fo50 = statistics.median(first_times), statistics.median(first_embedding)
        print(f"first grade against a card (unprepared): p50 {f50 * 1e3:.0f} ms = {f50 / fo50:.1f}x one embedding")

        cards = retriever.cards
        record_times = []
        for i, practised in enumerate(cards):  # every card practised once: the largest schedule
            t0 = time.perf_counter()
            tutor.progress.record("bench", practised, (i * 37) % 101, ANSWER_200)
            record_times.append(time.perf_counter() - t0)
        started = time.perf_counter()
        for _ in range(10):
            tutor.learner("bench").start_interview(None, 5)
        plan = (time.perf_counter() - started) / 10
        r50 = statistics.median(record_times)
        print(f"record an attempt (SQLite WAL, synchronous=FULL): p50 {r50 * 1e3:.1f} ms = {r50 / g50:.1%} of grading; "
              f"plan a 5-question interview over {len(cards)} scheduled cards: {plan * 1e3:.1f} ms")

    # Parsing cost of repeated headings next to as many distinct ones (it was quadratic).
    for count in (8_000, 16_000):
        same = "".join("## 同一个问题？\n答案文字足够长可以评分。\n" for _ in range(count))
        different = "".join(f"## 问题 {i}？\n答案文字足够长可以评分。\n" for i in range(count))
        t0 = time.perf_counter()
        parse_markdown(same, "x.md")
        t1 = time.perf_counter()
        parse_markdown(different, "x.md")
        t2 = time.perf_counter()
        print(f"parse {count} identical headings: {t1 - t0:.2f}s vs {count} distinct: {t2 - t1:.2f}s "
              f"= {(t1 - t0) / (t2 - t1):.2f}x")


if __name__ == "__main__":
    main()
