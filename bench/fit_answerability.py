"""Fit the answerability models (tutor/answerability.py) on the dev splits and print them.

    python bench/fit_answerability.py [--data FILE ...] [--english-data FILE ...]

Reads labelled queries (covered = a non-empty "expected"), keeps the rows of split "dev"
(a file without splits, like retrieval_dev.jsonl, is all dev), computes each query's
Evidence over the index of TUTOR_KNOWLEDGE_DIR (in TUTOR_DATA_DIR), and fits a logistic
regression on standardised features with an L2 penalty: the model of every question on
the `--data` rows (FITTED_ANSWERABILITY), and the English questions' own model, with
MiniLM's second opinion as an eighth signal (english_opinion.py), on the English rows of
`--data` and `--english-data` (FITTED_ENGLISH_ANSWERABILITY). Prints both as Python to
paste into tutor/retrieval.py, each with its decision threshold and the dev rows'
answered rates. Check rows are never read here.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from tutor.answerability import ENGLISH_FEATURES, FEATURES
from tutor.evaluation import card_key, load_queries
from tutor.index import RENDERING_ADVANTAGE
from tutor.lexical import is_chinese
from tutor.service import Tutor

DATA = Path(__file__).resolve().parent / "data"
L2 = 1.0


def fit(features: np.ndarray, covered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    means, spreads = features.mean(0), features.std(0) + 1e-9
    design = np.column_stack([np.ones(len(features)), (features - means) / spreads])

    def loss(w: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(design @ w)))
        return float(-np.sum(covered * np.log(p + 1e-12) + (1 - covered) * np.log(1 - p + 1e-12))
                     + L2 * np.sum(w[1:] ** 2))

    w = minimize(loss, np.zeros(design.shape[1]), method="L-BFGS-B").x
    return means, spreads, w[1:], float(w[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+",
                        default=[DATA / "realstyle_questions.jsonl", DATA / "retrieval_dev.jsonl",
                                 DATA / "uncovered_dev.jsonl", DATA / "blind_questions.jsonl",
                                 DATA / "offdomain_dev.jsonl"])
    parser.add_argument("--english-data", type=Path, nargs="*", default=[DATA / "blind_en_questions.jsonl"],
                        help="more dev questions for the English model only")
    args = parser.parse_args()
    queries = [q for path in args.data for q in load_queries(path) if q.split in ("dev", "")]
    extra = [q for path in args.english_data for q in load_queries(path) if q.split in ("dev", "")]
    tutor = Tutor()
    tutor.ingest()
    retriever = tutor.retriever
    vectors = tutor.embeddings.queries([q.text for q in queries + extra])
    print_rendering_advantage(retriever.index, queries, vectors)
    evidence = [retriever.lookup(q.text, v).evidence for q, v in zip(queries + extra, vectors)]
    print_model("FITTED_ANSWERABILITY", "ANSWER_PROBABILITY", FEATURES, queries, evidence[:len(queries)],
                ", ".join(p.name for p in args.data))
    if retriever.english_encoder is None or retriever.index.english_vectors is None:
        print("# no English model: MiniLM's second opinion is not available here (see the log)")
        return
    english = [(q, e) for q, e in zip(queries + extra, evidence) if not is_chinese(q.text)]
    second = retriever.english_encoder.encode([q.text for q, _ in english])
    print_model("FITTED_ENGLISH_ANSWERABILITY", "ENGLISH_ANSWER_PROBABILITY", ENGLISH_FEATURES,
                [q for q, _ in english],
                [replace(e, english_best=retriever.index.english_vectors.best(v)) for (_, e), v in zip(english, second)],
                "the English questions of " + ", ".join(p.name for p in args.data + args.english_data))


def print_model(name: str, threshold_name: str, feature_names: tuple[str, ...], queries, evidence,
                source: str) -> None:
    features = np.array([e.vector(feature_names) for e in evidence])
    covered = np.array([q.on_topic for q in queries], float)
    means, spreads, weights, bias = fit(features, covered)
    print(f"# fitted on {len(queries)} dev queries ({int(covered.sum())} covered) from {source}")
    print(f"{name} = AnswerabilityModel(")
    for field_name, values in (("means", means), ("spreads", spreads), ("weights", weights)):
        print(f"    {field_name}=({', '.join(f'{v:.4f}' for v in values)}),")
    print(f"    bias={bias:.4f},")
    if feature_names != FEATURES:
        print(f"    features={feature_names},")
    print(")")
    probability = 1 / (1 + np.exp(-(bias + ((features - means) / spreads) @ weights)))
    for feature, weight in zip(feature_names, weights):
        print(f"#   {feature:16s} {weight:+.2f}")
    threshold = decision_threshold(probability, covered)
    print(f"{threshold_name} = {threshold}  # the dev rows' most accurate decision threshold")
    for kind in dict.fromkeys(q.kind for q in queries):
        mask = np.array([q.kind == kind for q in queries])
        print(f"# dev answered, {kind}: {np.mean(probability[mask] >= threshold):.3f} of {mask.sum()}")


def decision_threshold(probability: np.ndarray, covered: np.ndarray) -> float:
    """The probability above which to answer: the one that decides the most dev rows
    correctly, on a 0.05 grid, each point's accuracy averaged with its two neighbours'
    (the curve is flat near its top, and one row more or less moved the bare maximum
    from 0.45 to 0.60); of equally good ones the lowest (a question the notes cover is
    then declined less often)."""
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    accuracy = np.array([np.mean((probability >= t) == (covered == 1)) for t in grid])
    smoothed = np.convolve(np.pad(accuracy, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    # rounded so that equal averages tie exactly and the lowest threshold wins
    return float(grid[int(np.argmax(np.round(smoothed, 9)))])


def print_rendering_advantage(index, queries, vectors) -> None:
    """How much higher an English dev question scores against its gold card's English
    rendering than against the card's Chinese question (RENDERING_ADVANTAGE in
    tutor/index.py is this median)."""
    positions = {card_key(card): i for i, card in enumerate(index.cards)}
    gaps = []
    for query, vector in zip(queries, vectors):
        if query.lang != "en":
            continue
        for key in query.expected:
            rendering = index.rendering_vector(positions[key])
            if rendering is not None:
                gaps.append(float(rendering @ vector - index.question_vector(positions[key]) @ vector))
    if gaps:
        low, median, high = np.quantile(gaps, [0.25, 0.5, 0.75])
        print(f"# English rendering advantage over {len(gaps)} dev pairs: median {median:.3f} "
              f"(quartiles {low:.3f} / {high:.3f}; RENDERING_ADVANTAGE = {RENDERING_ADVANTAGE})")


if __name__ == "__main__":
    main()
