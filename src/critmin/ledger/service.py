"""The ledger: submit commands (admit, apply, append in one serialised transaction), read
projections, replay the log.

A process keeps the state in memory and, inside each write transaction, first catches up on
events other processes appended. Invariants are checked by ``state.apply`` before the insert,
within the same transaction; a retry with the same idempotency key returns the first event and
writes nothing.

Group commit: appends that arrive while a transaction is running queue up, and the next writer
takes the whole queue (up to ``GROUP_MAX``) into one transaction and one fsync. Each event is
still admitted, checked and hash-chained on its own, in arrival order; a refused command writes
nothing and fails alone (``apply`` leaves the state unchanged when it refuses). An unexpected
error rolls the group back and its commands are retried one per transaction, so only the
faulty one fails. The SQL is compiled once per database (``statements.Statements``).

Callers that must not block (the API's event loop) hand commands to ``submit_later``: one
writer thread per ledger takes the queue group by group and reports each outcome through the
caller's callback, so a write costs no pool thread and no contention for the writer lock.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from critmin.ledger import events as ev
from critmin.ledger.admit import admit
from critmin.ledger.chain import digest, event_hash
from critmin.ledger.errors import (
    DatabaseProblem,
    IdempotencyConflict,
    NotInitialised,
    Refused,
    Unauthenticated,
)
from critmin.ledger.reference import Reference, bundled
from critmin.ledger.state import State, apply, canonical
from critmin.ledger.statements import Batch, Result, Statements
from critmin.ledger.store import (
    ADVISORY_KEY,
    KEY_LENGTH,
    WRITE,
    check_schema,
    database_url,
    events_table,
    make_engine,
    migrate,
    projections_table,
    sqlite_path,
)
from critmin.ledger.tokens import Tokens
from critmin.ledger.vocabulary import EventType, Projection

RETRIES = 5
#: The most appends one group transaction takes from the queue.
GROUP_MAX = 64
T = TypeVar("T")


@dataclass(frozen=True)
class Receipt:
    """What an append returns: the event, and whether it was a retry of an earlier request."""

    event: ev.Event
    replayed: bool


@dataclass
class _Pending:
    """One submitted command waiting for (or holding) its outcome."""

    payload: ev.Payload
    actor: str
    key: str
    request: str
    receipt: Receipt | None = None
    error: BaseException | None = None
    done: bool = False
    #: Called (on the writer's thread) with the outcome, for ``submit_later``.
    notify: Callable[[Receipt | None, BaseException | None], None] | None = None
    #: The SHA-256 of the bearer token the command came with, checked in the transaction.
    token: str | None = None


class _Isolate(Exception):
    """An unexpected error inside a group: roll back, then commit the group one by one."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_row(row: Any) -> ev.Event:
    t = EventType(row.type)
    payload = ev.PAYLOADS[t].model_validate_json(row.payload)
    return ev.Event(
        seq=int(row.seq),
        event_id=row.event_id,
        key=row.idempotency_key,
        type=t,
        payload=payload,
        actor=row.actor,
        recorded_at=row.recorded_at,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class Ledger:
    """One database's ledger. Thread-safe; several processes may share the database."""

    def __init__(self, engine: Engine, reference: Reference | None = None) -> None:
        self.engine = engine
        self._reference = reference
        self._lock = threading.Lock()  # the writer; guards the cached state
        self._queue_lock = threading.Lock()
        self._queued = threading.Condition(self._queue_lock)  # wakes the writer thread
        self._queue: list[_Pending] = []
        self._writer: threading.Thread | None = None
        self._closing = False
        self._conn: Connection | None = None  # the appends' connection (under self._lock)
        self._state: State | None = None
        self._sql = Statements(engine)
        #: Tokens the API has verified (their hashes); ``submit_later`` checks them again.
        self.tokens = Tokens()

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = False) -> Ledger:
        """Open a ledger database. Without ``create`` a missing, empty or foreign database is
        refused (NotInitialised / DatabaseProblem) and no file is created; with it, a new
        SQLite file that cannot be migrated is removed again."""
        full = database_url(url)
        path = sqlite_path(full)
        existed = path is None or path.exists()
        if not create and not existed:
            raise NotInitialised(
                f"no ledger database at {path}; run `critmin ledger init --database {url or full}`"
            )
        if path is not None and not path.parent.is_dir():
            raise DatabaseProblem(f"{path.parent}: no such folder for the database")
        try:
            engine = make_engine(full)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise DatabaseProblem(
                f"--database {url or full}: not a usable database URL (sqlite:///FILE or "
                f"postgresql://USER:PASSWORD@HOST/DB): {str(exc).splitlines()[0]}"
            ) from exc
        try:
            if create:
                migrate(engine)
            else:
                check_schema(engine)
        except BaseException:
            engine.dispose()
            if not existed and path is not None:
                for extra in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{extra}").unlink(missing_ok=True)
            raise
        return cls(engine)

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            self._reference = bundled()
        return self._reference

    # -- writing ----------------------------------------------------------------------------

    def submit(self, payload: ev.Payload, actor: str, key: str | None = None) -> Receipt:
        """Admit, check and append ``payload``; Refused (nothing written) if a rule is broken.

        Idempotency keys belong to their actor (stored as ``actor/key``), so one user cannot
        take another's key. Without a key the request gets a fresh one and is not retry-safe:
        the API therefore requires the ``Idempotency-Key`` header on every write."""
        pending = _pending(payload, actor, key)
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.done:
            with self._lock:
                if pending.done:  # a writer before us took it into its group
                    break
                with self._queue_lock:
                    group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
                self._commit_group(group)
        if pending.error is not None:
            raise pending.error
        assert pending.receipt is not None
        return pending.receipt

    def submit_later(
        self,
        payload: ev.Payload,
        actor: str,
        key: str | None,
        notify: Callable[[Receipt | None, BaseException | None], None],
        token: str | None = None,
    ) -> None:
        """Queue ``payload`` for the writer thread and return at once; ``notify`` is called on
        that thread with the receipt or the error (the outcome ``submit`` would return or
        raise). A key that is too long is refused here, before anything is queued.

        ``token``, the SHA-256 of the bearer token the command came with, is checked inside
        the append transaction: unless it is a live token of ``actor`` at that moment, the
        command is refused (``Unauthenticated``, 401), writes nothing, and the hash is
        forgotten from ``tokens``."""
        pending = _pending(payload, actor, key)
        pending.notify = notify
        pending.token = token
        with self._queued:
            if self._closing:
                raise DatabaseProblem("the ledger is closed")
            self._queue.append(pending)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_queued, name="critmin-ledger-writer", daemon=True
                )
                self._writer.start()
            self._queued.notify()

    def _write_queued(self) -> None:
        """The writer thread: commit queued groups until the ledger is disposed."""
        while True:
            with self._queued:
                while not self._queue and not self._closing:
                    self._queued.wait()
                if not self._queue:
                    return
            with self._lock:
                with self._queue_lock:
                    group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
                if group:  # (a synchronous submit may have taken them already)
                    self._commit_group(group)

    def _commit_group(self, group: list[_Pending]) -> None:
        """Append ``group`` in one transaction (retried on lock time-outs, serialisation
        failures and lost connections); every member gets its receipt or its own error."""
        try:
            for attempt in range(RETRIES):
                try:
                    self._append_group(group)
                    break
                except DBAPIError as exc:
                    # a serialisation failure, a lock time-out or a lost connection: again (a
                    # group whose commit did reach the database is answered from its keys)
                    self._state = None
                    again = isinstance(exc, OperationalError) and _retryable(exc)
                    if attempt == RETRIES - 1 or not (again or exc.connection_invalidated):
                        raise
        except _Isolate:
            for one in group:  # the group was rolled back: find the faulty command alone
                self._commit_group([one])
        except BaseException as exc:
            for one in group:
                one.receipt, one.error = None, exc
        finally:
            for one in group:
                one.done = True
                if one.notify is not None:
                    try:
                        one.notify(one.receipt, one.error)
                    except Exception:  # a caller that has gone away stops no one else
                        continue

    def _append_group(self, group: list[_Pending]) -> None:
        """One transaction for ``group``: the reads it needs (the lock, events appended
        elsewhere, the group's tokens and idempotency keys) sent together, then each command
        checked and chained in order, then its rows and the ``COMMIT`` sent together (on
        PostgreSQL two round trips in all, ``statements.Batch``)."""
        sql = self._sql
        outcomes: list[tuple[Receipt | None, BaseException | None]] = []
        try:
            conn = self._write_connection()
            with conn.begin(), Batch(conn) as batch:
                if sql.lock is not None:
                    batch.send(sql.lock, {"k": ADVISORY_KEY})
                head = batch.send(sql.events_from, {"seq": self._state.seq if self._state else 0})
                tokens = self._send_tokens(batch, group)
                stored = self._send_stored(batch, [one.key for one in group])
                state = self._catch_up(batch, head)
                live = {(d, row.name) for d, sent in tokens for row in sent.rows()}
                seen = {
                    r.idempotency_key: (parse_row(r), r.request_digest)
                    for sent in stored
                    for r in sent.rows()
                }
                rows: list[dict[str, Any]] = []
                touched: set[tuple[Projection, str]] = set()
                for one in group:
                    try:
                        if one.token is not None and (one.token, one.actor) not in live:
                            self.tokens.forget(one.token)
                            raise Unauthenticated
                        receipt = self._append_one(state, one, seen, rows, touched)
                    except Refused as exc:  # nothing changed: the next one goes on
                        outcomes.append((None, exc))
                    else:
                        outcomes.append((receipt, None))
                if rows:
                    batch.send(sql.insert_event, rows)
                    batch.send(
                        sql.upsert_projection,
                        [
                            {"kind": kind.value, "key": key, "data": state.row(kind, key)}
                            for kind, key in sorted(touched)
                        ],
                    )
                batch.commit()
        except DBAPIError as exc:
            self._state = None  # the transaction may not have committed: rebuild next time
            self._drop_connection(lost=exc.connection_invalidated)
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise  # retried as a group
            if len(group) > 1:
                raise _Isolate from exc
            raise
        except Exception as exc:
            self._state = None
            self._drop_connection()
            if len(group) > 1:
                raise _Isolate from exc
            raise
        except BaseException:
            self._state = None
            self._drop_connection()
            raise
        for one, (outcome, error) in zip(group, outcomes, strict=True):
            one.receipt, one.error = outcome, error

    def _write_connection(self) -> Connection:
        """The connection appends run on, kept from one group to the next (always used under
        the writer lock): no pool check-out and liveness ping per group. After any error it is
        dropped, and the next group checks a fresh (pinged) one out."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            options: dict[str, Any] = {WRITE: True}
            if self.engine.dialect.name == "postgresql":
                # BEGIN and COMMIT are sent down the group's pipeline (``statements.Batch``)
                options["isolation_level"] = "AUTOCOMMIT"
            self._conn = self.engine.connect().execution_options(**options)
        return self._conn

    def _drop_connection(self, lost: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if lost and not conn.invalidated:
                    conn.invalidate()  # not back to the pool
                conn.close()
            except SQLAlchemyError:  # already broken: the pool discards it
                return

    def _append_one(
        self,
        state: State,
        one: _Pending,
        seen: dict[str, tuple[ev.Event, str]],
        rows: list[dict[str, Any]],
        touched: set[tuple[Projection, str]],
    ) -> Receipt:
        """Admit, check and chain one command onto ``state`` (its row goes to ``rows``)."""
        earlier = seen.get(one.key)  # stored before, or appended earlier in this group
        if earlier is not None:
            if earlier[1] != one.request:
                raise IdempotencyConflict(one.key)
            return Receipt(earlier[0], replayed=True)
        at = now()
        admitted = admit(state, self.reference, one.payload, date.fromisoformat(at[:10]))
        event, body = self._chained(state, admitted, one.actor, one.key, at)
        touched |= apply(state, event)  # checks every invariant, then changes
        rows.append(_row(event, one.request, body))
        seen[one.key] = (event, one.request)
        return Receipt(event, replayed=False)

    def _send_tokens(self, batch: Batch, group: list[_Pending]) -> list[tuple[str, Result]]:
        """Ask for the live user of each of the group's token hashes (one read per hash)."""
        digests = sorted({one.token for one in group if one.token is not None})
        return [(d, batch.send(self._sql.user_by_token, {"token": d})) for d in digests]

    def _send_stored(self, batch: Batch, keys: list[str]) -> list[Result]:
        """Ask for the events already stored under ``keys`` (with their request digests)."""
        sql = self._sql
        if sql.events_by_keys is not None:
            return [batch.send(sql.events_by_keys, {"keys": sorted(set(keys))})]
        return [batch.send(sql.event_by_key, {"key": k}) for k in dict.fromkeys(keys)]

    @staticmethod
    def _event(state: State, payload: ev.Payload, actor: str, key: str, at: str) -> ev.Event:
        return Ledger._chained(state, payload, actor, key, at)[0]

    @staticmethod
    def _chained(
        state: State, payload: ev.Payload, actor: str, key: str, at: str
    ) -> tuple[ev.Event, str]:
        """The next event on ``state``'s chain, and the payload text its hash covers."""
        seq, event_id = state.seq + 1, uuid.uuid4().hex
        body = canonical(payload.model_dump(mode="json"))
        t = ev.event_type(payload)
        h = event_hash(seq, event_id, key, t.value, actor, at, state.head, body)
        return ev.Event(seq, event_id, key, t, payload, actor, at, state.head, h), body

    def _catch_up(self, batch: Batch, sent: Result | None = None) -> State:
        """The state as of the database's head, applying events appended elsewhere;
        ``sent``: the events from the state's head, already asked for in ``batch``."""
        state = self._state or State()
        sql = self._sql
        if sent is None:
            sent = batch.send(sql.events_from, {"seq": state.seq})
        rows = sent.rows()
        if state.seq:
            if rows and rows[0].seq == state.seq and rows[0].hash == state.head:
                rows = rows[1:]
            else:  # the database is not the one this state came from
                state = State()
                rows = batch.send(sql.events_from, {"seq": 0}).rows()
        for row in rows:
            apply(state, parse_row(row))
        self._state = state
        return state

    # -- reading ----------------------------------------------------------------------------

    def events(self, after: int = 0, limit: int | None = None) -> Iterator[ev.Event]:
        query = select(events_table).where(events_table.c.seq > after).order_by(events_table.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield parse_row(row)

    def head(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.coalesce(func.max(events_table.c.seq), 0))).one()[0]
            )

    def projection(self, kind: Projection) -> list[dict[str, Any]]:
        """The stored rows of one projection, as JSON objects ordered by key."""
        p = projections_table
        query = select(p.c.key, p.c.data).where(p.c.kind == kind.value).order_by(p.c.key)
        with self.engine.connect() as conn:
            return [json.loads(row.data) for row in conn.execute(query)]

    def stored_projections(self) -> dict[tuple[str, str], str]:
        p = projections_table
        with self.engine.connect() as conn:
            return {(r.kind, r.key): r.data for r in conn.execute(select(p))}

    def read(self, fn: Callable[[State], T]) -> T:
        """Run ``fn`` on the current state (caught up with the database) under the lock."""
        with (
            self._lock,
            self.engine.connect() as conn,
            conn.begin(),
            Batch(conn, pipelined=False) as batch,
        ):
            return fn(self._catch_up(batch))

    def replay(self) -> State:
        """A fresh state folded from the whole log (the projections must equal it)."""
        state = State()
        for event in self.events():
            apply(state, event)
        return state

    def require_genesis(self) -> None:
        if self.head() == 0:
            raise NotInitialised("the ledger has no events; run `critmin ledger init`")

    def dispose(self) -> None:
        """Finish the queued writes, stop the writer thread and close the connections."""
        with self._queued:
            self._closing = True
            self._queued.notify()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        with self._queued:  # a later submit_later starts a new writer
            self._writer, self._closing = None, False
        with self._lock:
            self._drop_connection()
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


def _pending(payload: ev.Payload, actor: str, key: str | None) -> _Pending:
    """A command ready to queue: its stored key (``actor/key``) and its request digest."""
    key = f"{actor}/{key or uuid.uuid4().hex}"
    if len(key) > KEY_LENGTH:
        raise Refused(
            f"actor and idempotency key together exceed {KEY_LENGTH} characters",
            "idempotency_key",
            422,
        )
    request = digest(
        canonical([ev.event_type(payload).value, actor, payload.model_dump(mode="json")])
    )
    return _Pending(payload, actor, key, request)


def _retryable(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    if code in {"40001", "40P01"}:
        return True
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()


def _row(event: ev.Event, request: str, payload: str | None = None) -> dict[str, Any]:
    """The stored row of ``event``; ``payload``: its canonical text if already made (the
    text the hash covers)."""
    return {
        "seq": event.seq,
        "event_id": event.event_id,
        "idempotency_key": event.key,
        "request_digest": request,
        "type": event.type.value,
        "payload": canonical(event.payload.model_dump(mode="json")) if payload is None else payload,
        "actor": event.actor,
        "recorded_at": event.recorded_at,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
