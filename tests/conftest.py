"""Shared fixtures: the real model, real Chroma (embedded and a real server), small notes.

The suite has three tiers, one folder each, marked by folder (`pytest -m unit` ...):
- unit: no model, seconds (a deterministic hash embedder where vectors are needed);
- integration: the real e5 model, real Chroma (embedded and a server), the CLI;
- e2e: the app in a real browser.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
SEED = KNOWLEDGE / "llm_interview_notes.md"
HOSTILE_NOTES = ROOT / "tests" / "data" / "hostile_notes.md"  # the payload suite
# A small but varied slice of the shipped notes: the seed plus three team files.
SMALL_SLICE = ("llm_interview_notes.md", "attention.md", "normalization.md", "inference.md")

from tutor.embeddings import load_embeddings  # noqa: E402
from tutor.service import Tutor  # noqa: E402
from tutor.settings import Settings  # noqa: E402
from tutor.store import open_chroma  # noqa: E402

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def e5():
    return load_embeddings("e5")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """URL of a real Chroma server: the one CI started (TUTOR_TEST_CHROMA_URL), or our own."""
    given = os.environ.get("TUTOR_TEST_CHROMA_URL")
    if given:
        yield given
        return
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = open(data / "server.log", "wb")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"chroma run exited: {(data / 'server.log').read_text()}") from None
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("chroma run did not start within 60s")
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(params=["embedded", "server"])
def store_kind(request):
    return request.param


def make_tutor(knowledge: Path, data: Path, embeddings, chroma_url: str | None = None) -> Tutor:
    # the environment's own settings aside, but its cache: MiniLM is exported once per machine
    settings = replace(Settings.from_env({}), knowledge_dir=knowledge, data_dir=data, chroma_url=chroma_url,
                       model_cache_dir=Settings.from_env().model_cache_dir)
    return Tutor(settings, embeddings=embeddings)


@pytest.fixture
def tutor_for(tmp_path, e5, store_kind, request):
    """Build a Tutor over a notes folder, on the embedded store or on the server."""
    url = request.getfixturevalue("chroma_server") if store_kind == "server" else None
    created = []

    def build(knowledge: Path, embeddings=None) -> Tutor:
        tutor = make_tutor(knowledge, tmp_path / "data", embeddings or e5, url)
        created.append(tutor)
        return tutor

    yield build
    if url:  # the server outlives the test: drop what this test wrote
        client = open_chroma(None, url)
        for name in {tutor.store.collection.name for tutor in created}:
            client.delete_collection(name)


@pytest.fixture
def notes_dir(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def slice_tutor(tmp_path_factory, e5):
    """A Tutor over the seed and three team files, ingested once for the session."""
    knowledge = tmp_path_factory.mktemp("slice")
    for name in SMALL_SLICE:
        shutil.copy(KNOWLEDGE / name, knowledge / name)
    tutor = make_tutor(knowledge, tmp_path_factory.mktemp("slice-data"), e5)
    tutor.ingest()
    return tutor


@pytest.fixture(scope="session")
def learner_notes_tutor(tmp_path_factory, e5):
    """A Tutor over two notes files in a learner's style (bench/data/prose_notes): mostly
    Chinese prose, no English renderings, nothing else beside them."""
    knowledge = tmp_path_factory.mktemp("learner-notes")
    for name in ("attention_pe.md", "norm_ffn_tokenizer.md"):
        shutil.copy(ROOT / "bench" / "data" / "prose_notes" / name, knowledge / name)
    tutor = make_tutor(knowledge, tmp_path_factory.mktemp("learner-data"), e5)
    tutor.ingest()
    return tutor


@pytest.fixture(scope="session")
def full_index(tmp_path_factory):
    """TUTOR_DATA_DIR holding an index of the whole shipped knowledge/, built by the CLI."""
    data = tmp_path_factory.mktemp("full-data")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_KNOWLEDGE_DIR": str(KNOWLEDGE)}
    env.pop("TUTOR_CHROMA_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "ingest", "--json"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return data, result.stdout
