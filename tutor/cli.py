"""Command line: a thin adapter over `Tutor` (the contract is in README.md)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from .conflicts import ConflictKind
from .conversation import not_covered_message
from .errors import TutorError
from .limits import check_text, printable
from .progress import check_user
from .settings import ENVIRONMENT, Settings

EXIT_OK, EXIT_FAILED = 0, 1


class CommandError(Exception):
    """A one-line error for the user; the command exits non-zero."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tutor",
        description="Offline interview tutor: index Markdown notes, answer questions from them, grade answers. "
                    "(`tutor` and `python -m tutor` are the same command.)",
        epilog="Settings (environment): "
        + "; ".join(f"{name}: {text}" for name, text in ENVIRONMENT.items()),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens, with timings, on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="index the notes folder (incremental)")
    ingest.add_argument("--knowledge", type=Path, metavar="DIR",
                        help="notes folder (default: TUTOR_KNOWLEDGE_DIR or knowledge/)")
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")

    ask = commands.add_parser("ask", help="answer a question from the notes")
    asked = ask.add_mutually_exclusive_group(required=True)
    asked.add_argument("question", nargs="?", help="the question")
    asked.add_argument("--batch", type=Path, metavar="FILE", help="a file with one question per line")
    ask.add_argument("-k", type=_at_least_one, default=3, metavar="N", help="at most N cards per question (default 3)")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per line with --batch)")

    grade = commands.add_parser("grade", help="grade an answer against the closest card")
    graded = grade.add_mutually_exclusive_group(required=True)
    graded.add_argument("--question", help="the interview question (with --answer)")
    graded.add_argument("--batch", type=Path, metavar="FILE", help='JSON lines: {"question": ..., "answer": ...}')
    grade.add_argument("--answer", help="the learner's answer")
    grade.add_argument("--user", metavar="U", help="record the attempt(s) in U's progress")
    grade.add_argument("--json", action="store_true", help="print JSON (one object per line with --batch)")

    progress = commands.add_parser("progress", help="a user's attempts, due cards and mastery per topic")
    progress.add_argument("--user", required=True, metavar="U", help="whose progress")
    progress.add_argument("--json", action="store_true", help="print the summary as JSON")

    export = commands.add_parser("export", help="write a user's attempts as CSV and/or the cards as an Anki deck")
    export.add_argument("--user", metavar="U", help="whose attempts (needed for --csv)")
    export.add_argument("--csv", type=Path, metavar="FILE", help="attempts as CSV")
    export.add_argument("--anki", type=Path, metavar="FILE", help="the indexed cards as an Anki deck (.apkg)")
    return parser


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _usage_errors(parser: argparse.ArgumentParser, args) -> None:
    """What argparse's groups cannot say; reported like argparse's own (usage, exit 2)."""
    if args.command == "grade" and (args.question is None) != (args.answer is None):
        parser.error("give --question and --answer together, or --batch FILE")
    if args.command == "export" and not (args.csv or args.anki):
        parser.error("give --csv FILE and/or --anki FILE")
    if args.command == "export" and args.csv and args.user is None:
        parser.error("--csv needs --user U")


def _check_input(args) -> None:
    """The given text and files themselves; problems are one-line errors (exit 1)."""
    if getattr(args, "question", None) is not None:
        args.question = check_text(args.question, "the question")
    if getattr(args, "answer", None) is not None:
        args.answer = check_text(args.answer, "the answer")
    if getattr(args, "user", None) is not None:
        try:
            args.user = check_user(args.user)
        except ValueError as error:
            raise CommandError(f"--user: {error}") from None
    if getattr(args, "batch", None) is not None and not args.batch.is_file():
        raise CommandError(f"batch file not found: {args.batch}")


def main(argv: list[str] | None = None) -> int:
    # Text that came in undecodable (file names, arguments) is echoed escaped, never a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _usage_errors(parser, args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        _check_input(args)
        return COMMANDS[args.command](args)
    except (CommandError, TutorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; run the command again to finish (nothing is lost)", file=sys.stderr)
        return 130


def _tutor():
    from .service import Tutor  # heavy imports only once arguments are known to be good

    return Tutor(Settings.from_env())


def _progress_bar(description: str):
    """A tqdm bar on a terminal; silent otherwise (logs and pipes stay clean)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc=description, file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.n = done
        bar.refresh()

    return update, bar.close


def run_ingest(args) -> int:
    tutor = _tutor()
    update, close = _progress_bar("embedding")
    try:
        report = tutor.ingest(args.knowledge, on_progress=update)
    finally:
        close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return EXIT_OK
    print(
        f"{report.files} files, {report.cards} cards, {report.chunks} chunks: "
        f"{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {report.skipped} skipped ({report.seconds:.2f}s)"
    )
    for item in report.skipped_details:
        where = f"{item.source}:{item.line}" if item.line else item.source
        title = f" «{item.question}»" if item.question else ""
        print(f"  skipped {where}{title}: {item.reason}")
    return EXIT_OK


def _ensure_index(tutor) -> None:
    if tutor.is_empty():
        print("index is empty: ingesting the notes first...", file=sys.stderr)
        update, close = _progress_bar("embedding")
        try:
            report = tutor.ingest(on_progress=update)
        finally:
            close()
        print(f"indexed {report.cards} cards", file=sys.stderr)


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-empty lines; bytes that are not UTF-8 stay in their line as lone surrogates,
    so that line alone is refused (as "not valid text") and the others still run."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def run_ask(args) -> int:
    from .service import InputError

    tutor = _tutor()
    _ensure_index(tutor)
    questions = _read_lines(args.batch) if args.batch else [(0, args.question)]
    failed = False
    for number, question in questions:
        try:
            answer = tutor.ask(question, k=args.k)
        except InputError as error:  # one bad line (too long...) does not stop the batch
            if not args.batch:
                raise
            failed = True
            _print_failure(args.json, {"line": number, "query": printable(question[:80])}, error)
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            _print_answer(answer, batch=bool(args.batch))
    return EXIT_FAILED if failed else EXIT_OK


def _print_answer(answer, batch: bool) -> None:
    if batch:
        print(f"Q: {answer.query}")
    if not answer.hits:
        print(not_covered_message(answer.unexplained))
        if answer.nearest:
            print("笔记里最接近的主题 (nearest topics in the notes):")
            for card in answer.nearest:
                print(f"  - {card.question}  ({card.heading_path}; {card.location})")
    for rank, hit in enumerate(answer.hits, start=1):
        card = hit.card
        print(f"[{rank}] {card.question}  ({card.heading_path}; {card.location}; score {hit.score:.3f})")
        print("    " + card.answer.replace("\n", "\n    "))
    if batch:
        print()


def _print_failure(as_json: bool, context: dict, error: Exception) -> None:
    if as_json:
        print(json.dumps({**context, "error": str(error)}, ensure_ascii=False), flush=True)
    else:
        where = f"line {context['line']}: " if context.get("line") and f"line {context['line']}" not in str(error) else ""
        print(f"error: {where}{error}", file=sys.stderr)


def run_grade(args) -> int:
    from .service import GradeNotSaved, InputError

    tutor = _tutor()
    if args.user is not None:
        _ = tutor.progress  # a damaged or foreign progress file stops here, before any grading
    _ensure_index(tutor)
    if args.batch:
        items = _grade_items(args.batch)
    else:
        items = iter([(0, {"question": args.question, "answer": args.answer}, None)])
    failed = False
    for number, item, problem in items:
        context = {"line": number} if number else {}
        if problem is None:
            try:
                grade = tutor.grade(item["question"], item["answer"], user=args.user)
            except InputError as error:
                problem = str(error)
            except GradeNotSaved as error:  # the grade stands; say it was not recorded
                failed = True
                _print_grade_output(args.json, error.grade, not_saved=str(error))
                continue
        if problem is not None:
            failed = True
            if args.batch:
                question = (item or {}).get("question")
                context["question"] = printable(question) if isinstance(question, str) else question
                _print_failure(args.json, context, CommandError(problem))
                continue
            raise CommandError(problem)
        _print_grade_output(args.json, grade)
    return EXIT_FAILED if failed else EXIT_OK


def _print_grade_output(as_json: bool, grade, not_saved: str | None = None) -> None:
    if as_json:
        extra = {"not_saved": not_saved} if not_saved else {}
        print(json.dumps({**grade.to_dict(), **extra}, ensure_ascii=False), flush=True)
        return
    _print_grade(grade)
    if not_saved:
        print(f"error: graded but not saved: {not_saved}", file=sys.stderr)


def _grade_items(path: Path):
    for number, line in _read_lines(path):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, None, f"line {number}: not JSON ({error.msg})"
            continue
        if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("question", "answer")):
            yield number, None, f'line {number}: expected {{"question": "...", "answer": "..."}}'
            continue
        if not item["answer"].strip():
            yield number, item, f"line {number}: the answer is empty"
            continue
        yield number, item, None


# what the notes say against each kind of wrong fact, before the note's statement
_NOTES_SAY = {ConflictKind.SWAP: "the notes say this of {instead}", ConflictKind.QUANTITY: "the notes give {instead}",
              ConflictKind.PREMISE: "the question asks why {subject} is not used; the notes say"}


def _print_grade(grade) -> None:
    print(f"{grade.score}/100  {grade.verdict}")
    print(f"question: {grade.question}")
    print(f"matched:  {grade.source}")
    for conflict in grade.conflicts:
        notes = _NOTES_SAY[conflict.kind].format(subject=conflict.subject, instead=conflict.instead)
        print(f"  ⚠ 与笔记不符 contradicts your notes: \"{conflict.said}\" — {notes}: \"{conflict.note}\"")
    _print_points(grade.covered, grade.missed)
    for other in grade.references[1:]:
        print(f"also in your notes: {other.source}")
        _print_points(other.covered, other.missed)


def _print_points(covered: list[str], missed: list[str]) -> None:
    for point in covered:
        print(f"  ✓ {point}")
    for point in missed:
        print(f"  ✗ {point}")


def run_progress(args) -> int:
    tutor = _tutor()
    report = tutor.learner(args.user).report()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return EXIT_OK
    print(f"{report.user}: {report.attempts} attempts, {report.due} cards due now")
    if not report.topics:
        print("  nothing practised yet: `tutor grade --user U ...` or a mock interview in the UI")
    for topic in report.topics:  # weakest first
        print(f"  {topic.mastery * 100:5.1f}%  {topic.topic}  ({topic.attempts} attempts)")
    return EXIT_OK


def run_export(args) -> int:
    tutor = _tutor()
    for target in filter(None, (args.csv, args.anki)):
        if not target.parent.is_dir():
            raise CommandError(f"folder not found: {target.parent}")
    if args.csv:
        tutor.learner(args.user).export_attempts(args.csv)
        print(f"wrote {args.csv}")
    if args.anki:
        _ensure_index(tutor)
        tutor.export_anki(args.anki)
        print(f"wrote {args.anki} ({len(tutor.retriever.cards)} cards)")
    return EXIT_OK


COMMANDS = {"ingest": run_ingest, "ask": run_ask, "grade": run_grade, "progress": run_progress, "export": run_export}
