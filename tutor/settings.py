"""Every setting the tutor reads, in one place.

Settings come from environment variables (names in `ENVIRONMENT`), with defaults that
work on a fresh clone: the shipped notes in `knowledge/`, the index under `.tutor_data/`
and the bundled offline multilingual model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TutorError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENT = {
    "TUTOR_KNOWLEDGE_DIR": "folder of Markdown notes to index",
    "TUTOR_DATA_DIR": "where the embedded Chroma index and the progress database (progress.sqlite3) live",
    "TUTOR_EMBEDDING": "embedding model: e5 (default), minilm, or st:<local path or hub name>",
    "TUTOR_CHROMA_URL": "use this Chroma server (http://host:port) instead of the embedded store",
    "TUTOR_HOST": "address the web UI listens on",
    "TUTOR_PORT": "port the web UI listens on",
    "TUTOR_AUTH": "UI logins: user:password,user2:password2 or a file of user:password lines (unset: one local user)",
    "TUTOR_CACHE_DIR": "where models prepared from installed packages are kept, once per machine "
                       "(default: $XDG_CACHE_HOME/interview-tutor or ~/.cache/interview-tutor)",
}


class SettingsError(TutorError, ValueError):
    """A setting has a value the tutor cannot use."""


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    data_dir: Path = PROJECT_ROOT / ".tutor_data"
    embedding: str = "e5"
    chroma_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = None
    # folder of the shipped notes' vectors (tutor/vectors.py; None: embed everything);
    # not a setting users change
    shipped_vectors: Path | None = PROJECT_ROOT / "knowledge" / "vectors"
    # MiniLM's 8-bit export for English questions (english_opinion.py) is kept here
    model_cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))

    @classmethod
    def from_env(cls, environ: dict | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def path(name: str, default: Path) -> Path:
            value = env.get(name, "").strip()
            return Path(value).expanduser().resolve() if value else default

        port_text = env.get("TUTOR_PORT", "").strip() or str(defaults.port)
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"TUTOR_PORT must be a number, got {port_text!r}") from None
        if not 0 < port < 65536:
            raise SettingsError(f"TUTOR_PORT must be between 1 and 65535, got {port}")
        return cls(
            knowledge_dir=path("TUTOR_KNOWLEDGE_DIR", defaults.knowledge_dir),
            data_dir=path("TUTOR_DATA_DIR", defaults.data_dir),
            embedding=env.get("TUTOR_EMBEDDING", "").strip() or defaults.embedding,
            chroma_url=env.get("TUTOR_CHROMA_URL", "").strip() or None,
            host=env.get("TUTOR_HOST", "").strip() or defaults.host,
            port=port,
            auth=env.get("TUTOR_AUTH", "").strip() or None,
            model_cache_dir=path("TUTOR_CACHE_DIR", default_cache_dir(env)),
        )


def default_cache_dir(env) -> Path:
    """$XDG_CACHE_HOME/interview-tutor (an absolute one: the XDG spec ignores a relative
    one), else ~/.cache/interview-tutor; without a home folder, .tutor_data/cache in the
    project (which git ignores)."""
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "interview-tutor"
    try:
        return Path.home() / ".cache" / "interview-tutor"
    except RuntimeError:  # no HOME and no password entry
        return PROJECT_ROOT / ".tutor_data" / "cache"
