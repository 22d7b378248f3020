"""The tokens this process has verified, remembered by their SHA-256 (never the token itself).

A token's row maps its hash to one user, role and country for as long as it is valid: a new
token for the same name replaces the hash (``users.add_user``) and a revocation replaces it
with an unguessable one (``users.revoke_user``), so a remembered entry can become *dead*, but
never *different*. That is why a remembered user may be used only where the token is checked
again against the database before anything is written: the API's direct write path hands the
hash to ``Ledger.submit_later``, and the append transaction refuses the command (401) if the
hash no longer names a live token of that actor (``Ledger._live_tokens``), then forgets it
here. Every other use looks the token up in the database as before.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from critmin.ledger.users import User

#: The most tokens remembered; past it the oldest is forgotten (a miss costs one look-up).
LIMIT = 1024


class Tokens:
    """Token hash → the user it authenticated (thread-safe; bounded to ``limit`` entries)."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._known: dict[str, User] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> User | None:
        return self._known.get(digest)

    def remember(self, digest: str, user: User) -> None:
        with self._lock:
            self._known.pop(digest, None)
            while len(self._known) >= self.limit:
                del self._known[next(iter(self._known))]
            self._known[digest] = user

    def forget(self, digest: str) -> None:
        with self._lock:
            self._known.pop(digest, None)

    def __len__(self) -> int:
        return len(self._known)
