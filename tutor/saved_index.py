"""The built `Index` saved beside the store, so a restart reads one file.

Without it every start read each chunk's vector and each card's JSON back out of Chroma and
segmented every card again with jieba for the lexical index: 191 s at 100k cards
(bench/scale.py), nearly all of it jieba. The file is keyed by the store's contents key
(new whenever a sync starts or completes changing something: `CardStore.contents_key`)
and by the code that shapes what is saved, so it is only read when it holds exactly what
a fresh build would make. Anything else (a missing, stale, foreign or damaged file) means
building from the store as before, and saving the result for next time.

One `.npz` file (no pickles): the code digest, the chunk matrix, each chunk's card, each card's language,
the lexical index's flat postings, the cards and the lexical vocabulary as UTF-8 JSON, and
MiniLM's vectors of the cards' English questions when they were computed (with the
model's id: the indexer computes them again for another model).
It is written to a temporary name and renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import jieba
import numpy as np

from . import index as index_module
from . import lexical as lexical_module
from . import notes as notes_module
from . import store as store_module
from .english_opinion import EnglishVectors
from .index import Index
from .lexical import LexicalIndex
from .store import card_from_dict

log = logging.getLogger(__name__)

FORMAT = "1"  # bump when the file's layout changes
ABANDONED_SECONDS = 3600  # a temporary file this old is no save in progress (one takes seconds)


def _code_digest() -> str:
    """What a saved index depends on besides the store: the chunking and lexical rules, the
    Card fields and how the store is read into an Index. Editing those modules makes older
    files unreadable by design."""
    digest = hashlib.sha256(f"{FORMAT}|{jieba.__version__}".encode())
    for module in (index_module, lexical_module, notes_module, store_module):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


class SavedIndex:
    """The saved index of one store collection, in `folder` (one file at a time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._code = _code_digest()

    def path(self, contents: str) -> Path:
        key = hashlib.sha256(f"{contents}|{self._code}".encode()).hexdigest()[:24]
        return self.folder / f"index-{key}.npz"

    def load(self, contents: str) -> Index | None:
        """The index saved for these store contents, or None (not saved, or unreadable)."""
        path = self.path(contents)
        return self._read(path) if path.exists() else None

    def load_latest(self) -> Index | None:
        """The index saved last, whatever store contents it was saved for (None if none,
        or if it was saved by other code): a base to rebuild from, never to serve."""
        saved = [(modified, path) for path in self.folder.glob("index-*.npz")
                 if (modified := _modified(path)) is not None]
        return self._read(max(saved)[1]) if saved else None

    def _read(self, path: Path) -> Index | None:
        try:
            with np.load(path, allow_pickle=False) as saved:
                if saved["code"].tobytes().decode("ascii") != self._code:
                    return None
                cards = [card_from_dict(item) for item in json.loads(saved["cards"].tobytes().decode("utf-8"))]
                vocabulary = json.loads(saved["vocabulary"].tobytes().decode("utf-8"))
                lexical = LexicalIndex(
                    vocabulary={term: row for row, term in enumerate(vocabulary)}, offsets=saved["offsets"],
                    posting_cards=saved["posting_cards"], posting_counts=saved["posting_counts"],
                    lengths=saved["lengths"])
                english_vectors = None
                if "english_vectors" in saved:  # files saved before MiniLM, or without it, have none
                    english_vectors = EnglishVectors(saved["english_model"].tobytes().decode("utf-8"),
                                                     saved["english_positions"], saved["english_vectors"])
                return Index(cards=cards, chunk_vectors=saved["chunk_vectors"], chunk_card=saved["chunk_card"],
                             lexical=lexical, card_is_chinese=saved["card_is_chinese"], english_vectors=english_vectors)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            log.warning("ignoring the saved index %s (%s): building it from the store", path, error)
            return None

    def save(self, contents: str, index: Index) -> None:
        """Save `index` as the one for these store contents, replacing older ones. A failure
        is logged, not raised: the saved index only makes the next start faster."""
        target = self.path(contents)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lexical = index.lexical
            english = index.english_vectors
            english_arrays = {} if english is None else {
                "english_model": np.frombuffer(english.model_id.encode("utf-8"), np.uint8),
                "english_positions": english.positions, "english_vectors": english.vectors}
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".saving-", suffix=".npz")
            try:
                with os.fdopen(handle, "wb") as file:
                    np.savez(file, **english_arrays, chunk_vectors=np.ascontiguousarray(index.chunk_vectors, np.float32),
                             chunk_card=index.chunk_card, card_is_chinese=index.card_is_chinese,
                             offsets=lexical.offsets, posting_cards=lexical.posting_cards,
                             posting_counts=lexical.posting_counts, lengths=lexical.lengths,
                             cards=_utf8([asdict(card) for card in index.cards]), vocabulary=_utf8(lexical.words()),
                             code=np.frombuffer(self._code.encode("ascii"), np.uint8))
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            for old in self.folder.glob("index-*.npz"):
                if old != target:
                    old.unlink(missing_ok=True)
            for abandoned in self.folder.glob(".saving-*"):  # left by a process killed while saving
                modified = _modified(abandoned)
                if modified is not None and time.time() - modified > ABANDONED_SECONDS:
                    abandoned.unlink(missing_ok=True)
        except OSError as error:
            log.warning("could not save the index to %s: %s", target, error)


def _utf8(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), np.uint8)


def _modified(path: Path) -> float | None:
    """When the file was last written; None if another process's save removed it meanwhile."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None
