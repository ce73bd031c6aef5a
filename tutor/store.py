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
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable
from urllib.parse import urlparse

import numpy as np
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from .embeddings import TutorEmbeddings
from .notes import Card

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Bump when chunk texts change shape, so every card is re-embedded once.
CHUNKING_VERSION = "2"
CHUNK_CHARS = 360
CHUNK_OVERLAP = 60
WRITE_BATCH_CHUNKS = 32
READ_PAGE = 1000
VERSION_KEY = "index_version"

_splitter = RecursiveCharacterTextSplitter(
    chunk_size=CHUNK_CHARS,
    chunk_overlap=CHUNK_OVERLAP,
    separators=["\n\n", "\n", "。", "；", "! ", "? ", ". ", "，", ", ", " ", ""],
    keep_separator="end",
)


class StoreError(RuntimeError):
    """The vector store cannot be opened or does not match the model."""


@dataclass(frozen=True)
class SyncCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0


@dataclass
class IndexSnapshot:
    """Everything retrieval needs, read once from the store."""

    cards: list[Card] = field(default_factory=list)
    chunk_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    chunk_card: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def card_documents(card: Card) -> list[Document]:
    """The texts embedded for a card: its question with the topic path, then answer pieces.

    The question chunk lets a paraphrased question meet the note's own question; answer
    chunks carry the question too, so a piece of a long answer keeps its context.
    """
    topic = " > ".join(card.path)
    first = f"{card.question}\n{topic}" if topic else card.question
    pieces = _splitter.split_text(card.answer) or [card.answer]
    texts = [first] + [f"{card.question}\n{piece.strip()}" for piece in pieces]
    return [Document(page_content=text, metadata={"card_id": card.id, "chunk": i}) for i, text in enumerate(texts)]


def card_hash(documents: list[Document]) -> str:
    digest = hashlib.sha256(CHUNKING_VERSION.encode())
    for document in documents:
        digest.update(b"\x1e" + document.page_content.encode())
    return digest.hexdigest()[:20]


def card_to_metadata(card: Card) -> dict:
    data = asdict(card)
    return {"card": json.dumps(data, ensure_ascii=False)}


def card_from_metadata(metadata: dict) -> Card:
    data = json.loads(metadata["card"])
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

    def __init__(self, client, embeddings: TutorEmbeddings) -> None:
        self.client = client
        self.embeddings = embeddings
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
        try:
            metadata = self.client.get_collection(self.collection.name).metadata or {}
        except Exception as error:  # chromadb raises several kinds here
            raise StoreError(f"cannot read the index version of {self.collection.name}: {error}") from error
        return metadata.get(VERSION_KEY)

    def _mark_synced(self) -> None:
        metadata = dict(self.client.get_collection(self.collection.name).metadata or {})
        metadata[VERSION_KEY] = uuid.uuid4().hex
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
        existing_cards: dict[str, list[str]] = {}
        for stored_id, metadata in existing.items():
            existing_cards.setdefault(metadata.get("card_id", ""), []).append(stored_id)

        to_write: list[tuple[Card, list[Document], str]] = []
        metadata_only: list[tuple[str, dict]] = []
        wanted_ids: set[str] = set()
        added = updated = unchanged = total_chunks = 0
        for card in cards:
            documents = card_documents(card)
            digest = card_hash(documents)
            ids = [chunk_id(card.id, i) for i in range(len(documents))]
            wanted_ids.update(ids)
            total_chunks += len(ids)
            stored = [existing.get(i) for i in ids]
            complete = all(m is not None and m.get("card_hash") == digest and m.get("chunks") == len(ids) for m in stored)
            if complete:
                unchanged += 1
                fresh = card_to_metadata(card)["card"]
                if any(m.get("card") != fresh for m in stored):  # moved or retagged, same text
                    metadata_only.extend((i, self._metadata(card, digest, n, len(ids))) for n, i in enumerate(ids))
            else:
                if card.id in existing_cards:
                    updated += 1
                else:
                    added += 1
                to_write.append((card, documents, digest))

        stale = [chunk for chunk in existing if chunk not in wanted_ids]
        wanted_cards = {chunk.rsplit("::", 1)[0] for chunk in wanted_ids}
        removed = len({existing[c].get("card_id") for c in stale} - wanted_cards)
        if stale:
            for start in range(0, len(stale), READ_PAGE):
                self.collection.delete(ids=stale[start : start + READ_PAGE])
        if metadata_only:
            self.collection.update(ids=[i for i, _ in metadata_only], metadatas=[m for _, m in metadata_only])

        pending = sum(len(documents) for _, documents, _ in to_write)
        done = 0
        if on_progress:
            on_progress(0, pending)
        batch: list[tuple[Card, list[Document], str]] = []
        batch_size = 0
        for item in to_write:
            batch.append(item)
            batch_size += len(item[1])
            if batch_size >= WRITE_BATCH_CHUNKS:
                done += self._write(batch)
                batch, batch_size = [], 0
                if on_progress:
                    on_progress(done, pending)
        if batch:
            done += self._write(batch)
            if on_progress:
                on_progress(done, pending)
        if to_write or stale or metadata_only or self.version() is None:
            self._mark_synced()
        return SyncCounts(added=added, updated=updated, removed=removed, unchanged=unchanged, chunks=total_chunks)

    def _metadata(self, card: Card, digest: str, index: int, count: int) -> dict:
        return {"card_id": card.id, "card_hash": digest, "chunk": index, "chunks": count, **card_to_metadata(card)}

    def _write(self, batch: list[tuple[Card, list[Document], str]]) -> int:
        """Embed and upsert whole cards; a card's chunks go in one call."""
        texts = [d.page_content for _, documents, _ in batch for d in documents]
        vectors = self.embeddings.passages(texts)
        ids, metadatas = [], []
        for card, documents, digest in batch:
            for index in range(len(documents)):
                ids.append(chunk_id(card.id, index))
                metadatas.append(self._metadata(card, digest, index, len(documents)))
        self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)
        return len(ids)

    def snapshot(self) -> IndexSnapshot:
        """Read all cards and chunk vectors (complete cards only) for retrieval."""
        by_card: dict[str, dict[int, np.ndarray]] = {}
        metadata_by_card: dict[str, dict] = {}
        for ids, metadatas, embeddings in self._pages(include=["metadatas", "embeddings"]):
            for chunk, metadata, vector in zip(ids, metadatas, embeddings):
                card_id = metadata.get("card_id")
                if card_id is None:
                    continue
                by_card.setdefault(card_id, {})[int(metadata.get("chunk", 0))] = np.asarray(vector, np.float32)
                metadata_by_card[card_id] = metadata
        cards: list[Card] = []
        vectors: list[np.ndarray] = []
        owners: list[int] = []
        for card_id in sorted(by_card):
            metadata = metadata_by_card[card_id]
            chunks = by_card[card_id]
            if len(chunks) != metadata.get("chunks"):
                continue  # half-written by an interrupted ingest; the next ingest repairs it
            cards.append(card_from_metadata(metadata))
            for index in sorted(chunks):
                vectors.append(chunks[index])
                owners.append(len(cards) - 1)
        dimension = self.embeddings.dimension
        matrix = np.vstack(vectors) if vectors else np.zeros((0, dimension), np.float32)
        return IndexSnapshot(cards=cards, chunk_vectors=matrix, chunk_card=np.asarray(owners, np.int64))


def chunk_id(card_id: str, index: int) -> str:
    return f"{card_id}::{index}"
