"""An offline chat tutor for LLM / deep-learning interviews: answers and grades from notes.

The main objects, importable from here (loaded on first use, so `tutor --help` stays fast):
`Tutor`, `Learner`, `Settings`, `Card`, `Grade`, `Hit`, `NotesRetriever`.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Tutor": "service", "Learner": "service", "Settings": "settings", "Card": "notes", "Grade": "grading",
    "Hit": "retrieval", "NotesRetriever": "chain",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tutor' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
