"""Anchoring: the board signs the head of the chain (Ed25519) so that a chain whose events were
edited and every hash recomputed no longer matches what was published.

``ledger checkpoint`` appends a ``checkpoint`` event (public) and writes an anchor file: the
signed head plus every event hash up to it. ``ledger verify --anchor FILE|URL`` checks the
signature, then compares the database's hashes with the anchor's and names the first event
that no longer matches. Keep the anchor (or its URL's copy) outside the database: an attacker
who can rewrite the database cannot re-sign without the board's private key, and a pinned
``--public-key`` stops them from swapping in an anchor signed by a key of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select

from critmin.ledger import events as ev
from critmin.ledger.errors import LedgerError, Refused
from critmin.ledger.state import canonical
from critmin.ledger.store import events_table
from critmin.ledger.vocabulary import Rule

FORMAT = "critmin-anchor/1"
#: The largest anchor read from a file or URL (64 bytes per event: about 1.5 million events).
MAX_ANCHOR_BYTES = 100 * 2**20


class AnchorError(LedgerError):
    """An anchor or key that cannot be used (missing, unreadable, malformed, bad signature)."""


def message(seq: int, head: str, hashes_digest: str) -> bytes:
    """What the board signs."""
    return canonical([FORMAT, seq, head, hashes_digest]).encode("utf-8")


def digest_of(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``path``; return the public key."""
    if path.exists():
        raise AnchorError(f"{path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_hex(key.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise AnchorError(f"{path}: no such key file (make one with `ledger keygen`)") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise AnchorError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{path}: not an Ed25519 key")
    return key


def parse_public(text: str, field: str = "public_key") -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError as exc:
        raise AnchorError(f"{field}: not an Ed25519 public key in hex") from exc


def check_signature(p: ev.Checkpoint) -> None:
    """Refuse a checkpoint whose signature does not verify."""
    try:
        key = parse_public(p.public_key)
        key.verify(bytes.fromhex(p.signature), message(p.seq, p.head, p.hashes_digest))
    except (AnchorError, InvalidSignature, ValueError) as exc:
        raise Refused(
            "the signature does not verify", "signature", 422, Rule.CHECKPOINT_HEAD
        ) from exc


def chain_hashes(ledger: Any, upto: int | None = None) -> list[tuple[int, str, str, str]]:
    """(seq, hash, type, event id) of every stored event, in order."""
    query = select(
        events_table.c.seq, events_table.c.hash, events_table.c.type, events_table.c.event_id
    ).order_by(events_table.c.seq)
    if upto is not None:
        query = query.where(events_table.c.seq <= upto)
    with ledger.engine.connect() as conn:
        return [(int(r.seq), r.hash, r.type, r.event_id) for r in conn.execute(query)]


def sign(key: Ed25519PrivateKey, hashes: list[str]) -> tuple[ev.Checkpoint, dict[str, Any]]:
    """The checkpoint event for the chain ``hashes`` and the anchor document to publish."""
    seq, head, dig = len(hashes), hashes[-1], digest_of(hashes)
    signature = key.sign(message(seq, head, dig)).hex()
    payload = ev.Checkpoint(
        seq=seq,
        head=head,
        hashes_digest=dig,
        public_key=public_hex(key.public_key()),
        signature=signature,
    )
    return payload, anchor_document(payload, hashes)


def anchor_document(p: ev.Checkpoint, hashes: list[str]) -> dict[str, Any]:
    return {"format": FORMAT, **p.model_dump(mode="json"), "hashes": hashes}


def write_anchor(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` to a temporary file beside ``path`` and move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_anchor(source: str) -> dict[str, Any]:
    """An anchor document from a file or an http(s) URL (at most ``MAX_ANCHOR_BYTES``)."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=15) as response:
                raw = response.read(MAX_ANCHOR_BYTES + 1)
        elif "://" in source:
            raise AnchorError(f"{source}: only files and http(s) URLs are read")
        else:
            path = Path(source)
            if path.stat().st_size > MAX_ANCHOR_BYTES:
                raise AnchorError(f"{source}: larger than {MAX_ANCHOR_BYTES} bytes")
            raw = path.read_bytes()
    except OSError as exc:
        raise AnchorError(f"{source}: cannot read the anchor ({exc})") from exc
    if len(raw) > MAX_ANCHOR_BYTES:
        raise AnchorError(f"{source}: larger than {MAX_ANCHOR_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnchorError(f"{source}: not a JSON anchor ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise AnchorError(f"{source}: not a {FORMAT} document")
    return doc


def check_anchor(ledger: Any, doc: dict[str, Any], public_key: str | None = None) -> list[str]:
    """Problems found comparing the database's chain with a signed anchor (empty: it holds)."""
    try:
        payload = ev.Checkpoint.model_validate({k: doc.get(k) for k in ev.Checkpoint.model_fields})
    except ValueError as exc:
        raise AnchorError(f"anchor: malformed ({str(exc).splitlines()[0]})") from exc
    hashes = doc.get("hashes")
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise AnchorError("anchor: 'hashes' is not a list of hashes")
    if public_key is not None and public_key.lower() != payload.public_key:
        return [f"the anchor is signed by key {payload.public_key}, not by {public_key.lower()}"]
    try:
        check_signature(payload)
    except Refused:
        return ["the anchor's signature does not verify: the anchor itself was altered"]
    if len(hashes) != payload.seq or digest_of(hashes) != payload.hashes_digest:
        return ["the anchor's hash list does not match what was signed"]
    if not hashes or hashes[-1] != payload.head:
        return ["the anchor's head is not the last hash of its list"]
    stored = chain_hashes(ledger, payload.seq)
    for i, want in enumerate(hashes):
        if i >= len(stored):
            return [f"event {i + 1} is missing: the signed checkpoint covers {payload.seq} events"]
        seq, have, kind, event_id = stored[i]
        if seq != i + 1 or have != want:
            return [
                f"event {i + 1} ({kind}, id {event_id}) no longer matches the checkpoint "
                f"signed at event {payload.seq}: the chain was rewritten from here"
            ]
    return []
