"""The command line's bad-input contract, in one place.

Every user mistake ends in ONE line on stderr that names the option, file, row or field and
the fix, a non-zero exit, and nothing written: options are typed and bounded (finite numbers,
seeds, runs, workers, ports), outputs are checked writable before any computation and are
written to a temporary path then moved into place, and a memory estimate is printed before a
large ensemble (refused past the limit). ``Guarded`` is the last net: an exception that
escapes a command is reported as one line (exit 70), never as a traceback; the hypothesis
suite in ``tests/hardening`` fails on that line too, so it is not a way to hide bugs.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from critmin.simulate import draws

#: Upper bounds on the ensemble size (draws per scenario).
MAX_RUNS = 1_000_000
#: Bytes held per draw, per simulated month and per mineral (measured: 11.5 KB per draw for
#: 12 months of rare earths, i.e. ~960 B/month), times 3 for working copies and quantiles.
BYTES_PER_DRAW_MONTH = 960 * 3
#: Ensembles whose estimate exceeds this many bytes print it before they start.
ANNOUNCE_BYTES = 256 * 2**20
MEMORY_ENV = "CRITMIN_MAX_MEMORY_MB"
DEBUG_ENV = "CRITMIN_DEBUG"
INTERNAL = 70


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, a non-zero exit."""
    line = " ".join(str(message).split())
    click.echo(f"critmin: {line}", err=True)
    sys.exit(code)


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]
    """A float that is finite and within [low, high]."""

    name = "number"

    def __init__(self, low: float = 0.0, high: float = 1e15) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            x = float(value)
        else:
            try:
                x = float(str(value).replace("_", ""))
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not self.low <= x <= self.high:
            self.fail(f"{value!r} is outside [{self.low:g}, {self.high:g}]", param, ctx)
        return x


class FiniteDecimal(click.ParamType):  # type: ignore[type-arg]
    """A decimal amount (USD) that is finite and within [low, high]."""

    name = "amount"

    def __init__(self, low: str = "0", high: str = "1e13") -> None:
        self.low, self.high = decimal.Decimal(low), decimal.Decimal(high)

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> decimal.Decimal:
        if isinstance(value, decimal.Decimal):
            x = value
        else:
            try:
                x = decimal.Decimal(str(value).strip().replace("_", ""))
            except decimal.InvalidOperation:
                self.fail(f"{value!r} is not a number (e.g. 2.5e9)", param, ctx)
        if not x.is_finite():
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not self.low <= x <= self.high:
            self.fail(f"{value!r} is outside [{self.low}, {self.high}]", param, ctx)
        return x


#: A random seed: a non-negative integer below 2**63.
SEED = click.IntRange(0, 2**63 - 1)
RUNS = click.IntRange(1, MAX_RUNS)
#: Draws per stratum of the criticality ranking (rank, criticality, review; serve caps lower).
RANK_RUNS = click.IntRange(draws.MIN_RUNS, draws.MAX_RUNS)
RANK_RUNS_HELP = "Draws per stratum of the ranking (the no-event stratum and each event alone)."
PORT = click.IntRange(1, 65535)
YEAR = click.IntRange(1900, 2100)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_workers(workers: int, scheduler: str | None = None) -> None:
    """A local pool may not have more workers than the machine has cores."""
    if scheduler is None and workers > cores():
        fail(
            f"--workers {workers}: this machine has {cores()} core(s); use at most {cores()} "
            "or give --scheduler for a Dask cluster"
        )


def check_scheduler(address: str | None) -> None:
    """A Dask scheduler address must answer (checked in 5 s, before any data is loaded)."""
    if address is None:
        return
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        fail(f"--scheduler {address}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        fail(f"--scheduler {address}: cannot connect ({exc.strerror or exc}); is it running?")


def memory_limit() -> int:
    """Bytes an ensemble may use: $CRITMIN_MAX_MEMORY_MB, else half the available memory."""
    given = os.environ.get(MEMORY_ENV)
    if given:
        try:
            return int(float(given) * 2**20)
        except ValueError:
            fail(f"${MEMORY_ENV}={given!r} is not a number of megabytes")
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 2**30


def size(n: float) -> str:
    """Bytes as the checks print them: '1,234.5 GiB', or '12.3 MiB' below 1 GiB."""
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def check_memory(runs: int, months: int, minerals: int, option: str = "--runs") -> int:
    """Estimate the ensemble's memory; print it if large, refuse it past the limit."""
    need = runs * max(months, 1) * max(minerals, 1) * BYTES_PER_DRAW_MONTH
    limit = memory_limit()
    if need > limit:
        most = max(1, limit // (max(months, 1) * max(minerals, 1) * BYTES_PER_DRAW_MONTH))
        fail(
            f"{option} {runs}: the ensemble needs about {size(need)}, above the limit "
            f"of {size(limit)} (${MEMORY_ENV}); use {option} {most} or fewer"
        )
    if need > ANNOUNCE_BYTES:
        click.echo(f"memory estimate: about {need / 2**20:,.0f} MiB for {runs:,} draws", err=True)
    return need


def free_bytes(path: Path) -> tuple[Path, int]:
    """The nearest existing folder of ``path`` and the bytes free on its filesystem."""
    probe = path.absolute()
    while not probe.exists():
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def check_disk(need: int, runs: int, folder: Path, option: str) -> None:
    """Refuse an output of ``need`` bytes (for ``runs`` draws) that the free space of
    ``folder``'s filesystem cannot hold, before anything is computed or written."""
    probe, free = free_bytes(folder)
    if need > free:
        most = free * runs // need
        fail(
            f"{option}: the paths of {runs:,} draws need about {size(need)} on disk, more than "
            f"the {size(free)} free on {probe}; use --runs {most:,} or fewer, a shorter "
            "--horizon or another --out"
        )


def check_file_out(path: Path | None, option: str) -> None:
    """An output file must be creatable: its folder exists and is writable, it is no folder."""
    if path is None:
        return
    if path.is_dir():
        fail(f"{option} {path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{option} {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{option} {path}: not writable; choose another path")


def check_dir_out(path: Path | None, option: str) -> None:
    """An output folder must be creatable (or an existing, writable folder)."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        fail(f"{option} {path}: exists and is not a folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        fail(f"{option} {path}: {probe} is not writable; choose another folder")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and move it into place."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", dir=path.parent if str(path.parent) else "."
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def staged_dir(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path``; on success it replaces ``path`` (an earlier
    folder of that name is moved aside and removed only after the new one is in place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _known(exc: Exception) -> tuple[str, int] | None:
    """A one-line message and exit code for the domain's own errors."""
    from critmin.ledger.errors import LedgerError
    from critmin.scenarios.load import ScenarioError
    from critmin.schema.validate import DataError

    if isinstance(exc, DataError | ScenarioError):
        return str(exc), 2
    if isinstance(exc, LedgerError):
        return getattr(exc, "message", None) or str(exc), 1
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", 1
    return None


class Guarded(click.Group):
    """A group whose usage errors are one line, and that turns an exception escaping a
    command into one line (exit 70)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Abort:
            fail("aborted; nothing was written", 1)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            fail(f"{exc.format_message()}{where}", exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted; nothing was written", 130)
        except BrokenPipeError:
            # the reader stopped (``critmin outlook | head``): no message, and none from
            # the interpreter's flush at exit either; status 1, as rich's own handling of
            # a broken pipe (Console.on_broken_pipe) and the Python documentation's recipe
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except MemoryError:
            fail("out of memory: use fewer --runs or a smaller horizon", 1)
        except Exception as exc:
            known = _known(exc)
            if known is not None:
                fail(*known)
            if os.environ.get(DEBUG_ENV):
                raise
            what = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            fail(
                f"internal error: {type(exc).__name__}: {what[:300]} "
                f"(set {DEBUG_ENV}=1 for the traceback and report it)",
                INTERNAL,
            )
