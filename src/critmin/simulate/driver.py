"""The one ensemble driver: seeded streams, chunks of work, executors (in-process, a local
process pool, Dask), each chunk reduced on its worker to what the caller needs.

``simulate``, ``rank`` and ``build_ensemble`` all run through :func:`map_chunks`. The caller
hands over a *context* (the chain models and scenario, shipped once per worker: a pool
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
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

#: Environment a critmin worker runs with: one BLAS/OpenMP thread (the engine is vectorised
#: over scenarios; parallelism comes from worker processes).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
#: glibc mallopt parameters (malloc.h) and the values a worker restores.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest mmap threshold on 64-bit
TRIM_THRESHOLD = 128 * 2**20
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
) -> int:
    """Group blocks into chunks from a measured cost: long enough to amortise scheduling
    (``target`` seconds), short enough to give every worker at least two chunks."""
    want = max(1, round(target / max(seconds_per_block, 1e-6)))
    spread = max(1, math.ceil(blocks / (2 * parallel)))
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


def _tuned_call(work: Callable[[C, T], R], context: C, item: T) -> R:
    """``work(context, item)`` on a Dask worker, tuned once per worker process (also a worker
    that joined after the client connected)."""
    global _TUNED  # noqa: PLW0603 - once per process
    if not _TUNED:
        tune_worker()
        _TUNED = True
    return work(context, item)


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


def _call(work: Callable[[Any, T], R], token: str, item: T) -> R:
    return work(_CONTEXTS[token], item)


class Session:
    """An open executor: ``map`` runs chunks on it, as many times as the caller needs (a Dask
    cluster is started or connected once per session, not once per map)."""

    def __init__(self, execution: Execution, client: Any = None) -> None:
        self.execution = execution
        self.client = client

    def map(
        self,
        work: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[R]:
        """``work(context, item)`` for every item, yielded in item order. ``work`` must be a
        module-level function (pickled by reference); ``context`` is sent once per worker."""
        total = len(items)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        execution = self.execution
        if self.client is not None:
            yield from _dask_map(self.client, work, context, items, execution, tick)
            return
        if execution.workers <= 1 or total <= 1:
            for item in items:
                out = work(context, item)
                tick()
                yield out
            return
        token = uuid.uuid4().hex
        with ProcessPoolExecutor(
            max_workers=min(execution.workers, total),
            initializer=_install,
            initargs=(token, context),
        ) as pool:
            yield from _windowed(
                lambda item: pool.submit(_call, work, token, item).result,
                items,
                WINDOW_PER_WORKER * execution.parallel,
                tick,
            )


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
        with dask.config.set({"distributed.nanny.pre-spawn-environ": dask_worker_env()}):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=execution.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        yield Session(execution, client)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def map_chunks(
    work: Callable[[C, T], R],
    context: C,
    items: Sequence[T],
    execution: Execution,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[R]:
    """One ``map`` on a session of its own (see :class:`Session`)."""
    with session(execution) as s:
        yield from s.map(work, context, items, progress)


def _windowed(
    submit: Callable[[T], Callable[[], R]],
    items: Sequence[T],
    window: int,
    tick: Callable[[], None],
) -> Iterator[R]:
    """Submit ahead a window of chunks (a few per worker), collect in item order: at most the
    window's results wait in memory, however many chunks there are."""
    pending: deque[Callable[[], R]] = deque()
    it = iter(items)
    for item in it:
        pending.append(submit(item))
        if len(pending) >= window:
            break
    while pending:
        out = pending.popleft()()
        for item in it:
            pending.append(submit(item))
            break
        tick()
        yield out


def _dask_map(
    client: Any,
    work: Callable[[C, T], R],
    context: C,
    items: Sequence[T],
    execution: Execution,
    tick: Callable[[], None],
) -> Iterator[R]:
    # one future for the whole context (scatter would split a list or dict into many)
    (shared,) = client.scatter([context], broadcast=True, hash=False)

    def submit(item: T) -> Callable[[], R]:
        fut = client.submit(_tuned_call, work, shared, item, pure=False)

        def result() -> R:
            out: R = fut.result()
            fut.release()
            return out

        return result

    workers = len(client.scheduler_info().get("workers", {}))
    window = WINDOW_PER_WORKER * max(workers, execution.parallel)
    try:
        yield from _windowed(submit, items, window, tick)
    finally:
        shared.release()


def timed(work: Callable[[C, T], R], context: C, item: T) -> tuple[R, float]:
    """Run one chunk here and measure it (the pilot that sizes the rest)."""
    t0 = time.perf_counter()
    out = work(context, item)
    return out, time.perf_counter() - t0
