"""Benchmark the ledger: sustained writes through the API (a real uvicorn server, 1 and 8
concurrent clients) on SQLite and PostgreSQL, against a plain SQLite loop of one INSERT + COMMIT
(WAL, synchronous=FULL) measured in the same run; and the time to replay 100,000 events.

Each write is an acquisition through ``POST /acquisitions`` with a bearer token and an
Idempotency-Key. The clients are threads with one keep-alive connection each (the standard
library's http.client: light, so the figures measure the server, not the client).
PostgreSQL is measured when CRITMIN_TEST_POSTGRES_URL is set (its tables are dropped first).
Each figure is the median of ``--rounds`` rounds, interleaved (plain loop, then each backend
at 1 and 8 clients, round after round) so that the shared machine's load falls on all alike;
the load averages are printed before and after, and each round's figures as it ends (the
plain loop's p50 is the disk's commit latency in that round: on this shared machine a slow
round of the API is a round in which the plain loop, too, is slow).
Run: .venv/bin/python benchmarks/bench_ledger.py [--seconds 10] [--rounds 3] [--events 100000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "ledger"))

from ledger_world import Server, reset_postgres
from timing import load

from critmin.ledger import events as ev
from critmin.ledger.service import Ledger, _row, now
from critmin.ledger.state import State, apply, canonical
from critmin.ledger.store import events_table, projections_table
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role

CLIENTS = (1, 8)
PLAIN = "plain SQLite INSERT+COMMIT loop"


@dataclass(frozen=True)
class Rate:
    """Events per second and per-write latency percentiles (ms)."""

    per_s: float
    p50_ms: float
    p99_ms: float
    #: The server process's CPU time (user + system) per write, ms; None where not measured.
    cpu_ms: float | None = None

    def line(self, label: str, base: Rate | None = None) -> str:
        ratio = f"  ({self.per_s / base.per_s:5.1%} of the plain loop)" if base else ""
        cpu = "" if self.cpu_ms is None else f"  server CPU {self.cpu_ms:4.2f} ms/write"
        return (
            f"{label:<34} {self.per_s:7.0f} events/s  p50 {self.p50_ms:6.2f} ms  "
            f"p99 {self.p99_ms:6.2f} ms{cpu}{ratio}"
        )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(latencies: list[float], elapsed: float) -> Rate:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
    return Rate(len(ms) / elapsed, statistics.median(ms) if ms else float("nan"), p99)


def plain_sqlite(seconds: float) -> Rate:
    """The floor: one INSERT + COMMIT per event, WAL, synchronous=FULL, one connection."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "plain.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        payload = json.dumps(BODY)
        latencies: list[float] = []
        seq = 0
        t0 = time.perf_counter()
        end = t0 + seconds
        while (t := time.perf_counter()) < end:
            seq += 1
            conn.execute("BEGIN")
            conn.execute("INSERT INTO events VALUES (?, ?)", (seq, payload))
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - t0
        conn.close()
    return rate(latencies, elapsed)


BODY = {
    "lot_id": "lot-0",
    "mineral": "cobalt",
    "form": "metal",
    "quantity_t": "0.001",
    "location": "depot",
    "price_usd_per_t": "30000",
    "seller": "Acme",
    "seller_country": "AUS",
}


def prepare(url: str) -> str:
    with Ledger.open(url, create=True) as db:
        db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
        db.submit(
            ev.PriceRecorded(
                mineral="cobalt", usd_per_t=Decimal(30000), as_of=date(2025, 1, 1), source="b"
            ),
            "op",
        )
        return add_user(db.engine, "op", Role.OPERATOR)


def writes(url: str, seconds: float, clients: int, server_url: str, token: str) -> Rate:
    """``clients`` threads posting acquisitions for ``seconds``; every answer must be 201."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    where = urlsplit(server_url)
    start = threading.Barrier(clients + 1)
    end = [0.0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({**BODY, "lot_id": f"lot-{i % 2}"})
        start.wait()
        j = 0
        while (t := time.perf_counter()) < end[0]:
            conn.request(
                "POST", "/acquisitions", body, {**headers, "Idempotency-Key": f"{clients}-{i}-{j}"}
            )
            answer = conn.getresponse()
            text = answer.read()
            if answer.status != 201:
                failures.append(f"{answer.status} {text[:200]!r}")
                break
            latencies[i].append(time.perf_counter() - t)
            j += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    end[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"a write failed: {failures[0]}")
    return rate([x for each in latencies for x in each], elapsed)


def measure(server: Server, token: str, seconds: float, clients: int) -> Rate:
    """One run of ``clients`` writers against a running server, with its CPU per write."""
    assert server.process is not None
    before = cpu_seconds(server.process.pid)
    r = writes(server.database_url, seconds, clients, server.url, token)
    after = cpu_seconds(server.process.pid)
    if before is not None and after is not None and r.per_s > 0:
        r = Rate(r.per_s, r.p50_ms, r.p99_ms, (after - before) / (r.per_s * seconds) * 1000)
    return r


def median(runs: list[Rate]) -> Rate:
    """Each figure's median over the rounds."""
    cpu = [r.cpu_ms for r in runs if r.cpu_ms is not None]
    return Rate(
        statistics.median(r.per_s for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        statistics.median(cpu) if cpu else None,
    )


def replay_time(n: int) -> tuple[float, float]:
    """Write ``n`` chained events straight into a SQLite file, then time a full replay."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(f"sqlite:///{tmp}/r.db", create=True) as db,
    ):
        state = State()
        rows = []
        for seq in range(1, n + 1):
            payload: ev.Payload
            if seq == 1:
                payload = ev.Genesis(appropriation_usd=Decimal("2.5e9"))
            elif seq % 2 == 0:
                payload = ev.Acquisition(
                    lot_id=f"lot-{seq % 50}",
                    mineral="cobalt",
                    form="cathode",
                    quantity_t=Decimal("0.002"),
                    location="depot",
                    price_usd_per_t=Decimal(30000),
                    seller="Acme",
                    seller_country="AUS",
                    market_usd_per_t=Decimal(30000),
                )
            else:
                payload = ev.Transfer(
                    lot_id=f"lot-{(seq - 1) % 50}",
                    quantity_t=Decimal("0.001"),
                    to_lot_id=f"lot-{(seq + 1) % 50}",
                    to_location="depot",
                )
            event = Ledger._event(state, payload, "bench", f"k{seq}", now())
            apply(state, event)
            rows.append(_row(event, "-"))
        with db.engine.begin() as conn:
            conn.execute(events_table.insert(), rows)
            conn.execute(
                projections_table.insert(),
                [{"kind": k, "key": key, "data": d} for (k, key), d in state.rows().items()],
            )
        t0 = time.perf_counter()
        replayed = db.replay()
        elapsed = time.perf_counter() - t0
        assert replayed.rows() == db.stored_projections()
        assert canonical(replayed.head) == canonical(state.head)
        t0 = time.perf_counter()
        from critmin.ledger.verify import verify

        report = verify(db)
        assert report.ok, report.problems[:3]
        return elapsed, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load averages before: {load()}")
    folder = tempfile.TemporaryDirectory()
    backends = {"SQLite": f"sqlite:///{folder.name}/w.db"}
    pg = os.environ.get("CRITMIN_TEST_POSTGRES_URL")
    if pg:
        reset_postgres(pg)
        backends["PostgreSQL"] = pg
    servers: dict[str, tuple[Server, str]] = {}
    runs: dict[str, list[Rate]] = {PLAIN: []}
    try:
        for name, url in backends.items():
            token = prepare(url)
            servers[name] = (Server(url).start(), token)
            writes(url, 1.0, 2, servers[name][0].url, token)  # warm-up: imports, connections
        for i in range(args.rounds):  # interleaved: the machine's load falls on all alike
            runs[PLAIN].append(plain_sqlite(args.seconds))
            figures = [f"plain {runs[PLAIN][-1].per_s:.0f}/s (p50 {runs[PLAIN][-1].p50_ms:.1f} ms)"]
            for name, (server, token) in servers.items():
                for n in CLIENTS:
                    label = f"{name} through the API, {n} client{'s' if n > 1 else ''}"
                    runs.setdefault(label, []).append(measure(server, token, args.seconds, n))
                    got = runs[label][-1]
                    figures.append(f"{name} {n}: {got.per_s:.0f}/s p99 {got.p99_ms:.0f} ms")
            # a slow round is slow for the plain loop too when the shared disk's fsync is
            print(f"round {i + 1} (load {load()}): " + "; ".join(figures), flush=True)
    finally:
        for server, _ in servers.values():
            server.stop()
        folder.cleanup()
    base = median(runs[PLAIN])
    print(f"medians of {args.rounds} interleaved rounds of {args.seconds:g} s each:")
    for label, each in runs.items():
        spread = f"  [{min(r.per_s for r in each):.0f}-{max(r.per_s for r in each):.0f}/s]"
        print(median(each).line(label, None if label == PLAIN else base) + spread)
    if not pg:
        print("PostgreSQL: skipped (set CRITMIN_TEST_POSTGRES_URL)")
    print(f"load averages after: {load()}")
    if args.events:
        replay, check = replay_time(args.events)
        print(
            f"replay of {args.events:,} events: {replay:.2f} s; full verify (chain + replay + "
            f"projections): {check:.2f} s"
        )


if __name__ == "__main__":
    main()
