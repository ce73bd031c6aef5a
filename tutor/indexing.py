"""The index's life: sync the notes into the store, and serve a retriever over the last
complete index meanwhile.

- `ingest()` syncs in the caller's thread (the command line); `start()` syncs in a
  background thread (the web UI: the page opens at once, uploads return at once), at
  background priority at the model, so questions asked meanwhile are embedded first.
  Either way questions are answered from the previous retriever until the new one is
  built; a tutor whose index never completed a sync says so (IndexNotReady) instead of
  answering from half an index.
- Syncs into an embedded store also hold a lock file, so two processes on one data folder
  (the app and a command-line ingest) take turns instead of writing at once.
- The store's version token changes with every completed sync. A tutor checks it at most
  every `VERSION_CHECK_SECONDS` and rebuilds its retriever in the background when another
  process (a command-line ingest, a second server on the same data) changed the index.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .embeddings import TutorEmbeddings, background_priority
from .english_opinion import EnglishEncoder, encode_english_questions
from .errors import IndexNotReady
from .notes import Skipped, load_notes
from .retrieval import RetrievalConfig, Retriever
from .saved_index import SavedIndex
from .store import CardStore, StoreError

try:
    import fcntl
except ImportError:  # not on Windows: there, two processes must not ingest into one folder at once
    fcntl = None

VERSION_CHECK_SECONDS = 2.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    files: int
    cards: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    skipped: int
    seconds: float
    skipped_details: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped_details"] = [asdict(s) for s in self.skipped_details]
        return data


@dataclass(frozen=True)
class IndexingStatus:
    running: bool  # a sync is in progress
    ready: bool  # a complete index is being served
    done: int = 0  # chunks embedded so far by the running sync
    total: int = 0  # chunks the running sync has to embed
    seconds: float = 0.0  # since the running sync started
    error: str | None = None  # why the last sync failed, if it did
    report: IngestReport | None = None  # the last completed sync

    @property
    def eta_seconds(self) -> float | None:
        if not self.running or self.done <= 0 or self.total <= self.done:
            return None
        return self.seconds / self.done * (self.total - self.done)


class Indexer:
    def __init__(
        self,
        open_store: Callable[[], CardStore],
        embeddings: TutorEmbeddings,
        knowledge_dir: Path,
        config: RetrievalConfig,
        lock_file: Path | None = None,
        saved: SavedIndex | None = None,
        load_english: Callable[[], EnglishEncoder | None] | None = None,
    ) -> None:
        """`load_english()`: the encoder of English questions' second opinion
        (english_opinion.py), or None; asked for when the first retriever is built."""
        self._open_store = open_store
        self._load_english = load_english
        self._lock_file = lock_file
        self.saved = saved  # the last built index, saved beside the store for the next start
        self.store = open_store()
        self.embeddings = embeddings
        self.knowledge_dir = Path(knowledge_dir)
        self.config = config
        self.last_report: IngestReport | None = None
        self._sync_lock = threading.Lock()  # one sync (or store reopening) at a time
        self._build_lock = threading.Lock()  # one retriever build at a time
        self._state = threading.Lock()  # guards the fields below
        self._retriever: Retriever | None = None
        self._version: str | None = None  # the store version the retriever was built from
        self._running = False
        self._progress = (0, 0)
        self._started = 0.0
        self._error: str | None = None
        self._worker: threading.Thread | None = None
        self._again = False  # a background sync was asked for while one ran
        self._checked = 0.0
        self._refreshing = False

    # syncing ------------------------------------------------------------------------
    def ingest(
        self,
        knowledge_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Sync the notes folder into the store; the next question uses the new index
        (with `rebuild`, the new retriever is built here, before this returns)."""
        started = time.perf_counter()
        folder = Path(knowledge_dir or self.knowledge_dir)

        def progress(done: int, total: int) -> None:
            with self._state:
                self._progress = (done, total)
            if on_progress:
                on_progress(done, total)

        # One sync at a time, reading the folder inside the lock: a concurrent upload's
        # file is then either seen by this sync or synced by the next one, never deleted.
        with self._sync_lock, _exclusive(self._lock_file):
            with self._state:
                self._running, self._progress, self._started = True, (0, 0), time.monotonic()
            try:
                notes = load_notes(folder)
                counts = self.store.sync(notes.cards, on_progress=progress)
                report = IngestReport(
                    files=notes.files, cards=len(notes.cards), chunks=counts.chunks, added=counts.added,
                    updated=counts.updated, removed=counts.removed, unchanged=counts.unchanged,
                    skipped=len(notes.skipped), seconds=round(time.perf_counter() - started, 3),
                    skipped_details=notes.skipped,
                )
                self.last_report = report
                log.info("synced %s: %d cards, %d chunks (%d added, %d updated, %d removed, %d skipped) in %.1fs",
                         folder, report.cards, report.chunks, report.added, report.updated, report.removed,
                         report.skipped, report.seconds)
                version = self.store.version()  # a sync that changed nothing leaves it as it was
                with self._state:
                    serving_it = self._retriever is not None and version == self._version
                if not serving_it:  # (the retriever that serves this very index needs no second read)
                    if rebuild:
                        self._swap(*self._build())
                    else:
                        with self._state:
                            self._retriever = None
                return report
            finally:
                with self._state:
                    self._running = False

    def start(self) -> bool:
        """Sync in a background thread; if one is running, it runs once more after it.
        Returns whether a new thread was started."""
        with self._state:
            if self._worker is not None:
                self._again = True
                return False
            self._worker = threading.Thread(target=self._work, name="tutor-indexing", daemon=True)
            self._error, self._progress = None, (0, 0)
        self._worker.start()
        return True

    def _work(self) -> None:
        try:  # serve the previous index while the notes are synced
            with self._build_lock:  # (a question asked meanwhile waits for this build, not a second one)
                if self._retriever is None and self._has_complete_index(syncing=True):
                    self._swap(*self._build())
        except Exception:
            pass  # the sync below reports what is wrong
        while True:
            try:
                with background_priority():
                    self.ingest(rebuild=True)
                with self._state:
                    self._error = None  # a sync that worked ends the last one's error
            except Exception as error:  # reported in the status; serving goes on
                log.warning("indexing failed: %s", error)
                with self._state:
                    self._error = str(error) or type(error).__name__
            with self._state:
                if not self._again:
                    self._worker = None
                    return
                self._again = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no background sync is running (tests, scripts); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._state:
                worker = self._worker
            if worker is None:
                return True
            worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if deadline is not None and time.monotonic() >= deadline:
                with self._state:
                    return self._worker is None

    def status(self) -> IndexingStatus:
        with self._state:
            running = self._running or self._worker is not None
            done, total = self._progress
            seconds = time.monotonic() - self._started if running else 0.0
            built, error, report = self._retriever is not None, self._error, self.last_report
        return IndexingStatus(running=running, ready=built or self._has_complete_index(running), done=done,
                              total=total, seconds=seconds, error=error, report=report)

    def _has_complete_index(self, syncing: bool) -> bool:
        """A sync completed here once (an index from before version tokens counts when no
        sync is running: it is the previous index, not a first sync in progress)."""
        try:
            return self.store.version() is not None or (not syncing and self.store.count_chunks() > 0)
        except Exception:  # the store is unreachable or being reopened
            return False

    # serving ------------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        """The retriever over the last complete index (built on first use)."""
        self._check_version()
        current = self._retriever
        if current is not None:
            return current
        with self._build_lock:
            if self._retriever is None:
                status = self.status()
                if not status.ready:
                    raise IndexNotReady(not_ready_message(status))
                self._swap(*self._build())
            return self._retriever

    def _build(self) -> tuple[Retriever, str | None]:
        started = time.perf_counter()
        version, contents = self.store.version(), self.store.contents_key()
        index = self.saved.load(contents) if self.saved and contents else None
        source = "the saved index"
        # the index served until now (or the one saved before this sync) spares segmenting
        # and encoding again the cards that did not change
        previous = self._retriever.index if self._retriever is not None else None
        changed = index is None
        if index is None:
            source = "the store"
            if previous is None and self.saved:
                previous = self.saved.load_latest()
            index = self.store.snapshot(previous)
        read = time.perf_counter()
        encoder = self._load_english() if self._load_english is not None else None
        if encoder is None:
            index.english_vectors = None
        elif index.english_vectors is None or index.english_vectors.model_id != encoder.model_id:
            try:
                index.english_vectors = encode_english_questions(
                    index.cards, encoder, previous.cards if previous else (),
                    previous.english_vectors if previous else None)
                changed = True
            except Exception as error:  # noqa: BLE001 - a failing MiniLM costs its opinion, not the index
                log.warning("English questions go without MiniLM's second opinion: %s", error)
                encoder, index.english_vectors = None, None
        # saved only if nothing was written meanwhile: the file must hold these contents exactly
        if changed and self.saved and contents and self.store.contents_key() == contents:
            self.saved.save(contents, index)
        # through self.store, which a refresh replaces by a newly opened one
        index.nearest = lambda vector, n: self.store.nearest_chunk_ids(vector, n)
        shipped = self.store.shipped
        index.model_language_offset = None if shipped is None else shipped.language_offset
        encoded = time.perf_counter()
        retriever = Retriever(index, self.embeddings, self.config, encoder)
        log.info("retriever over %d cards ready in %.1fs (reading %s %.1fs; MiniLM for English questions: %s)",
                 len(index), time.perf_counter() - started, source, read - started,
                 f"{encoded - read:.1f}s" if encoder is not None else "none")
        return retriever, version

    def _swap(self, retriever: Retriever, version: str | None) -> None:
        with self._state:
            self._retriever, self._version = retriever, version

    def _check_version(self) -> None:
        """Rebuild in the background when another process changed the index."""
        now = time.monotonic()
        with self._state:
            if self._retriever is None or self._refreshing or now - self._checked < VERSION_CHECK_SECONDS:
                return
            self._checked = now
        if self._sync_lock.locked():
            return  # our own sync is running and rebuilds when done
        try:
            changed = self.store.version() != self._version
        except StoreError:
            return  # the store is unreachable for now: keep serving what we have
        if changed:
            with self._state:
                self._refreshing = True
            threading.Thread(target=self._refresh, name="tutor-index-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            if not self._sync_lock.acquire(blocking=False):
                return
            log.info("the index changed in another process: reloading")
            try:
                # An embedded Chroma caches what it read; another process's writes are
                # only seen through a newly opened client.
                self.store.close()
                self.store = self._open_store()
                self._swap(*self._build())
            finally:
                self._sync_lock.release()
        except Exception:  # the other process may be mid-write: try again at the next check
            pass
        finally:
            with self._state:
                self._refreshing = False


@contextmanager
def _exclusive(path: Path | None):
    """Hold `path` locked against other processes (an embedded store takes one writer)."""
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def not_ready_message(status: IndexingStatus) -> str:
    if status.error:
        return f"the notes could not be indexed: {status.error}"
    if status.total:
        return f"the notes are being indexed ({status.done}/{status.total} chunks); try again shortly"
    return "the notes are being indexed; try again shortly"
