"""Accounts from TUTOR_AUTH: `user:password,user2:password2`, or the path of a file with
one `user:password` per line (blank lines and lines starting with # are ignored).

A password may contain ':' (only the first one separates); user names may not. Without
TUTOR_AUTH there is one local user and no login.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from .errors import TutorError
from .progress import check_user


class AuthError(TutorError, ValueError):
    """TUTOR_AUTH cannot be read as accounts."""


@dataclass(frozen=True)
class Accounts:
    passwords: dict[str, str]

    @classmethod
    def parse(cls, value: str) -> Accounts:
        value = value.strip()
        path = Path(value).expanduser()
        if ":" not in value or path.is_file():
            if not path.is_file():
                raise AuthError(f"TUTOR_AUTH: {value!r} is neither user:password pairs nor an existing file")
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                raise AuthError(f"TUTOR_AUTH: cannot read {path}: {error}") from None
            entries = [(f"{path}:{n}", line.strip()) for n, line in enumerate(text.splitlines(), 1)
                       if line.strip() and not line.lstrip().startswith("#")]
        else:
            entries = [(f"entry {n}", item.strip()) for n, item in enumerate(value.split(","), 1) if item.strip()]
        passwords: dict[str, str] = {}
        for where, entry in entries:
            user, sep, password = entry.partition(":")
            if not sep or not password:
                raise AuthError(f"TUTOR_AUTH {where}: expected user:password")
            try:
                user = check_user(user)
            except ValueError as error:
                raise AuthError(f"TUTOR_AUTH {where}: {error}") from None
            if user in passwords:
                raise AuthError(f"TUTOR_AUTH {where}: user {user!r} is listed twice")
            passwords[user] = password
        if not passwords:
            raise AuthError("TUTOR_AUTH names no accounts")
        return cls(passwords)

    def check(self, user: str, password: str) -> bool:
        expected = self.passwords.get((user or "").strip())
        # compare in constant time, and spend the same time for unknown users
        return hmac.compare_digest((expected or "\0").encode(), (password or "").encode()) and expected is not None
