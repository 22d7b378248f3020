"""The hash chain: each event's hash covers its envelope, its payload and the previous hash.

hash = sha256(canonical JSON of [seq, id, idempotency key, type, actor, recorded_at,
prev_hash, payload text]). The payload is hashed as the exact text stored, so a reader
needs no JSON normalisation to check it; the first event's prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib

from critmin.ledger.state import canonical


def event_hash(
    seq: int,
    event_id: str,
    key: str,
    type_: str,
    actor: str,
    recorded_at: str,
    prev: str,
    payload: str,
) -> str:
    body = canonical([seq, event_id, key, type_, actor, recorded_at, prev, payload])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
