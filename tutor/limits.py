"""What one user may send and how much of the server one user may hold.

- `check_text`: every question and answer that enters the tutor (UI, API, CLI) passes one
  check with one limit and one message: text only, no lone surrogates (which cannot be
  encoded, printed or embedded), not empty, at most `MAX_TEXT_CHARS`.
- `RequestLimiter`: at most `per_user` requests of one user run at once; more are refused
  at once (not queued), so one user's burst never holds the workers others need.
- `LoginThrottle`: after a few failed logins for a user name or from an address, further
  attempts wait a delay that doubles with every failure (capped), so a password cannot
  be guessed at machine speed, one after another or in parallel.
"""
from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import Busy, InputError

# One limit for questions and answers. The embedding model reads 512 tokens of a text
# (about 500 Chinese characters); longer answers are graded sentence by sentence, so the
# limit bounds the work of one request rather than what the model sees.
MAX_TEXT_CHARS = 2000


def check_text(value: object, what: str = "the text", limit: int = MAX_TEXT_CHARS) -> str:
    """The stripped text, or InputError saying what is wrong with it."""
    if value is None:
        raise InputError(f"{what} is missing")
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, not {type(value).__name__}")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InputError(f"{what} is not valid text (invalid UTF-8 or a lone surrogate)")
    # control characters other than line breaks and tabs carry no meaning in a question
    text = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    if not text:
        raise InputError(f"{what} is empty")
    if len(text) > limit:
        raise InputError(f"{what} is too long ({len(text)} characters; at most {limit})")
    return text


def printable(text: str) -> str:
    """`text` with anything that cannot be encoded as UTF-8 replaced, for echoing input back."""
    return text.encode("utf-8", "replace").decode("utf-8")


class RequestLimiter:
    """At most `per_user` requests in flight per key (a user name, or a browser session)."""

    def __init__(self, per_user: int = 2) -> None:
        self.per_user = per_user
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key: str):
        with self._lock:
            if self._running.get(key, 0) >= self.per_user:
                raise Busy(f"you already have {self.per_user} requests running; "
                           "wait for them to finish, then try again")
            self._running[key] = self._running.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Exponential back-off per key after `free_attempts` failures within `window` seconds.

    An attempt is counted as a failure when it is admitted, before the password is looked
    at, and forgiven if it succeeds: guesses sent in parallel count like guesses sent one
    after another.
    """

    def __init__(self, free_attempts: int = 5, first_delay: float = 1.0, max_delay: float = 300.0,
                 window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_attempts, self.first_delay, self.max_delay, self.window = free_attempts, first_delay, max_delay, window
        self.clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds before an attempt with these keys is looked at (0 = now)."""
        now = self.clock()
        with self._lock:
            return max([self._failures[k].locked_until - now for k in keys if k in self._failures] + [0.0])

    def admit(self, *keys: str) -> float:
        """0 and the attempt counted as failed (until `succeeded`), or the seconds to wait."""
        now = self.clock()
        with self._lock:
            waiting = max([self._failures[k].locked_until - now for k in keys if k in self._failures] + [0.0])
            if waiting > 0:
                return waiting
            for key in keys:
                self._count(key, now)
            if len(self._failures) > 10_000:  # idle keys go: memory stays bounded
                for key in [k for k, f in self._failures.items() if now - f.last > self.window + self.max_delay]:
                    del self._failures[key]
            return 0.0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._count(key, now)

    def _count(self, key: str, now: float) -> None:
        entry = self._failures.setdefault(key, _Failures())
        if now - entry.last > self.window:  # old failures are forgotten
            entry.count = 0
        entry.count += 1
        entry.last = now
        over = entry.count - self.free_attempts
        if over >= 0:
            entry.locked_until = now + min(self.max_delay, self.first_delay * 2 ** min(over, 30))

    def succeeded(self, key: str) -> None:
        """A login with this key (a user name) worked: it starts afresh."""
        with self._lock:
            self._failures.pop(key, None)

    def forgive(self, key: str) -> None:
        """Give back the one attempt counted on admission (a successful login from an
        address): the address's other failures stay, so one account cannot wipe them."""
        with self._lock:
            entry = self._failures.get(key)
            if entry is not None:
                entry.count = max(0, entry.count - 1)
                if entry.count < self.free_attempts:
                    entry.locked_until = 0.0
