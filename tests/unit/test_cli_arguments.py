"""The command line refuses bad arguments before loading anything: argparse's usage errors
(exit 2) for missing or conflicting options, one-line errors (exit 1) for unusable input."""
from __future__ import annotations

import pytest

from tutor.cli import main


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask"], "one of the arguments question --batch is required"),
        (["ask", "q", "--batch", "f.txt"], "not allowed with argument"),
        (["ask", "q", "-k", "0"], "must be at least 1"),
        (["grade", "--question", "什么是 LoRA？"], "give --question and --answer together"),
        (["grade", "--answer", "低秩"], "one of the arguments --question --batch is required"),
        (["grade", "--question", "q", "--answer", "a", "--batch", "f.jsonl"], "not allowed with argument"),
        (["export", "--user", "ann"], "give --csv FILE and/or --anki FILE"),
        (["export", "--csv", "a.csv"], "--csv needs --user U"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_argparse_message(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "the question is empty"),
        (["ask", "   "], "the question is empty"),
        (["ask", "\udcff attention?"], "the question is not valid text"),
        (["ask", "啊" * 2001], "too long (2001 characters; at most 2000)"),
        (["ask", "--batch", "/nonexistent/file.txt"], "batch file not found"),
        (["grade", "--question", "什么是 LoRA？", "--answer", "  "], "the answer is empty"),
        (["grade", "--question", "什么是 LoRA？", "--answer", "a" * 2001], "the answer is too long"),
        (["progress", "--user", "  "], "--user: the user name is empty"),
        (["progress", "--user", "bob\x07"], "--user: the user name must be at most 64 printable characters"),
    ],
)
def test_unusable_input_gives_one_line_error_and_exit_1(capsys, args, message):
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
