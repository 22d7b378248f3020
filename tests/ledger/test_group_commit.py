"""Group commit, on each backend: appends queued behind a running transaction are written in one
transaction, each admitted, checked and chained on its own; a refusal or a fault fails alone."""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from ledger_world import acquisition
from sqlalchemy import event
from sqlalchemy import text as sql_text

from critmin.ledger import events as ev
from critmin.ledger import service
from critmin.ledger.errors import IdempotencyConflict, Refused, Unauthenticated
from critmin.ledger.service import Ledger, Receipt
from critmin.ledger.state import Lot
from critmin.ledger.users import User, add_user, revoke_user, token_hash
from critmin.ledger.verify import verify
from critmin.ledger.vocabulary import Projection, Role


def queued(db: Ledger, commands: list[tuple[ev.Payload, str]]) -> list[Receipt | BaseException]:
    """Submit ``commands`` from one thread each, queued in order while the writer lock is
    held, then let them go: the first writer takes them all into one group."""
    out: list[Receipt | BaseException | None] = [None] * len(commands)

    def run(i: int, payload: ev.Payload, key: str) -> None:
        try:
            out[i] = db.submit(payload, "operator", key)
        except BaseException as exc:
            out[i] = exc

    threads = []
    with db._lock:
        for i, (payload, key) in enumerate(commands):
            t = threading.Thread(target=run, args=(i, payload, key))
            t.start()
            threads.append(t)
            deadline = time.monotonic() + 10
            while len(db._queue) <= i and time.monotonic() < deadline:
                time.sleep(0.001)
            assert len(db._queue) == i + 1
    for t in threads:
        t.join(30)
    assert all(x is not None for x in out)
    return [x for x in out if x is not None]


def commits(db: Ledger) -> list[int]:
    count = [0]

    def seen(*_: Any) -> None:
        count[0] += 1

    event.listen(db.engine, "commit", seen)
    return count


def held(db: Ledger, lot_id: str) -> Decimal:
    found = db.read(lambda s: s.get(Projection.LOT, lot_id, Lot))
    assert found is not None
    return found.quantity_t


def test_a_group_is_one_transaction_and_a_refusal_fails_alone(world: Ledger) -> None:
    head = world.head()
    counted = commits(world)
    results = queued(
        world,
        [
            (acquisition("lot2", "10"), "a"),
            # depends on the group's first append (lot2 exists only inside the transaction)
            (
                ev.Transfer(
                    lot_id="lot2", quantity_t=Decimal(4), to_lot_id="lot3", to_location="b"
                ),
                "b",
            ),
            # breaks "no lot goes negative": refused, nothing written for it
            (
                ev.Transfer(lot_id="lot1", quantity_t=Decimal(11), to_lot_id="x", to_location="y"),
                "c",
            ),
            (acquisition("lot2", "10"), "a"),  # a retry of the first: answered, not repeated
            (acquisition("lot2", "7"), "a"),  # the same key, another body: a conflict
            (acquisition("lot4", "1"), "d"),
        ],
    )
    assert counted[0] == 1, "the group was not written in one transaction"
    first, moved, negative, retry, conflict, last = results
    assert isinstance(first, Receipt)
    assert isinstance(moved, Receipt)
    assert isinstance(last, Receipt)
    assert isinstance(negative, Refused)
    assert negative.field == "quantity_t"
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(retry, Receipt)
    assert retry.replayed
    assert retry.event == first.event
    assert [first.event.seq, moved.event.seq, last.event.seq] == [head + 1, head + 2, head + 3]
    assert moved.event.prev_hash == first.event.hash
    assert last.event.prev_hash == moved.event.hash
    assert world.head() == head + 3
    assert held(world, "lot2") == 6
    assert held(world, "lot3") == 4
    assert held(world, "lot4") == 1
    assert held(world, "lot1") == 10
    report = verify(world)
    assert report.ok, report.problems


def test_a_fault_in_one_append_rolls_the_group_back_and_only_it_fails(
    world: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.admit

    def faulty(state: Any, ref: Any, payload: ev.Payload, day: Any) -> ev.Payload:
        if isinstance(payload, ev.Acquisition) and payload.lot_id == "bad":
            raise RuntimeError("injected fault")
        return real(state, ref, payload, day)

    monkeypatch.setattr(service, "admit", faulty)
    head = world.head()
    results = queued(
        world,
        [
            (acquisition("lot5", "1"), "e"),
            (acquisition("bad", "1"), "f"),
            (acquisition("lot6"), "g"),
        ],
    )
    good, bad, other = results
    assert isinstance(bad, RuntimeError)
    assert isinstance(good, Receipt)
    assert isinstance(other, Receipt)
    assert [good.event.seq, other.event.seq] == [head + 1, head + 2]
    assert world.head() == head + 2
    report = verify(world)
    assert report.ok, report.problems


def test_many_concurrent_writers_keep_one_valid_chain(world: Ledger) -> None:
    head = world.head()
    counted = commits(world)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        for j in range(15):
            try:
                world.submit(acquisition(f"c{i}", "0.5"), "operator", f"w{i}-{j}")
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert world.head() == head + 120
    assert counted[0] <= 120  # never more transactions than appends (usually far fewer)
    assert all(held(world, f"c{i}") == Decimal("7.5") for i in range(8))
    report = verify(world)
    assert report.ok, report.problems


def test_submit_later_reports_each_outcome_once_and_dispose_finishes_the_queue(
    world: Ledger,
) -> None:
    """The writer thread (the API's path): queued commands, a refusal and a retry among them,
    are each answered once, in one valid chain, alongside synchronous writers; ``dispose``
    waits for the queue, and a later ``submit_later`` starts a new writer."""
    head = world.head()
    outcomes: dict[str, list[Receipt | BaseException | None]] = {}
    lock = threading.Lock()

    def record(name: str) -> Any:
        def notify(receipt: Receipt | None, error: BaseException | None) -> None:
            with lock:
                outcomes.setdefault(name, []).append(error if error is not None else receipt)

        return notify

    for i in range(40):
        world.submit_later(acquisition(f"q{i % 4}", "0.5"), "operator", f"q{i}", record(f"q{i}"))
    world.submit_later(acquisition("q0", "0.5"), "operator", "q0", record("retry"))
    world.submit_later(
        ev.Transfer(lot_id="nowhere", quantity_t=Decimal(1), to_lot_id="x", to_location="b"),
        "operator",
        "refused",
        record("refused"),
    )
    world.submit(acquisition("sync", "1"), "operator", "sync")
    world.dispose()
    assert all(len(v) == 1 for v in outcomes.values())
    assert len(outcomes) == 42
    assert all(isinstance(outcomes[f"q{i}"][0], Receipt) for i in range(40))
    retried = outcomes["retry"][0]
    assert isinstance(retried, Receipt)
    assert retried.replayed
    assert isinstance(outcomes["refused"][0], Refused)
    assert world.head() == head + 41
    assert all(held(world, f"q{i}") == Decimal(5) for i in range(4))
    done = threading.Event()
    world.submit_later(acquisition("after", "1"), "operator", "after", lambda r, e: done.set())
    assert done.wait(30)
    assert world.head() == head + 42
    report = verify(world)
    assert report.ok, report.problems


def test_a_lost_connection_is_replaced_and_the_write_goes_through(world: Ledger) -> None:
    """Appends keep their connection between groups; when it is lost (the server ended the
    session, or the driver's connection closed) the next append checks out a new one and
    goes through, once."""
    head = world.head()
    world.submit(acquisition("lost", "1"), "operator", "lost-1")
    kept = world._conn
    assert kept is not None
    raw: Any = kept.connection.dbapi_connection
    if world.engine.dialect.name == "postgresql":
        with world.engine.connect() as other:
            other.execute(
                sql_text("SELECT pg_terminate_backend(:pid)"), {"pid": raw.info.backend_pid}
            )
    else:
        raw.close()
    receipt = world.submit(acquisition("lost", "1"), "operator", "lost-2")
    assert not receipt.replayed
    assert world._conn is not kept
    assert world.head() == head + 2
    assert held(world, "lost") == Decimal(2)
    report = verify(world)
    assert report.ok, report.problems


def test_a_token_is_checked_in_the_transaction_and_a_dead_one_fails_alone(
    world: Ledger,
) -> None:
    """``submit_later`` with a token's hash: the append transaction refuses a command whose
    token is not a live token of its actor (unknown, another user's, revoked), writes nothing
    for it, forgets the hash, and the rest of the queue goes on."""
    live = add_user(world.engine, "operator", Role.OPERATOR)
    other = add_user(world.engine, "someone", Role.OPERATOR)
    doomed = add_user(world.engine, "leaver", Role.OPERATOR)
    revoke_user(world.engine, "leaver")
    head = world.head()
    outcomes: dict[str, Receipt | BaseException | None] = {}
    done = threading.Semaphore(0)

    def record(name: str) -> Any:
        def notify(receipt: Receipt | None, error: BaseException | None) -> None:
            outcomes[name] = error if error is not None else receipt
            done.release()

        return notify

    commands = [
        ("live", "operator", live),
        ("unknown", "operator", "not-a-token"),
        ("another's", "operator", other),
        ("revoked", "leaver", doomed),
        ("live again", "operator", live),
    ]
    world.tokens.remember(token_hash(doomed), User("leaver", Role.OPERATOR))
    with world._lock:  # queue them all behind the writer lock: one group
        for name, actor, token in commands:
            world.submit_later(acquisition("t", "1"), actor, name, record(name), token_hash(token))
    for _ in commands:
        assert done.acquire(timeout=30)
    assert isinstance(outcomes["live"], Receipt)
    assert isinstance(outcomes["live again"], Receipt)
    for name in ("unknown", "another's", "revoked"):
        assert isinstance(outcomes[name], Unauthenticated), name
    assert world.head() == head + 2
    assert world.tokens.get(token_hash(doomed)) is None
    # a retry of a written key is answered only while the token lives
    revoke_user(world.engine, "operator")
    world.submit_later(acquisition("t", "1"), "operator", "live", record("retry"), token_hash(live))
    assert done.acquire(timeout=30)
    assert isinstance(outcomes["retry"], Unauthenticated)
    assert world.head() == head + 2
    report = verify(world)
    assert report.ok, report.problems


def test_batched_groups_lose_reorder_and_mischain_nothing(world: Ledger) -> None:
    """Six threads queue 25 commands each on the writer thread (an acquisition, and every
    fifth a transfer out of the lot the thread just bought into, which is refused unless its
    acquisition was applied first), held back until groups of many have formed: every command
    is answered once, and what a second connection reads back is exactly the receipts, in
    one gapless chain, each thread's commands in the order it sent them."""
    threads_n, per = 6, 25
    head = world.head()
    sizes: list[int] = []
    append = world._append_group

    def counted(group: list[Any]) -> None:
        sizes.append(len(group))
        append(group)

    world._append_group = counted  # type: ignore[method-assign]
    got: dict[tuple[int, int], Receipt | BaseException | None] = {}
    lock = threading.Lock()
    queued_first = threading.Barrier(threads_n + 1)

    def notify(at: tuple[int, int]) -> Any:
        def done(receipt: Receipt | None, error: BaseException | None) -> None:
            with lock:
                assert at not in got
                got[at] = error if error is not None else receipt

        return done

    def client(i: int) -> None:
        for j in range(per):
            payload: ev.Payload = acquisition(f"b{i}", "0.5")
            if j % 5 == 4:
                payload = ev.Transfer(
                    lot_id=f"b{i}", quantity_t=Decimal("0.25"), to_lot_id=f"b{i}x", to_location="d"
                )
            world.submit_later(payload, "operator", f"b{i}-{j}", notify((i, j)))
            if j == 9:
                queued_first.wait(30)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(threads_n)]
    with world._lock:  # the writer waits: the first ten of each thread queue up
        for t in clients:
            t.start()
        queued_first.wait(30)
    for t in clients:
        t.join(60)
    world.dispose()
    assert len(got) == threads_n * per
    receipts = {at: r for at, r in got.items() if isinstance(r, Receipt)}
    assert len(receipts) == threads_n * per, [r for r in got.values() if not isinstance(r, Receipt)]
    assert max(sizes) >= threads_n  # the batched path did run, with many in a group
    stored = list(world.events(after=head))
    assert [e.seq for e in stored] == list(range(head + 1, head + 1 + threads_n * per))
    by_key = {e.key: e for e in stored}
    for (i, j), receipt in receipts.items():
        assert not receipt.replayed
        assert by_key[f"operator/b{i}-{j}"] == receipt.event
    for i in range(threads_n):
        seqs = [receipts[(i, j)].event.seq for j in range(per)]
        assert seqs == sorted(seqs)
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    assert all(held(world, f"b{i}") == Decimal("8.75") for i in range(threads_n))
    assert all(held(world, f"b{i}x") == Decimal("1.25") for i in range(threads_n))
    report = verify(world)
    assert report.ok, report.problems


def test_a_postgresql_group_costs_two_round_trips(world: Ledger, tmp_path: Any) -> None:
    """PostgreSQL: a group of eight appends waits for the server twice (its reads, then its
    rows with the COMMIT, each down one pipeline), counted in libpq's trace of the appends'
    connection as the turns from what the client sends to what the server answers."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    add_user(world.engine, "operator", Role.OPERATOR)
    world.submit(acquisition("rt", "1"), "operator", "rt-warm")  # the appends' connection
    assert world._conn is not None
    raw: Any = world._conn.connection.dbapi_connection
    log = tmp_path / "libpq.trace"
    head = world.head()
    with log.open("w") as out:
        raw.pgconn.trace(out.fileno())
        try:
            got = queued(world, [(acquisition("rt", "1"), f"rt-{i}") for i in range(8)])
        finally:
            raw.pgconn.untrace()
    assert all(isinstance(r, Receipt) for r in got)
    assert world.head() == head + 8
    sides = [
        side
        for line in log.read_text().splitlines()
        for side in line.split("\t")[:2]
        if side in ("F", "B")
    ]
    turns = sum(1 for sent, answered in itertools.pairwise(sides) if (sent, answered) == ("F", "B"))
    assert turns == 2, sides
