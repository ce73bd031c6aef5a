"""Files the tutor writes for its users: uploaded notes (checked, then stored in the notes
folder under `uploads/<user>/<name>.md`; the caller indexes them) and exports, always
replaced atomically."""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputError
from .index import card_texts
from .notes import UnreadableNote, parse_markdown, read_note

MAX_UPLOAD_BYTES = 1024 * 1024
# ~3 chunks a card at ~10 chunks/s: an upload at either limit indexes in about five minutes
MAX_CARDS_PER_UPLOAD = 1000
MAX_CHUNKS_PER_UPLOAD = 3000
UPLOAD_FOLDER = "uploads"


def save_upload(knowledge_dir: Path, file_name: str, source: Path, user: str) -> Path:
    """Check an uploaded Markdown file and copy it into the notes folder.

    Rejected (InputError, nothing written): not .md, over 1 MiB, binary, not UTF-8, no
    heading with answer text under it, or more than MAX_CARDS_PER_UPLOAD cards. The same
    user uploading the same name again replaces the file; nobody replaces another's.
    """
    name = Path(str(file_name or "")).name
    if Path(name).suffix.lower() not in (".md", ".markdown"):
        raise InputError(f"{name or 'file'}: only Markdown (.md) notes can be added")
    size = Path(source).stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"{name}: too large ({size // 1024} KiB; at most {MAX_UPLOAD_BYTES // 1024} KiB)")
    try:
        text = read_note(Path(source))
    except UnreadableNote as problem:
        raise InputError(f"{name}: {problem}") from None
    cards, _ = parse_markdown(text, name)
    if not cards:
        raise InputError(f"{name}: no question headings with answer text found")
    if len(cards) > MAX_CARDS_PER_UPLOAD:
        raise InputError(f"{name}: {len(cards)} cards; one upload may add at most {MAX_CARDS_PER_UPLOAD} "
                         "(split the file)")
    chunks = sum(len(card_texts(card)) for card in cards)
    if chunks > MAX_CHUNKS_PER_UPLOAD:
        raise InputError(f"{name}: {chunks} pieces of text to index; one upload may add at most "
                         f"{MAX_CHUNKS_PER_UPLOAD} (split the file, or shorten its longest answers)")
    folder = Path(knowledge_dir) / UPLOAD_FOLDER / file_stem(user)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{file_stem(Path(name).stem)}{Path(name).suffix.lower()}"  # x.md and x.markdown: two
    return replace_atomically(target, lambda path: path.write_text(text, encoding="utf-8"))


def file_stem(name: str) -> str:
    """A file or folder name that keeps different names apart ("a b" and "a_b" stay two
    files): letters, digits, `_`, `-` and inner dots as they are, everything else as %XX;
    never hidden, never a path; very long names end in a hash of the whole name."""
    encoded = "".join(
        ch if (ch.isalnum() or ch in "_-" or (ch == "." and i > 0)) else "".join(f"%{b:02X}" for b in ch.encode())
        for i, ch in enumerate(name)
    ) or "notes"
    if len(encoded) > 120:
        encoded = encoded[:100] + "-" + hashlib.sha1(name.encode("utf-8", "replace")).hexdigest()[:12]
    return encoded


def replace_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """`write(temporary path)` next to `target`, then rename: a reader never sees half a file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
