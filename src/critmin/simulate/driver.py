"""The one ensemble driver: seeded streams, chunks of work, executors (in-process, a local
process pool, Dask), each chunk reduced on its worker to what the caller needs.

``rank``, ``build_ensemble`` and the plan's parameter sensitivity run through
:func:`map_chunks`; ``simulate`` through :meth:`Session.map_built` (its chains built on the
workers, then their chunks planned from each build's timed pilot). The caller hands over a
*context* (the chain models and scenario, shipped once per worker: a pool
initializer, a Dask broadcast scatter) and a list of *items* (what one chunk computes, seeds
included). The worker function gets ``(context, item)`` and returns the chunk already reduced
(summary statistics, per-draw losses, whatever the caller asked for), so only that travels
back. Results come back in item order whatever the executor, and every chunk's randomness is
fixed by its item, so the same seed gives the same numbers on every executor.

Dask workers are tuned once per worker (:func:`tune_worker`): the nanny's
``MALLOC_TRIM_THRESHOLD_=65536`` disables glibc's dynamic mmap threshold, so every numpy
temporary above 128 KiB was mapped fresh from the OS (measured 2.3x slower per chunk); the
worker restores a 32 MiB mmap threshold with ``mallopt`` and one BLAS/OpenMP thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import math
import os
import pickle
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import numpy as np

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")
B = TypeVar("B")
P = TypeVar("P")

#: Environment a critmin worker runs with: one BLAS/OpenMP thread (the engine is one compiled
#: loop per process; parallelism comes from worker processes).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
#: glibc mallopt parameters (malloc.h) and the values a worker restores.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest mmap threshold on 64-bit
TRIM_THRESHOLD = 128 * 2**20
#: Dask's periodic callbacks, slowed: every server (scheduler, nanny, worker) ticks every 20 ms
#: to watch its event loop, each worker checks its memory every 100 ms and samples the system
#: every 500 ms. An idle LocalCluster of 2 workers spent 6% of a core on them (0.62 CPU seconds
#: in 10 s), 1.4% at these intervals; on 2 cores that is time taken from the engine.
QUIET_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
#: Chunks submitted ahead per worker (bounds the results waiting in memory).
WINDOW_PER_WORKER = 4
#: A chunk should run at least this long, so scheduling overhead stays small (s).
TARGET_CHUNK_SECONDS = 0.5


class Executor(StrEnum):
    LOCAL = "local"
    DASK = "dask"


@dataclass(frozen=True)
class Execution:
    """Where chunks run: in-process (``workers=1``), a local process pool, or Dask (a
    ``scheduler`` address, else a LocalCluster of ``workers`` processes)."""

    executor: Executor = Executor.LOCAL
    workers: int = 1
    scheduler: str | None = None

    @property
    def parallel(self) -> int:
        """How many chunks run at once (a remote cluster's size is not known here: 2 per
        requested worker is a floor for chunk sizing)."""
        return max(1, self.workers)


def seed_streams(
    seed: int, specs: int, minerals: int
) -> list[tuple[np.random.SeedSequence, list[np.random.SeedSequence]]]:
    """The ensemble's random streams: per scenario spec, one for the events' timing and one per
    mineral's chain (a re-run of one chain with its own stream reproduces it exactly)."""
    out = []
    for ss in np.random.SeedSequence(seed).spawn(specs):
        timing, *chains = ss.spawn(1 + minerals)
        out.append((timing, chains))
    return out


def block_seeds(seed: int, minerals: int, blocks: int) -> list[list[np.random.SeedSequence]]:
    """Per mineral, one stream per block of draws: block b of mineral i draws from
    ``SeedSequence(seed).spawn(minerals)[i].spawn(blocks)[b]``, however blocks are grouped
    into chunks and wherever they run."""
    return [ss.spawn(blocks) for ss in np.random.SeedSequence(seed).spawn(minerals)]


def blocks_per_chunk(
    seconds_per_block: float,
    blocks: int,
    parallel: int,
    *,
    target: float = TARGET_CHUNK_SECONDS,
    max_blocks: int | None = None,
    least: int = 2,
) -> int:
    """Group blocks into chunks from a measured cost: long enough to amortise scheduling
    (``target`` seconds), short enough to give every worker ``least`` chunks of these."""
    want = max(1, round(target / max(seconds_per_block, 1e-6)))
    spread = max(1, math.ceil(blocks / (least * parallel)))
    out = min(want, spread)
    return max(1, min(out, max_blocks) if max_blocks else out)


def tune_worker() -> None:
    """Undo what slows numpy on a Dask worker: restore glibc's large mmap and trim
    thresholds (the nanny's MALLOC_TRIM_THRESHOLD_ pins them low) and use one BLAS thread."""
    os.environ.update(THREAD_ENV)
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - not glibc
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):  # pragma: no cover - a libc without mallopt
        return


_TUNED = False


def dask_worker_env() -> dict[str, str]:
    """The environment a LocalCluster's nanny gives its workers: dask's own pre-spawn
    variables without MALLOC_TRIM_THRESHOLD_, plus one thread for BLAS/OpenMP."""
    import dask  # noqa: PLC0415 - optional, heavy

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {k: str(v) for k, v in env.items()} | THREAD_ENV


_CONTEXTS: dict[str, Any] = {}


def _install(token: str, context: Any) -> None:
    tune_worker()
    _CONTEXTS[token] = context


@dataclass
class Stats:
    """What a session's tasks cost where they ran (summed over tasks): wall seconds and the
    task thread's CPU seconds. Equal CPU for 1 and N workers means the work itself scaled; wall
    above CPU on a worker is time the core was not ours (a shared machine) or spent waiting."""

    tasks: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, wall: float, cpu: float) -> None:
        self.tasks += 1
        self.wall += wall
        self.cpu += cpu


def _measured(fn: Callable[..., R], *args: Any) -> tuple[R, float, float]:
    """``fn(*args)`` with its wall and thread CPU seconds (where it runs)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.thread_time() - c0


def _on_dask(fn: Callable[..., R], *args: Any) -> tuple[R, float, float]:
    """A task on a Dask worker, tuned once per worker process (also one that joined late)."""
    global _TUNED  # noqa: PLW0603 - once per process
    if not _TUNED:
        tune_worker()
        _TUNED = True
    return _measured(fn, *args)


def _pack(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _packed(fn: Callable[..., R], token: str, payload: bytes, args: bytes) -> bytes:
    """A task on Dask, on the run's context (:func:`_context`), its arguments and result
    each pickled into one bytes object. Dask would send each numpy array as a frame of its
    own: a 25-block chunk's summary parts are about 470 small arrays, a chain's build about
    60, its blocks' seeds one each, and frames by the hundred cost the worker's and the
    client's event loops more than the bytes do (the pool pickles in one piece too)."""
    return _pack(_on_dask(fn, _context(token, payload), *pickle.loads(args)))


def _in_pool(fn: Callable[..., R], token: str, *args: Any) -> tuple[R, float, float]:
    """A task in a pool process, on the context its initializer installed."""
    return _measured(fn, _CONTEXTS[token], *args)


def _on_dask_built(
    fn: Callable[..., Any], token: str, payload: bytes, build: bytes, item: bytes
) -> bytes:
    """A chunk task on Dask given its key's packed build (what :func:`_packed` returned for
    it: the build's future itself, so no extra task picks the part the chunk uses)."""
    built = pickle.loads(build)[0][0]
    return _pack(_on_dask(fn, _context(token, payload), built, pickle.loads(item)))


#: Contexts a Dask worker process keeps between runs (a long-lived ``dask worker``).
KEPT_CONTEXTS = 2
_CONTEXT_LOCK = threading.Lock()


def _context(token: str, payload: bytes) -> Any:
    """The run's context on a Dask worker: unpickled from ``payload`` once per worker process
    and kept under ``token`` (the SHA-256 of ``payload``), so a worker that lives on serves
    a later run with the same context without unpickling it again; the
    :data:`KEPT_CONTEXTS` last used are kept."""
    with _CONTEXT_LOCK:
        if token in _CONTEXTS:
            _CONTEXTS[token] = ctx = _CONTEXTS.pop(token)  # most recently used last
            return ctx
        ctx = pickle.loads(payload)
        while len(_CONTEXTS) >= KEPT_CONTEXTS:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        _CONTEXTS[token] = ctx
        return ctx


Pending = Callable[[], tuple[Any, float, float]]


@dataclass(frozen=True)
class Built(Generic[K, B, P]):
    """A key's build came back: what its chunks use (``value``) and what only the caller needs
    (``extra``: e.g. a timed pilot chunk)."""

    key: K
    value: B
    extra: P


@dataclass(frozen=True)
class Done(Generic[K, T, R]):
    """One chunk of ``key`` came back (in the order its key's ``plan`` listed it)."""

    key: K
    item: T
    result: R


class _Runner:
    """Submit tasks on one executor: ``submit(fn, *args)`` runs ``fn(context, *args)`` where
    the context was shipped once per worker, and gives back a ``Pending``; ``ref`` turns a
    pending build into an argument for later tasks (on Dask the future itself, so the value
    moves from worker to worker, at most once per worker, never through the client)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        raise NotImplementedError

    def build(self, fn: Callable[..., Any], key: Any) -> Pending:
        """Like ``submit``, for a build that later tasks will ``ref``."""
        return self.submit(fn, key)

    def ref(self, pending: Pending) -> Any:
        return pending()[0][0]

    def submit_built(self, fn: Callable[..., Any], ref: Any, item: Any) -> Pending:
        """``fn(context, built, item)`` with ``ref`` from :meth:`ref`."""
        return self.submit(fn, ref, item)

    def close(self) -> None:
        """Release what the runner holds."""


class _Here(_Runner):
    def __init__(self, context: Any) -> None:
        self.context = context

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        out = _measured(fn, self.context, *args)
        return lambda: out


class _Pool(_Runner):
    def __init__(self, context: Any, workers: int) -> None:
        self.token = uuid.uuid4().hex
        self.pool = ProcessPoolExecutor(
            max_workers=workers, initializer=_install, initargs=(self.token, context)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        fut = self.pool.submit(_in_pool, fn, self.token, *args)
        return fut.result

    def close(self) -> None:
        self.pool.shutdown()


class _Dask(_Runner):
    def __init__(self, client: Any, context: Any) -> None:
        self.client = client
        # the context pickled here once, its hash names it on the workers (see _context);
        # bytes travel as one frame and are not pickled again
        payload = pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)
        self.token = hashlib.sha256(payload).hexdigest()
        (self.shared,) = client.scatter([payload], broadcast=True, hash=False)
        self.held: list[Any] = []

    def _submit(self, task: Callable[..., Any], /, *args: Any) -> Any:
        return self.client.submit(task, *args, pure=False)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        fut = self._submit(_packed, fn, self.token, self.shared, _pack(args))
        return _unpacked(fut, release=True)

    def build(self, fn: Callable[..., Any], key: Any) -> Pending:
        fut = self._submit(_packed, fn, self.token, self.shared, _pack((key,)))
        self.held.append(fut)
        result = _unpacked(fut, release=False)
        result.future = fut  # type: ignore[attr-defined]
        return result

    def ref(self, pending: Pending) -> Any:
        return pending.future  # type: ignore[attr-defined]

    def submit_built(self, fn: Callable[..., Any], ref: Any, item: Any) -> Pending:
        fut = self._submit(_on_dask_built, fn, self.token, self.shared, ref, _pack(item))
        return _unpacked(fut, release=True)

    def close(self) -> None:
        for fut in [*self.held, self.shared]:
            fut.release()


def _unpacked(fut: Any, *, release: bool) -> Pending:
    """The pending result of a packed Dask task (released once read, unless later tasks
    depend on it)."""

    def result() -> tuple[Any, float, float]:
        out: tuple[Any, float, float] = pickle.loads(fut.result())
        if release:
            fut.release()
        return out

    return result


class Session:
    """An open executor: ``map`` / ``map_built`` run chunks on it, as many times as the caller
    needs (a Dask cluster is started or connected once per session, not once per map).
    ``stats`` sums what every task cost on its worker."""

    def __init__(self, execution: Execution, client: Any = None) -> None:
        self.execution = execution
        self.client = client
        self.stats = Stats()

    @property
    def workers(self) -> int:
        """Worker processes (a Dask cluster's as the scheduler reports them)."""
        if self.client is not None:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        return self.execution.parallel

    def _runner(self, context: Any, tasks: int, warm: Callable[[], None] | None) -> _Runner:
        if self.client is not None:
            return _Dask(self.client, context)
        if self.execution.workers <= 1 or tasks <= 1:
            return _Here(context)
        if warm is not None:  # before the pool forks: its processes inherit what this loads
            warm()
        return _Pool(context, min(self.execution.workers, tasks))

    def _collect(self, pending: Pending) -> Any:
        out, wall, cpu = pending()
        self.stats.add(wall, cpu)
        return out

    def map(
        self,
        work: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        progress: Callable[[int, int], None] | None = None,
        *,
        warm: Callable[[], None] | None = None,
    ) -> Iterator[R]:
        """``work(context, item)`` for every item, yielded in item order. ``work`` must be a
        module-level function (pickled by reference); ``context`` is sent once per worker.
        ``warm()`` runs here before a local pool forks (only then), so its processes inherit
        what it loads (e.g. the compiled kernel) instead of each loading it."""
        runner = self._runner(context, len(items), warm)
        total, done = len(items), 0
        window = WINDOW_PER_WORKER * max(self.workers, self.execution.parallel)
        pending: deque[Pending] = deque()
        it = iter(items)
        try:
            while True:
                while len(pending) < window:
                    item = next(it, _END)
                    if item is _END:
                        break
                    pending.append(runner.submit(work, item))
                if not pending:
                    return
                out: R = self._collect(pending.popleft())
                done += 1
                if progress:
                    progress(done, total)
                yield out
        finally:
            runner.close()

    def map_built(
        self,
        build: Callable[[C, K], tuple[B, P]],
        work: Callable[[C, B, T], R],
        context: C,
        keys: Sequence[K],
        plan: Callable[[K, B, P], Sequence[T]],
        progress: Callable[[int, int], None] | None = None,
        *,
        warm: Callable[[], None] | None = None,
    ) -> Iterator[Built[K, B, P] | Done[K, T, R]]:
        """Build every key on the workers at once (``build(context, key)`` -> what its chunks
        use and what only the caller needs), then, as each build comes back, ``plan`` its
        chunks here and run ``work(context, built, item)`` for each. Yields, key by key in
        ``keys`` order, the key's ``Built`` and then its ``Done`` chunks in plan order; a
        few chunks per worker run ahead, across keys. On Dask a build stays on the worker
        that made it and moves to another worker at most once. ``warm`` as for :meth:`map`."""
        runner = self._runner(context, self.execution.workers, warm)  # chunks not known yet
        window = WINDOW_PER_WORKER * max(self.workers, self.execution.parallel)
        builds = [runner.build(build, key) for key in keys]
        planned, done = len(keys), 0

        def jobs() -> Iterator[tuple[Built[K, B, P] | None, K, T | None, Any]]:
            nonlocal planned
            for key, pending in zip(keys, builds, strict=True):
                value, extra = self._collect(pending)
                items = plan(key, value, extra)
                planned += len(items)
                yield Built(key, value, extra), key, None, None
                if items:
                    ref = runner.ref(pending)
                    for item in items:
                        yield None, key, item, ref

        queue: deque[tuple[Built[K, B, P] | None, K, T | None, Pending | None]] = deque()
        running = 0
        it = jobs()
        try:
            while True:
                while running < window:
                    job = next(it, None)
                    if job is None:
                        break
                    built, key, item, ref = job
                    if built is not None:
                        queue.append((built, key, None, None))
                    else:
                        queue.append((None, key, item, runner.submit_built(work, ref, item)))
                        running += 1
                if not queue:
                    return
                built, key, item, pending = queue.popleft()
                if built is not None:
                    yield built
                    continue
                assert pending is not None
                running -= 1
                result: R = self._collect(pending)
                done += 1
                if progress:
                    progress(done, planned)
                yield Done(key, item, result)  # type: ignore[arg-type]
        finally:
            runner.close()


_END: Any = object()


@contextmanager
def session(execution: Execution) -> Iterator[Session]:
    """Open the executor ``execution`` names (Dask: connect to ``scheduler`` or start a tuned
    LocalCluster) for one or more ``map`` calls."""
    if execution.executor is not Executor.DASK:
        yield Session(execution)
        return
    import dask  # noqa: PLC0415 - optional, heavy
    from distributed import Client, LocalCluster  # noqa: PLC0415

    cluster = None
    if execution.scheduler:
        client = Client(execution.scheduler)  # type: ignore[no-untyped-call]
    else:
        with dask.config.set(local_cluster_config()):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=execution.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never collide with another cluster
            )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        yield Session(execution, client)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def local_cluster_config() -> dict[str, Any]:
    """Dask settings a LocalCluster critmin starts gets: the tuned nanny environment
    (:func:`dask_worker_env`), no statistical profiler (it samples the compute thread's
    stack every 10 ms, taking the GIL from the engine) and slower periodic callbacks
    (:data:`QUIET_CONFIG`)."""
    return {
        "distributed.nanny.pre-spawn-environ": dask_worker_env(),
        "distributed.worker.profile.enabled": False,
    } | QUIET_CONFIG


def map_chunks(
    work: Callable[[C, T], R],
    context: C,
    items: Sequence[T],
    execution: Execution,
    progress: Callable[[int, int], None] | None = None,
    *,
    warm: Callable[[], None] | None = None,
) -> Iterator[R]:
    """One ``map`` on a session of its own (see :class:`Session`)."""
    with session(execution) as s:
        yield from s.map(work, context, items, progress, warm=warm)


def timed(fn: Callable[..., R], *args: Any) -> tuple[R, float]:
    """Run ``fn(*args)`` here and measure its CPU seconds on this thread (the pilot that sizes
    the rest). CPU, not wall: on a machine other users load, wall time counts their share of
    the core too, and chunks sized from it came out up to 4x too small (130-180 tasks instead
    of about 40 for china-2025-10 at 10,000 draws), multiplying the per-task overhead."""
    c0 = time.thread_time()
    out = fn(*args)
    return out, time.thread_time() - c0
