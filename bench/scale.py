"""How the tutor scales with the notes: 1k, 10k, 100k cards, without embedding 100k texts.

    python bench/scale.py [--sizes 1000 10000 100000] [--queries 30] [--keep DIR] [--chroma-url URL]

Synthetic notes are made from the shipped ones: each synthetic card takes a real card's
question (with a variant number) and recombines answer sentences of that card and of two
others, so the texts are varied Chinese and English like real notes. Each synthetic chunk's
vector is the vector of the real chunk it was made from plus Gaussian noise (cosine ~0.95
to it, about a paraphrase's distance), given to the store as shipped vectors, so a sync
embeds nothing. Real questions are still embedded by the real model.

Per size it prints: the store sync (writing every chunk to embedded Chroma, or to a Chroma
server with --chroma-url), start-up in a
new process (`python -m tutor ask`, process start to first answer, and its peak resident
memory) twice: a start without a saved index, which builds the index from the store and
saves it (tutor/saved_index.py), and a restart, which reads the saved index; `ask`
p50/p95 next to a bare query embedding (interleaved, same questions); the dense card
scores by an exact scan of every chunk, by Chroma's own nearest-neighbour query alone, and
by the path `ask` takes (Index.search_scores: the scan below EXACT_SCAN_CHUNKS, from there
the nearest chunks' cards scored exactly); and `grade` p50. The machines are shared and
noisy: read the ratios and the growth, not single times.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import ANSWER_200, percentile  # bench/bench.py, beside this script
from tutor.evaluation import load_queries
from tutor.index import NEAREST_CHUNKS, card_texts
from tutor.notes import Card, load_notes
from tutor.service import Tutor
from tutor.settings import Settings
from tutor.vectors import ShippedVectors, shipped_cards, vectors_file, write_vectors

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["KV cache 为什么能加速推理", "What is LoRA and why does it save memory?", "RMSNorm 和 LayerNorm 的区别",
             "GRPO 和 PPO 有什么不同？", "why divide by sqrt(d_k) in attention", "MoE 的负载均衡怎么做",
             "What does FlashAttention change?", "DPO 的损失函数是什么", "投机解码的原理", "How does RoPE encode position?"]
CARDS_PER_FILE = 200
NOISE = 0.017  # per dimension: |noise| ~ 0.33 over 384 dimensions, cosine ~0.95 to the source chunk


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？；.!?])\s*", text) if len(s.strip()) > 4]


def synthetic_notes(size: int, folder: Path, shipped: ShippedVectors, seed: int = 7) -> tuple[int, list[str], np.ndarray]:
    """Write `size` synthetic cards under `folder`; return (chunks, chunk texts, their vectors)."""
    real = shipped_cards(ROOT / "knowledge")
    rng, noise = random.Random(seed), np.random.default_rng(seed)
    bases: list[Card] = []
    files: dict[int, list[str]] = {}
    for number in range(size):
        base, *others = rng.sample(real, 3)
        parts = sentences(base.answer)[:4] + [s for other in others for s in sentences(other.answer)[:2]]
        rng.shuffle(parts)
        answer = "\n".join(parts) or base.answer
        files.setdefault(number // CARDS_PER_FILE, []).append(f"### {base.question}（变体 {number}）\n\n{answer}\n")
        bases.append(base)
    for number, cards in files.items():
        (folder / f"part{number:04d}.md").write_text(f"# 合成笔记 {number}\n\n## 主题 {number % 37}\n\n" + "\n".join(cards),
                                                     encoding="utf-8")
    # the chunks exactly as the store will make them (card_texts of the parsed cards)
    texts: list[str] = []
    sources: list[np.ndarray] = []
    for card in load_notes(folder).cards:
        base = bases[int(re.search(r"（变体 (\d+)）", card.question).group(1))]
        base_vectors = shipped.vectors_for(card_texts(base), lambda missing: np.zeros((len(missing), 384)))
        for position, text in enumerate(card_texts(card)):
            texts.append(text)
            sources.append(base_vectors[min(position, len(base_vectors) - 1)])
    vectors = np.asarray(sources, np.float32) + noise.normal(0, NOISE, (len(sources), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return len(texts), texts, vectors


def start_up(knowledge: Path, data: Path, question: str, chroma_url: str | None) -> tuple[float, float]:
    """A new process: start to first answer (s) and its peak resident memory (MB)."""
    # VmHWM, not ru_maxrss: Linux carries the forking parent's peak into a child's ru_maxrss
    code = ("import re, sys, time; t0 = time.perf_counter(); from tutor.cli import main; "
            "code = main(['ask', sys.argv[1], '--json']); "
            "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
            "print('SECONDS', time.perf_counter() - t0, 'RSS', int(peak) / 1024, file=sys.stderr)")
    env = {**os.environ, "TUTOR_KNOWLEDGE_DIR": str(knowledge), "TUTOR_DATA_DIR": str(data)}
    env.pop("TUTOR_CHROMA_URL", None)
    if chroma_url:
        env["TUTOR_CHROMA_URL"] = chroma_url
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, question], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    found = re.search(r"SECONDS [\d.]+ RSS ([\d.]+)", result.stderr)
    if result.returncode != 0 or not found or not json.loads(result.stdout)["hits"]:
        raise SystemExit(f"start-up run failed ({result.returncode}): {result.stderr[-2000:]}")
    return wall, float(found.group(1))


def measure(size: int, queries: int, scratch: Path, chroma_url: str | None = None) -> None:
    """Everything for one size, in `scratch` (notes, vectors and index made there unless a
    previous run with --keep left them; a Chroma server is synced to this size's notes)."""
    knowledge, data, vectors_folder = scratch / "notes", scratch / "data", scratch / "vectors"
    settings = dataclasses.replace(Settings.from_env(), knowledge_dir=knowledge, data_dir=data, chroma_url=chroma_url,
                                   shipped_vectors=vectors_folder)
    probe = Tutor(dataclasses.replace(settings, shipped_vectors=ROOT / "knowledge" / "vectors"))
    where = f"Chroma server {chroma_url}" if chroma_url else "embedded Chroma"
    made_now = not knowledge.exists()
    if made_now:
        knowledge.mkdir(parents=True)
        made = time.perf_counter()
        chunks, texts, vectors = synthetic_notes(size, knowledge, probe._shipped_vectors)
        write_vectors(vectors_folder, probe.embeddings.model_id, texts, vectors)
        print(f"\n== {size} cards, {chunks} chunks, {where} (made in {time.perf_counter() - made:.0f} s; vectors "
              f"file {vectors_file(vectors_folder, probe.embeddings.model_id).stat().st_size / 1e6:.0f} MB)")
    elif chroma_url:
        print(f"\n== {size} cards, {where}: notes of an earlier run, synced to the server")
    else:
        print(f"\n== {size} cards, {where}: reusing {scratch} (made and synced by an earlier run)")
    if made_now or chroma_url:  # a server is synced to this size's notes on every run
        t0 = time.perf_counter()
        report = Tutor(settings, embeddings=probe.embeddings).ingest()  # (made after the vectors were written)
        total = time.perf_counter() - t0
        print(f"store sync (nothing embedded): {report.seconds:.1f} s for {report.chunks} chunks "
              f"({report.chunks / report.seconds:.0f} chunks/s); then building and saving the index "
              f"{total - report.seconds:.1f} s")

    # without a saved index: as after a sync by another machine on a Chroma server, or the
    # first start of a newer version of the code
    shutil.rmtree(data / "saved_index", ignore_errors=True)
    for start in ("start without a saved index (reads the store, saves the index)", "restart (reads the saved index)"):
        wall, rss = start_up(knowledge, data, QUESTIONS[0], chroma_url)
        print(f"{start}: new process to first answer (python -m tutor ask) {wall:.1f} s, peak RSS {rss:.0f} MB")

    tutor = Tutor(settings, embeddings=probe.embeddings)
    questions = (QUESTIONS * (queries // len(QUESTIONS) + 1))[:queries]
    tutor.ask(questions[0])  # warm-up
    bare, asked = [], []
    for question in questions:
        t0 = time.perf_counter()
        tutor.embeddings.query(question)
        t1 = time.perf_counter()
        tutor.ask(question)
        bare.append(t1 - t0)
        asked.append(time.perf_counter() - t1)
    e50, a50, a95 = statistics.median(bare), statistics.median(asked), percentile(asked, 0.95)
    print(f"ask p50 {a50 * 1e3:.0f} ms, p95 {a95 * 1e3:.0f} ms; bare query embedding p50 {e50 * 1e3:.0f} ms "
          f"({a50 / e50:.2f}x)")

    index = tutor.retriever.index
    vector = tutor.embeddings.query(questions[0])
    store_search = index.nearest  # Chroma's query, as the indexer set it
    scan, nearest, ours = [], [], []
    for _ in range(10):
        t0 = time.perf_counter()
        index.card_scores(vector)  # the exact scan of every chunk
        scan.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store_search(vector, NEAREST_CHUNKS)
        nearest.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.search_scores(vector)
        ours.append(time.perf_counter() - t0)
    print(f"dense scores: exact scan over every chunk p50 {statistics.median(scan) * 1e3:.1f} ms, "
          f"Chroma's nearest-neighbour query ({NEAREST_CHUNKS} chunks) p50 {statistics.median(nearest) * 1e3:.1f} ms, "
          f"ask's path p50 {statistics.median(ours) * 1e3:.1f} ms")
    print(same_answers(tutor.retriever, store_search))

    card = tutor.ask("为什么NLP不用BN？", k=1).hits[0].card
    tutor.grader.grade(card, ANSWER_200)
    grades = []
    for _ in range(5):
        t0 = time.perf_counter()
        tutor.grader.grade(card, ANSWER_200)
        grades.append(time.perf_counter() - t0)
    print(f"grade p50 {statistics.median(grades) * 1e3:.0f} ms")


def same_answers(retriever, store_search) -> str:
    """How often ask's path gives the hits (and the decision) of the exact scan, on every
    third question of the real-style set (above EXACT_SCAN_CHUNKS they can differ)."""
    questions = [q.text for q in load_queries(ROOT / "bench" / "data" / "realstyle_questions.jsonl")][::3]
    index, same_hits, same_decision = retriever.index, 0, 0
    for question, vector in zip(questions, retriever.embeddings.queries(questions)):
        index.nearest = None
        exact = [hit.card.id for hit in retriever.lookup(question, vector).hits]
        index.nearest = store_search
        ours = [hit.card.id for hit in retriever.lookup(question, vector).hits]
        same_hits += ours == exact
        same_decision += bool(ours) == bool(exact)
    return (f"ask's path against the exact scan, {len(questions)} real-style questions: same hits "
            f"{same_hits / len(questions):.3f}, same answer-or-decline {same_decision / len(questions):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="make each size's notes and index in DIR/<size> and keep them (reused when present)")
    parser.add_argument("--chroma-url", metavar="URL",
                        help="a Chroma server (chroma run ...) instead of the embedded store; each size is synced to it")
    args = parser.parse_args()
    for size in args.sizes:
        if args.keep:
            measure(size, args.queries, args.keep / str(size), args.chroma_url)
            continue
        with tempfile.TemporaryDirectory() as scratch:
            measure(size, args.queries, Path(scratch), args.chroma_url)


if __name__ == "__main__":
    main()
