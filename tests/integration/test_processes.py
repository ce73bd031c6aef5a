"""Two processes on one data folder: the serving tutor notices the other's ingest."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ..conftest import ROOT, make_tutor
from ..unit.test_indexing import EXTRA, NOTE


def test_another_process_changing_the_index_is_noticed(tmp_path, e5):
    """A command-line ingest into the same data folder: the serving tutor sees the new card
    after its next version check, without a restart (embedded Chroma caches what it read)."""
    notes, data = tmp_path / "notes", tmp_path / "data"
    notes.mkdir()
    (notes / "a.md").write_text(NOTE, encoding="utf-8")
    serving = make_tutor(notes, data, e5)
    serving.ingest()
    assert all(hit.card.question != "什么是 top-p 采样？" for hit in serving.ask("top-p 采样是怎么做的？").hits)
    (notes / "b.md").write_text(EXTRA, encoding="utf-8")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_KNOWLEDGE_DIR": str(notes)}
    env.pop("TUTOR_CHROMA_URL", None)
    result = subprocess.run([sys.executable, "-m", "tutor", "ingest", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(c.question == "什么是 top-p 采样？" for c in serving.retriever.cards):
            break
        time.sleep(0.5)
    else:
        pytest.fail("the serving tutor never saw the other process's new card")
    assert serving.ask("top-p 采样是怎么做的？").hits[0].card.question == "什么是 top-p 采样？"
