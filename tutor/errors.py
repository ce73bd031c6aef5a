"""The errors the tutor reports to its users (CLI, UI, API), one base class for all."""
from __future__ import annotations


class TutorError(Exception):
    """Something the user can act on; the message is shown as is, on one line."""


class InputError(TutorError, ValueError):
    """The caller's input cannot be used (empty or overlong text, unknown card...)."""


class Busy(TutorError):
    """The caller already has as many requests running as one user may have."""


class IndexNotReady(TutorError):
    """The notes are being indexed for the first time; nothing can be answered yet."""
