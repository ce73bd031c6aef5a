"""Cards -> chunks -> vectors in Chroma, kept in step with the notes.

One collection per embedding model (its name carries a hash of the model id), so switching
`TUTOR_EMBEDDING` never mixes vectors of different models or dimensions. Every chunk
carries its card's content hash and chunk count, which makes ingest incremental and
self-repairing: unchanged cards are skipped, edited cards are re-embedded, deleted cards
are removed, and a card left half-written by a killed ingest is simply found incomplete
and written again next time (ids are deterministic, so nothing is duplicated).
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

import numpy as np

from .embeddings import TutorEmbeddings
from .errors import TutorError
from .index import Index, card_texts
from .notes import Card
from .vectors import ShippedVectors

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Bump when chunk texts change shape, so every card is re-embedded once.
CHUNKING_VERSION = "2"
WRITE_BATCH_CHUNKS = 32
READ_PAGE = 1000
VERSION_KEY = "index_version"
WRITING_KEY = "index_writing"  # a token written before a sync changes chunks ...
FINISHED_KEY = "index_finished"  # ... and copied here when it completes (CardStore.contents_key)


class StoreError(TutorError, RuntimeError):
    """The vector store cannot be opened or does not match the model."""


@dataclass(frozen=True)
class SyncCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0


def card_hash(texts: list[str]) -> str:
    digest = hashlib.sha256(CHUNKING_VERSION.encode())
    for text in texts:
        digest.update(b"\x1e" + text.encode())
    return digest.hexdigest()[:20]


def card_json(card: Card) -> str:
    return json.dumps(asdict(card), ensure_ascii=False)


def card_from_json(text: str) -> Card:
    return card_from_dict(json.loads(text))


def card_from_dict(data: dict) -> Card:
    """The inverse of `asdict(card)` (JSON turns its tuples into lists)."""
    for name in ("key_points", "path", "tags"):
        data[name] = tuple(data.get(name) or ())
    return Card(**data)


def collection_name(model_id: str) -> str:
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in model_id.lower()).strip("-")[:40]
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:10]
    return f"cards-{slug}-{digest}"


def open_chroma(data_dir, chroma_url: str | None = None):
    """An embedded persistent client under `data_dir`, or an HTTP client for `chroma_url`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"TUTOR_CHROMA_URL must look like http://host:port, got {chroma_url!r}")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
            client.heartbeat()
        except Exception as error:
            raise StoreError(f"cannot reach the Chroma server at {chroma_url}: {error}") from error
        return client
    path = os.fspath(data_dir)
    os.makedirs(path, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=os.path.join(path, "chroma"), settings=chroma_settings)
    except Exception as error:
        raise StoreError(f"cannot open the index under {path}: {error}") from error


class CardStore:
    """The Chroma collection of one embedding model.

    The collection's metadata carries an `index_version`, a fresh token written after every
    sync that completed and changed something: a tutor in another process (or on another
    machine sharing a Chroma server) compares it with the version it serves to notice the
    index changed, and a collection without one was never completely indexed.
    """

    def __init__(self, client, embeddings: TutorEmbeddings, shipped: ShippedVectors | None = None) -> None:
        self.client = client
        self.embeddings = embeddings
        self.shipped = shipped  # vectors of the shipped notes' chunks: not embedded again
        name = collection_name(embeddings.model_id)
        try:
            self.collection = client.get_or_create_collection(
                name=name,
                metadata={"embedding_model": embeddings.model_id, "dimension": embeddings.dimension},
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception as error:  # chromadb raises several kinds here
            raise StoreError(f"cannot open collection {name}: {error}") from error
        stored_model = (self.collection.metadata or {}).get("embedding_model")
        if stored_model != embeddings.model_id:
            raise StoreError(
                f"collection {name} holds vectors of {stored_model!r}, not {embeddings.model_id!r}"
            )

    def close(self) -> None:
        """Release the client (the last client of an embedded store stops its cache)."""
        close = getattr(self.client, "close", None)
        if close:
            close()

    def count_chunks(self) -> int:
        return self.collection.count()

    def version(self) -> str | None:
        """The version written by the last completed sync (read afresh: cheap, one small
        metadata row); None if no sync has completed."""
        return self._metadata_now().get(VERSION_KEY)

    def contents_key(self) -> str | None:
        """What a copy of the index saved elsewhere is keyed by: it changes whenever the
        stored chunks may have changed. None while they may be changing (a sync is writing,
        or one was killed before it completed; the next sync that completes ends that) and
        if no sync has completed."""
        metadata = self._metadata_now()
        version, writing = metadata.get(VERSION_KEY), metadata.get(WRITING_KEY)
        if version is None or writing != metadata.get(FINISHED_KEY):
            return None
        return f"{version}.{writing}"

    def _metadata_now(self) -> dict:
        try:
            return self.client.get_collection(self.collection.name).metadata or {}
        except Exception as error:  # chromadb raises several kinds here
            raise StoreError(f"cannot read the index version of {self.collection.name}: {error}") from error

    def begin_writing(self) -> None:
        """Called before a sync changes any chunk (see `contents_key`)."""
        metadata = dict(self._metadata_now())
        metadata[WRITING_KEY] = uuid.uuid4().hex
        self.collection.modify(metadata=metadata)

    def _mark_synced(self) -> None:
        """A sync completed: a new version, and whatever writing began is finished."""
        metadata = dict(self._metadata_now())
        metadata[VERSION_KEY] = uuid.uuid4().hex
        if WRITING_KEY in metadata:
            metadata[FINISHED_KEY] = metadata[WRITING_KEY]
        self.collection.modify(metadata=metadata)

    def _existing(self) -> dict[str, dict]:
        existing: dict[str, dict] = {}
        for ids, metadatas, _ in self._pages(include=["metadatas"]):
            for stored_id, metadata in zip(ids, metadatas):
                existing[stored_id] = metadata or {}
        return existing

    def _pages(self, include: list[str]):
        offset = 0
        while True:
            page = self.collection.get(include=include, limit=READ_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            embeddings = page.get("embeddings")
            yield ids, page.get("metadatas") or [{}] * len(ids), embeddings
            if len(ids) < READ_PAGE:
                return
            offset += READ_PAGE

    def sync(
        self,
        cards: Iterable[Card],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> SyncCounts:
        """Make the collection hold exactly `cards`; embed only what changed.

        `on_progress(done_chunks, total_chunks)` is called after each written batch.
        """
        existing = self._existing()
        plan = _plan(cards, existing)
        stale = [chunk for chunk in existing if chunk not in plan.wanted]
        if plan.to_write or stale or plan.moved:
            self.begin_writing()
        wanted_cards = {chunk.rsplit("::", 1)[0] for chunk in plan.wanted}
        removed = len({existing[c].get("card_id") for c in stale} - wanted_cards)
        for start in range(0, len(stale), READ_PAGE):
            self.collection.delete(ids=stale[start : start + READ_PAGE])
        if plan.moved:
            self.collection.update(ids=[card_id_chunk for card_id_chunk, _ in plan.moved],
                                   metadatas=[self._metadata(card, digest, 0, count) for _, (card, digest, count)
                                              in plan.moved])
        self._write_all(plan.to_write, on_progress)
        if plan.to_write or stale or plan.moved or self.contents_key() is None:  # (never synced, or unfinished)
            self._mark_synced()
        return SyncCounts(added=plan.added, updated=plan.updated, removed=removed, unchanged=plan.unchanged,
                          chunks=len(plan.wanted))

    def _write_all(self, to_write: list[tuple[Card, list[str], str]],
                   on_progress: Callable[[int, int], None] | None) -> None:
        """Embed and store in batches of whole cards, reporting chunks done / to do."""
        pending = sum(len(texts) for _, texts, _ in to_write)
        report = on_progress or (lambda done, total: None)
        report(0, pending)
        done, batch = 0, []
        for item in to_write:
            batch.append(item)
            if sum(len(texts) for _, texts, _ in batch) >= WRITE_BATCH_CHUNKS or item is to_write[-1]:
                done += self._write(batch)
                batch = []
                report(done, pending)

    def _metadata(self, card: Card, digest: str, index: int, count: int) -> dict:
        metadata = {"card_id": card.id, "card_hash": digest, "chunk": index, "chunks": count}
        if index == 0:  # the card itself rides on its first chunk only
            metadata["card"] = card_json(card)
        return metadata

    def _write(self, batch: list[tuple[Card, list[str], str]]) -> int:
        """Embed and upsert whole cards; a card's chunks go in one call."""
        texts = [text for _, card_chunks, _ in batch for text in card_chunks]
        vectors = (self.embeddings.passages(texts) if self.shipped is None
                   else self.shipped.vectors_for(texts, self.embeddings.passages))
        ids, metadatas = [], []
        for card, card_chunks, digest in batch:
            for index in range(len(card_chunks)):
                ids.append(chunk_id(card.id, index))
                metadatas.append(self._metadata(card, digest, index, len(card_chunks)))
        # No documents: nothing reads a chunk's text back (the card rides on its first chunk's
        # metadata), and Chroma indexes every document's text for full-text search, which
        # made writing ~1.7x slower (423 -> 703 chunks/s, bench/scale.py's store sync)
        self.collection.upsert(ids=ids, embeddings=vectors, metadatas=metadatas)
        return len(ids)

    def nearest_chunk_ids(self, vector: np.ndarray, n: int) -> list[str]:
        """The ids of the `n` chunks nearest `vector` by Chroma's own (HNSW) index."""
        found = self.collection.query(query_embeddings=[np.asarray(vector, np.float32).tolist()], n_results=n,
                                      include=[])
        return found["ids"][0]

    def snapshot(self, previous: Index | None = None) -> Index:
        """Read all cards and chunk vectors (complete cards only) into an Index (reusing
        what it can of `previous`, see Index.build)."""
        by_card: dict[str, dict[int, np.ndarray]] = {}
        metadata_by_card: dict[str, dict] = {}
        for _, metadatas, embeddings in self._pages(include=["metadatas", "embeddings"]):
            for metadata, vector in zip(metadatas, embeddings):
                card_id = metadata.get("card_id")
                if card_id is None:
                    continue
                chunk = int(metadata.get("chunk", 0))
                by_card.setdefault(card_id, {})[chunk] = np.asarray(vector, np.float32)
                if chunk == 0:
                    metadata_by_card[card_id] = metadata
        cards: list[Card] = []
        vectors: list[np.ndarray] = []
        owners: list[int] = []
        for card_id in sorted(by_card):
            metadata = metadata_by_card.get(card_id)
            chunks = by_card[card_id]
            if metadata is None or len(chunks) != metadata.get("chunks"):
                continue  # half-written by an interrupted ingest; the next ingest repairs it
            cards.append(card_from_json(metadata["card"]))
            for index in sorted(chunks):
                vectors.append(chunks[index])
                owners.append(len(cards) - 1)
        dimension = self.embeddings.dimension
        matrix = np.vstack(vectors) if vectors else np.zeros((0, dimension), np.float32)
        return Index.build(cards, matrix, np.asarray(owners, np.int64), previous)


@dataclass
class _Plan:
    """What a sync has to do, decided from the cards and what the collection holds."""

    wanted: set[str] = field(default_factory=set)  # every chunk id the notes need
    to_write: list[tuple[Card, list[str], str]] = field(default_factory=list)  # (card, texts, hash) to embed
    moved: list[tuple[str, tuple[Card, str, int]]] = field(default_factory=list)  # same text, new place or tags
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _plan(cards: Iterable[Card], existing: dict[str, dict]) -> _Plan:
    plan = _Plan()
    stored_cards = {metadata.get("card_id") for metadata in existing.values()}
    for card in cards:
        texts = card_texts(card)
        digest = card_hash(texts)
        ids = [chunk_id(card.id, i) for i in range(len(texts))]
        plan.wanted.update(ids)
        stored = [existing.get(i) for i in ids]
        if all(m is not None and m.get("card_hash") == digest and m.get("chunks") == len(ids) for m in stored):
            plan.unchanged += 1
            if stored[0].get("card") != card_json(card):
                plan.moved.append((ids[0], (card, digest, len(ids))))
        else:
            plan.updated += card.id in stored_cards
            plan.added += card.id not in stored_cards
            plan.to_write.append((card, texts, digest))
    return plan


def chunk_id(card_id: str, index: int) -> str:
    return f"{card_id}::{index}"
