"""Which answers the wrong-fact checks flag, by kind of answer (tutor/conflicts.py).

    python bench/eval_conflicts.py [--data FILE ...]

Each answer ({"question", "answer", "kind"} per line) is graded end to end, as `grade
--question Q --answer A` does. Per answer kind the script prints how many answers there
are, their mean score, and how many got a conflict of each kind (swap, quantity, premise):
flags on right answers are false alarms, flags on wrong ones are catches. Questions the
notes do not cover are counted apart; then the thing each question asks why it is not
used, as the premise check reads it. The default sets, bench/data/whynot_answers.jsonl and
premise_probe.jsonl, answer questions that ask why a thing is not used (see
bench/data/WHYNOT.md); the grading sets can be read too.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from tutor.conflicts import ConflictKind, why_not_thing
from tutor.errors import InputError
from tutor.service import Tutor

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+",
                        default=[DATA / "whynot_answers.jsonl", DATA / "premise_probe.jsonl"])
    args = parser.parse_args()
    tutor = Tutor()
    tutor.ingest()
    kinds = list(ConflictKind)
    print(f"{'file':28s}{'answer kind':18s}{'answers':>8s}{'mean':>7s}" + "".join(f"{k.value:>10s}" for k in kinds))
    for path in args.data:
        scores: dict[str, list[int]] = defaultdict(list)
        flagged: dict[str, dict[ConflictKind, int]] = defaultdict(lambda: defaultdict(int))
        unmatched: dict[str, int] = defaultdict(int)
        asked: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            kind = item.get("kind", "")
            asked.append(item["question"])
            try:
                grade = tutor.grade(item["question"], item["answer"])
            except InputError:  # a question no card matches
                unmatched[kind] += 1
                continue
            scores[kind].append(grade.score)
            for conflict_kind in {c.kind for c in grade.conflicts}:
                flagged[kind][conflict_kind] += 1
        for kind in sorted(scores):
            graded = scores[kind]
            print(f"{path.name[:27]:28s}{kind[:17]:18s}{len(graded):8d}{sum(graded) / len(graded):7.1f}"
                  + "".join(f"{flagged[kind][k]:10d}" for k in kinds))
        if unmatched:
            print(f"  questions no card matches (not graded): {dict(unmatched)}")
        print("  the thing each question asks why it is not used (step 5; - when it asks no such thing):")
        for question in dict.fromkeys(asked):
            print(f"    {why_not_thing(question) or '-':24s} {question}")


if __name__ == "__main__":
    main()
