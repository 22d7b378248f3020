"""The ``critmin`` command line: map, measure and report on critical-mineral supply chains."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from critmin import cli_checks as checks
from critmin.simulate import draws

if TYPE_CHECKING:
    import pandas as pd

    from critmin.chain import SupplyChain
    from critmin.optimize.partners import Partner
    from critmin.report import table_fit

FORMATS = click.Choice(["table", "json", "csv", "xlsx"])

#: Terminal tables fit this many columns (wider terminals get no wider tables).
TABLE_WIDTH = 100


def _split(values: Iterable[str], option: str | None = None) -> list[str]:
    """Accept ``--mineral a --mineral b`` and ``--mineral a,b``. With ``option``, an option
    given nothing but empty ids (``--mineral "$UNSET"``) is refused rather than read as all."""
    given = list(values)
    ids = [v.strip() for item in given for v in item.split(",") if v.strip()]
    if option is not None and given and not ids:
        _fail(f"{option} {given[0]!r}: no id given (leave {option} out to select all)")
    return ids


def _fail(message: str, code: int = 2) -> NoReturn:
    checks.fail(message, code)


def _chain(ctx: click.Context) -> SupplyChain:
    from critmin import lazydask

    lazydask.defer()  # xarray need not import dask for commands that do not use it
    from critmin.chain import SupplyChain
    from critmin.schema.validate import DataError

    try:
        return SupplyChain.load(ctx.obj.get("data"))
    except DataError as exc:
        _fail(str(exc))


def _quick_exit() -> None:
    """End a read-only command that has printed everything, when it runs as the ``critmin``
    program: flush the output and leave without the interpreter's teardown of some 800
    modules (0.1-0.2 s of ``critmin exposure``). Anywhere else (tests, ``python -c``) this
    returns and the command ends as usual; a failing flush raises as usual."""
    import os

    program = getattr(sys.modules.get("__main__"), "__file__", None)
    if program is None or Path(program).name != "critmin":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _chain_minerals(chain: SupplyChain) -> int:
    return int(chain.dataset["chains"]["mineral"].nunique())


def _check_year(chain: SupplyChain, year: int | None) -> None:
    """A --year must be one the production table covers."""
    if year is None:
        return
    years = chain.dataset["production"]["year"]
    low, high = int(years.min()), int(years.max())
    if not low <= year <= high:
        _fail(f"--year {year}: the data cover {low}-{high}; choose a year in that range")


def _emit(
    frame: pd.DataFrame,
    fmt: str,
    title: str,
    units: dict[str, str] | None = None,
    significant: Iterable[str] = (),
) -> None:
    """Print ``frame`` as a table (human headers, shares in %, dollars in $M/$B, the
    ``significant`` columns to three significant digits, at most TABLE_WIDTH columns wide),
    JSON, CSV, or an XLSX workbook on standard output."""
    if fmt == "json":
        from critmin.records import json_records

        click.echo(json.dumps(json_records(frame), indent=1))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "xlsx":
        from critmin.report.tables import table_bytes

        out = sys.stdout.buffer
        if sys.stdout.isatty():
            _fail("--format xlsx writes a workbook: redirect it to a file, e.g. > table.xlsx")
        out.write(table_bytes(frame, "xlsx", sheet=title))
        out.flush()
    else:
        from critmin.report.numbers import base, header, is_money, is_share, sig

        # a unit named for a column also serves its statistics (capacity: capacity_p05, ...);
        # a money column's note is shown when it says more than the dollars note and the
        # header do (over the horizon, a standard error), not for a bare USD or USD/yr
        present = set(frame.columns) | {base(str(c)) for c in frame.columns}
        shown = {
            k: v
            for k, v in (units or {}).items()
            if not is_share(k) and k in present and not (is_money(k) and v in ("USD", "USD/yr"))
        }
        notes = [f"{header(k)}: {v}" for k, v in shown.items()]
        if any(is_share(str(c)) for c in frame.columns):
            notes.append("shares in %")
        if any(is_money(c) for c in frame.columns):
            notes.append("dollars: US$ (K thousand, M million, B billion)")
        caption = "; ".join(notes) or None
        fine = set(significant)
        cells = [
            [
                sig(v) if c in fine else _cell(str(c), v)
                for c, v in zip(frame.columns, row, strict=True)
            ]
            for row in frame.itertuples(index=False)
        ]
        from critmin.report.table_fit import Field, fit

        fields = [
            Field(str(col), header(str(col)), [r[i] for r in cells], frame[col].dtype.kind in "iuf")
            for i, col in enumerate(frame.columns)
        ]
        for block in fit(fields, title, caption, TABLE_WIDTH):
            _print_table(block)


def _print_table(block: table_fit.Block) -> None:
    """One table laid out by ``critmin.report.table_fit``: the plain renderer when rich
    would print plain text, else rich (the two print the same characters)."""
    from critmin.report import plain_table

    text = None
    if _plain_output():  # rich's own layout, without rich (tests/test_plain_table.py)
        text = plain_table.render(
            block.columns, block.rows, block.title, block.caption, TABLE_WIDTH
        )
    if text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=block.title,
        caption=block.caption,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for c in block.columns:
        table.add_column(
            c.header,
            justify="right" if c.right else "left",
            overflow="fold",
            min_width=c.min_width,
            max_width=c.max_width,
        )
    for r in block.rows:
        table.add_row(*r)
    console = Console()
    console.width = TABLE_WIDTH
    console.print(table)


def _plain_output() -> bool:
    """Whether rich would print plain text here: not a terminal (by rich's own tests, which
    the environment can force), an encoding that has the box characters."""
    import os

    if any(k in os.environ for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")):
        return False
    if "ipykernel" in sys.modules or "idlelib" in sys.modules:
        return False
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    try:
        return encoding.startswith("utf") and not sys.stdout.isatty()
    except ValueError:
        return False


def _cell(column: str, v: object) -> str:
    from critmin.report.numbers import cell

    return cell(column, v)


@click.group(cls=checks.Guarded)
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A data folder whose tables override or extend the bundled ones.",
)
@click.version_option(package_name="critmin")
@click.pass_context
def main(ctx: click.Context, data: Path | None) -> None:
    """critmin: critical-mineral supply-chain security on sourced data."""
    ctx.ensure_object(dict)
    ctx.obj["data"] = data


@main.command()
@click.option("--mineral", multiple=True, help="Mineral id(s), e.g. rare_earths,cobalt.")
@click.option("--stage", multiple=True, help="Stage id(s): mining, refining, metal, magnets, ...")
@click.option(
    "--year", type=checks.YEAR, default=None, help="Year (default: latest with data per stage)."
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def exposure(
    ctx: click.Context, mineral: Sequence[str], stage: Sequence[str], year: int | None, fmt: str
) -> None:
    """Concentration and dependence per mineral and stage (shares: % in the table, fractions
    0-1 in csv, json and xlsx)."""
    from critmin.data import result_cache

    minerals, stages = _split(mineral, "--mineral"), _split(stage, "--stage")
    # the bundled data's table is kept on disk (result_cache): no chain to build on a hit
    cached = None if ctx.obj.get("data") else result_cache.key("exposure", minerals, stages, year)
    frame = result_cache.get(cached)
    if frame is None:
        from critmin.metrics.exposure import exposure_table

        chain = _chain(ctx)
        try:
            frame = exposure_table(chain, mineral=minerals, stage=stages, year=year)
        except KeyError as exc:
            _fail(str(exc.args[0]))
        result_cache.put(cached, frame)
    if frame.empty:
        asked = [f"--{k} {','.join(v)}" for k, v in (("mineral", minerals), ("stage", stages)) if v]
        _fail(f"no data for {' '.join(asked)} (see `critmin minerals` for each mineral's stages)")
    if fmt == "table":
        # the bottleneck stage is starred; unit, basis and source are in csv, json and xlsx
        frame["stage"] = frame["stage"].where(~frame["bottleneck"], frame["stage"] + "*")
        frame = frame.drop(columns=["basis", "unit", "bottleneck", "source_id"])
    _emit(frame, fmt, "Exposure by mineral and stage", frame.attrs.get("units"))
    _quick_exit()


@main.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def minerals(ctx: click.Context, fmt: str) -> None:
    """The bundled minerals, their list memberships and the chain stages with data."""
    chain = _chain(ctx)
    table = chain.dataset["minerals"].copy()
    table["stages"] = [
        " > ".join(chain.stages_of(m)) if m in chain.production.mineral else "" for m in table["id"]
    ]
    cols = ["id", "name", "family", "parent", "usgs_2025", "doe_2023", "eu_2023", "stages"]
    from critmin.report.findings import mineral_count

    _emit(table[cols], fmt, mineral_count(chain).sentence())


@main.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option(
    "--gaps",
    is_flag=True,
    help="List every hole instead: mineral, stage, item, reason (final 2025 U.S. list).",
)
@click.pass_context
def sources(ctx: click.Context, fmt: str, gaps: bool) -> None:
    """Where every bundled figure comes from, and how many rows each source supports."""
    if gaps:
        from critmin.data.load import load
        from critmin.metrics.coverage import gaps as find_gaps
        from critmin.schema.validate import DataError

        try:
            holes = find_gaps(load(ctx.obj.get("data")))
        except DataError as exc:
            _fail(str(exc))
        _emit(holes, fmt, f"{len(holes)} gaps (critical minerals of the final 2025 U.S. list)")
        return
    chain = _chain(ctx)
    ds = chain.dataset
    table = ds["sources"].copy()
    counts: dict[str, int] = {}
    for name in ds.tables:
        frame = ds[name]
        if "source_id" in frame.columns:
            for sid, n in frame["source_id"].value_counts().items():
                counts[str(sid)] = counts.get(str(sid), 0) + int(n)
    table["rows"] = table["id"].map(counts).fillna(0).astype(int)
    cols = ["id", "title", "publisher", "year", "address", "licence", "rows"]
    _emit(table[cols], fmt, f"{len(table)} sources")


#: ``--workers`` of the commands that run their ensemble on the one driver (rank, criticality,
#: optimize, portfolio; review's reserve sensitivity): local processes, or a Dask cluster's
#: workers with ``--scheduler``.
LOCAL_WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=min(2, checks.cores()),
    show_default=True,
    help="Worker processes (at most the number of cores unless --scheduler is given).",
)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("review"),
    show_default=True,
)
@click.option("--year", type=checks.YEAR, default=None, help="Year (default: latest per stage).")
@click.option(
    "--runs",
    type=checks.RANK_RUNS,
    default=draws.DEFAULT_RUNS,
    show_default=True,
    help="Draws per stratum of the ranking (as `critmin rank --runs`) and per disruption scenario.",
)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@click.option(
    "--sensitivity/--no-sensitivity",
    default=True,
    show_default=True,
    help="Re-solve the reserve plan with each assumed parameter at x0.5 and x1.5 and chart "
    "the share of the budget each moves (the longest step of the review).",
)
@LOCAL_WORKERS
@click.pass_context
def review(
    ctx: click.Context,
    out: Path,
    year: int | None,
    runs: int,
    seed: int,
    sensitivity: bool,
    workers: int,
) -> None:
    """Write the periodic supply-chain review (OUT/index.html) and print a summary."""
    import shutil

    from rich.console import Console

    from critmin.report.history import HISTORY_FILE
    from critmin.report.review import write_review

    checks.check_dir_out(out, "--out")
    checks.check_workers(workers)
    console = Console(stderr=True)
    with console.status("review: loading the data") as status:

        def progress(step: str) -> None:
            if console.is_terminal:
                status.update(f"review: {step}")
            else:
                click.echo(f"review: {step}", err=True)

        chain = _chain(ctx)
        _check_year(chain, year)
        checks.check_memory(runs, 12, _chain_minerals(chain))
        with checks.staged_dir(out) as staged:
            # the history of earlier reviews travels into the folder that replaces ``out``
            earlier = out / HISTORY_FILE
            if earlier.is_file():
                shutil.copy2(earlier, staged / HISTORY_FILE)
            summary = write_review(
                chain,
                staged,
                year=year,
                runs=runs,
                seed=seed,
                sensitivity=sensitivity,
                progress=progress,
                workers=workers,
            )
    for line in summary:
        click.echo(line.replace(str(staged), str(out)))
    click.echo(f"Review written to {out / 'index.html'}")


@main.group()
def data() -> None:
    """Build and check datasets."""


@data.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    type=checks.FiniteFloat(0, 100),
    default=5.0,
    show_default=True,
    help="Report shares that move by more than this many percentage points (0 to 100).",
)
def data_check(folder: Path | None, threshold: float) -> None:
    """Validate FOLDER (overlaid on the bundled tables), print every problem found, then what
    the folder changes: rows added or replaced, shares moved, rows shadowed by priority."""
    from critmin.data.load import collect

    if folder is not None and not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such folder"
        _fail(f"FOLDER {folder}: {what}", code=1)
    dataset, problems = collect(folder, include_lazy=True)
    for p in problems:
        click.echo(str(p), err=True)
    if dataset is None:
        _fail(f"{len(problems)} problem(s) found", code=1)
    n = sum(len(dataset[name]) for name in dataset.files)
    click.echo(f"ok: {len(dataset.files)} tables, {n:,} rows checked")
    if folder is None:
        return
    from critmin.data.load import load
    from critmin.report.overlay import compare

    report = compare(load(None), dataset, folder, threshold=threshold / 100)
    for line in report.lines(threshold / 100):
        click.echo(line)


@data.command("build")
@click.option(
    "--from",
    "raw",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of raw releases (geopolrisk/, usgs/).",
)
@click.option(
    "--src",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("data-src"),
    show_default=True,
    help="The repo's mappings and hand-entered tables.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: the package's bundled tables).",
)
def data_build(raw: Path, src: Path, out: Path | None) -> None:
    """Rebuild the bundled tables from the raw releases; refuse if anything does not check."""
    from critmin.data.build import build
    from critmin.data.load import bundled_dir
    from critmin.schema.validate import DataError

    target = out or bundled_dir()
    checks.check_dir_out(target, "--out")
    try:
        log = build(raw, src, target)
    except (DataError, FileNotFoundError, KeyError) as exc:
        _fail(f"build refused, nothing written: {exc}", code=1)
    for line in log.lines():
        click.echo(line)
    click.echo(f"built into {target}")


from critmin.ledger.cli import COMMANDS  # noqa: E402
from critmin.outlook.cli import COMMANDS as OUTLOOK_COMMANDS  # noqa: E402
from critmin.outlook.cli import RECYCLING, recycled_chain  # noqa: E402
from critmin.security.cli import COMMANDS as SECURITY_COMMANDS  # noqa: E402

for _command in (*COMMANDS, *OUTLOOK_COMMANDS, *SECURITY_COMMANDS):
    main.add_command(_command)


@main.command()
@click.argument("scenario")
@click.option("--runs", type=checks.RUNS, default=500, show_default=True)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@click.option(
    "--period", type=click.Choice(["month", "quarter"]), default="month", show_default=True
)
@click.option(
    "--horizon",
    type=click.IntRange(1, 240),
    default=12,
    show_default=True,
    help="Number of periods.",
)
@click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True
)
@click.option(
    "--scheduler", default=None, help="Dask scheduler address (default: a local cluster)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=min(2, checks.cores()),
    show_default=True,
    help="Local worker processes (at most the number of cores unless --scheduler is given).",
)
@click.option("--no-reroute", is_flag=True, help="Importers do not turn to other suppliers.")
@click.option(
    "--keep-paths",
    is_flag=True,
    help="Also write every draw's paths (float32 netCDF, chunk by chunk) to the run folder; "
    "by default only streamed summaries are kept.",
)
@click.option(
    "--pool-below",
    type=checks.FiniteFloat(0.0, 0.2),
    default=None,
    help="Pool countries below this share (0 to 0.2) of a stage's world output into its "
    "'other countries' node (default: critmin.simulate.model.POOL_BELOW, 1%; 0 keeps every "
    "country; countries the scenario names are never pooled).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run folder (default: runs/<scenario>-<seed>).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@RECYCLING
@click.pass_context
def simulate(
    ctx: click.Context,
    scenario: str,
    runs: int,
    seed: int,
    period: str,
    horizon: int,
    executor: str,
    scheduler: str | None,
    workers: int,
    no_reroute: bool,
    keep_paths: bool,
    pool_below: float | None,
    out: Path | None,
    json_path: Path | None,
    recycling_year: int | None,
) -> None:
    """Run SCENARIO (a YAML file or a library name) as a seeded Monte Carlo ensemble."""
    checks.check_workers(workers, scheduler if executor == "dask" else None)
    if scheduler is not None and executor != "dask":
        _fail("--scheduler is used only with --executor dask")
    checks.check_scheduler(scheduler)
    checks.check_dir_out(out, "--out")
    checks.check_file_out(json_path, "--json")
    from rich.progress import Progress

    from critmin.scenarios.load import Labels, ScenarioError, load_scenario
    from critmin.scenarios.spec import Period
    from critmin.simulate.output import summary, write_run
    from critmin.simulate.runner import Executor, RunConfig
    from critmin.simulate.runner import simulate as run_ensemble

    try:
        load_scenario(scenario)  # the file's structure first: refused before the data load
    except ScenarioError as exc:
        _fail(str(exc))
    chain = recycled_chain(_chain(ctx), recycling_year, seed)
    try:
        spec = load_scenario(scenario, Labels.of(chain.dataset))
    except ScenarioError as exc:
        _fail(str(exc))
    folder = out or Path("runs") / f"{spec.name}-{seed}"
    checks.check_dir_out(folder, "--out")
    config = RunConfig(
        runs=runs,
        seed=seed,
        period=Period(period),
        horizon=horizon,
        executor=Executor(executor),
        scheduler=scheduler,
        workers=workers,
        reroute=not no_reroute,
    )
    if pool_below is not None:
        config = dataclasses.replace(config, pool_below=pool_below)
    if keep_paths:  # the paths are the one output that grows with draws x periods
        from critmin.simulate.runner import paths_bytes

        checks.check_disk(paths_bytes(chain, spec, config), runs, folder, "--keep-paths")
    # memory is flat in the draws: chunks are reduced to summaries (paths written chunk by chunk)
    with Progress(transient=True) as bar, checks.staged_dir(folder) as staged:
        config = dataclasses.replace(config, paths_dir=staged if keep_paths else None)
        task = bar.add_task(f"simulating {spec.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_ensemble(chain, spec, config, progress)
        write_run(result, chain.dataset, staged)
    if json_path is not None:
        checks.write_text(json_path, json.dumps(summary(result)))
    for mineral, mr in result.minerals.items():
        assert mr.summary is not None
        p50 = mr.summary.quantile("shortfall_total", 0.5)
        p95 = mr.summary.quantile("shortfall_total", 0.95)
        click.echo(
            f"{mineral}: shortfall over {horizon} {period}s by region (p50 / p95, "
            f"{mr.model.unit}): "
            + ", ".join(
                f"{r} {float(p50.sel(region=r)):,.0f} / {float(p95.sel(region=r)):,.0f}"
                for r in p50.region.values
            )
        )
    click.echo(f"run folder: {folder}")


#: ``--scheduler`` of the same commands (simulate has its own, with ``--executor dask``).
SCHEDULER = click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://host:port): run the chunks on that cluster.",
)


@main.command("rank")
@click.option(
    "--runs",
    type=checks.RANK_RUNS,
    default=draws.DEFAULT_RUNS,
    show_default=True,
    help=checks.RANK_RUNS_HELP,
)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@LOCAL_WORKERS
@SCHEDULER
@click.option("--all", "include_all", is_flag=True, help="Rank every mineral, not only U.S.-list.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--top",
    type=click.IntRange(1, 10_000),
    default=25,
    show_default=True,
    help="Ranked rows to print (the unranked ones follow, with their reason).",
)
@RECYCLING
@click.pass_context
def rank_cmd(
    ctx: click.Context,
    runs: int | None,
    seed: int,
    workers: int,
    scheduler: str | None,
    include_all: bool,
    json_path: Path | None,
    top: int,
    recycling_year: int | None,
) -> None:
    """Rank minerals by expected annual U.S. loss from foreign disruptions (USD/yr): GDP lost
    through the BEA input-output tables plus the terms-of-trade transfer."""
    _rank(ctx, runs, seed, workers, include_all, json_path, top, "table", scheduler, recycling_year)


@main.command("criticality")
@click.option(
    "--method",
    type=click.Choice(["eu", "usgs"]),
    default="usgs",
    show_default=True,
    help="eu: JRC supply risk and economic importance; usgs: the equilibrium/GDP ranking.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option(
    "--runs",
    type=checks.RANK_RUNS,
    default=draws.DEFAULT_RUNS,
    show_default=True,
    help=f"usgs: {checks.RANK_RUNS_HELP[0].lower()}{checks.RANK_RUNS_HELP[1:]}",
)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@LOCAL_WORKERS
@click.pass_context
def criticality_cmd(
    ctx: click.Context, method: str, fmt: str, runs: int | None, seed: int, workers: int
) -> None:
    """Criticality by the EU (JRC) method or the USGS-style equilibrium/GDP ranking."""
    if method == "usgs":
        _rank(ctx, runs, seed, workers, False, None, 25, fmt)
        return
    import pandas as pd

    from critmin.metrics.criticality import eu_criticality, eu_records

    records = eu_records(eu_criticality(_chain(ctx)))
    if fmt == "json":
        click.echo(json.dumps(records, indent=1))
        return
    frame = pd.DataFrame(records)[
        ["mineral", "sr", "ei", "bottleneck_stage", "critical", "eu_import_reliance", "eol_rir"]
    ]
    _emit(
        frame.sort_values(["critical", "sr"], ascending=False),
        fmt,
        "EU criticality (JRC method): supply risk and economic importance",
        {"sr": "critical at >= 1", "ei": "critical at >= 2.8"},
    )


@main.command("backtest")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
def backtest_cmd(ctx: click.Context, fmt: str) -> None:
    """Replay historical episodes: modelled against observed changes, each with its source."""
    import pandas as pd

    from critmin.simulate.backtest import backtest, backtest_records, score

    replayed = backtest(_chain(ctx))
    records = backtest_records(replayed)
    if fmt == "json":
        click.echo(json.dumps(records, indent=1))
        return
    _emit(
        pd.DataFrame(records),
        fmt,
        "Back-tests (in_sample rows were fitted on or are the scenario's input: not scored)",
    )
    if fmt == "table":
        for s in score(replayed):
            click.echo(s.describe())


def _rank(
    ctx: click.Context,
    runs: int | None,
    seed: int,
    workers: int,
    include_all: bool,
    json_path: Path | None,
    top: int,
    fmt: str,
    scheduler: str | None = None,
    recycling_year: int | None = None,
) -> None:
    checks.check_workers(workers, scheduler)
    checks.check_scheduler(scheduler)
    checks.check_file_out(json_path, "--json")
    import pandas as pd
    from rich.progress import Progress

    from critmin.simulate.rank import RANK_COLUMNS, RANK_UNITS, rank, rank_records

    chain = recycled_chain(_chain(ctx), recycling_year, seed)
    n = runs or draws.DEFAULT_RUNS
    checks.check_memory(n, 12, _chain_minerals(chain))
    with Progress(transient=True, disable=fmt != "table") as bar:
        task = bar.add_task("ranking minerals", total=None)
        rows = rank(
            chain,
            runs=n,
            seed=seed,
            workers=workers,
            include_all=include_all,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
            scheduler=scheduler,
        )
    records = rank_records(rows)
    if json_path is not None:
        checks.write_text(json_path, json.dumps(records, indent=1))
    if fmt == "json":
        click.echo(json.dumps(records, indent=1))
        return
    columns = list(RANK_COLUMNS)
    if fmt == "csv":  # every row, ranked then unranked, each with its reason (USD/yr)
        table = pd.DataFrame(records)[[*columns, "reason"]]
        table["rank"] = table["rank"].astype("Int64")
        _emit(table, "csv", "rank")
        return
    frame = pd.DataFrame(records)[columns]
    # the top ranked rows, then every unranked one (no dollar figure; its reason below)
    unranked = frame["rank"].isna()
    frame = pd.concat([frame[~unranked].head(top), frame[unranked]])
    frame["rank"] = frame["rank"].astype("Int64")
    _emit(
        frame,
        "table",
        f"Expected annual U.S. loss (GDP + terms of trade) from foreign disruptions, "
        f"{n} draws per scenario, seed {seed}",
        RANK_UNITS,
    )
    reasons = [r for r in records if r["rank"] is None]
    if reasons:
        click.echo("Unranked (no dollar figure):")
        for r in reasons:
            click.echo(f"  {r['mineral']}: {r['reason']}")
    click.echo(
        "Assumptions: default elasticities, spare capacity, the short-run substitution elasticity "
        "and background outage rates are critmin assumptions; see docs/criticality.md and the "
        "JSON's assumptions."
    )


def _check_partners(chain: SupplyChain, specs: Sequence[str], partners: Sequence[Partner]) -> None:
    """A --partner the reserve will refuse (a foreign entity of concern, an unknown country:
    ``optimize.partners.refusal``, the plan's own rule) or naming an earmarked mineral the data
    do not know is refused before the draws, in one line naming the option and the value."""
    from critmin.optimize.partners import refusal

    minerals = set(chain.dataset["minerals"]["id"].astype(str))
    for spec, p in zip(specs, partners, strict=True):
        why = refusal(chain, p)
        if why is not None:
            _fail(f"--partner {spec}: {why}")
        unknown = [m for m in p.earmark if m not in minerals]
        if unknown:
            _fail(
                f"--partner {spec}: unknown mineral {', '.join(unknown)} (see `critmin minerals`)"
            )


def _ledger_funds(url: str) -> float:
    """Accepted, unspent funds in the reserve ledger, USD."""
    from critmin.ledger.service import Ledger
    from critmin.ledger.state import Fund, State
    from critmin.ledger.vocabulary import Projection

    def available(state: State) -> float:
        return float(sum(f.available for f in state.all(Projection.FUND, Fund)))

    with Ledger.open(url) as ledger:  # never creates a database
        ledger.require_genesis()
        return ledger.read(available)


@main.command()
@click.option(
    "--budget", type=checks.FiniteFloat(0, 1e13), default=2.5e9, show_default=True, help="USD."
)
@click.option(
    "--partner-funds",
    type=checks.FiniteFloat(0, 1e13),
    default=0.0,
    show_default=True,
    help="Approved partner-government contributions, USD.",
)
@click.option(
    "--partner",
    "partner_specs",
    multiple=True,
    help="A partner contribution (repeatable): ISO3:USD[:MINERAL+MINERAL][:share=S][:rights=R] "
    "(earmark, largest share of a lot it pays, share of its tonnes it may draw in a shock); "
    "foreign entities of concern are refused.",
)
@click.option(
    "--database",
    default=None,
    help="Take the budget from the reserve ledger: its accepted, unspent funds "
    "(appropriation and accepted partner contributions).",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Scenario name or file (repeatable); default: the planning ensemble.",
)
@click.option("--runs", type=click.IntRange(10, checks.MAX_RUNS), default=500, show_default=True)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@click.option(
    "--period", type=click.Choice(["month", "quarter"]), default="quarter", show_default=True
)
@click.option(
    "--horizon",
    type=click.IntRange(1, 120),
    default=20,
    show_default=True,
    help="Number of periods.",
)
@click.option("--risk", default=None, help="cvar:ALPHA:LAMBDA, e.g. cvar:0.95:0.5")
@click.option(
    "--eligibility",
    default=None,
    help="The board's rule instead of the dataset's reserve_eligibility table: comma-separated "
    "nir>=X, restriction>=YYYY-MM, listed=NAME NAME, all (any one admits a mineral).",
)
@click.option(
    "--release-price",
    type=click.Choice(["market", "reference"]),
    default="market",
    show_default=True,
    help="What a sold release earns: the scenario's market price, or the reference price "
    "(a reserve that does not profit from the shortage holds a lot only for the loss it "
    "avoids; docs/reserve.md).",
)
@click.option(
    "--sensitivity-seconds",
    type=checks.FiniteFloat(0, 86400),
    default=300.0,
    show_default=True,
    help="Time for the plan's sensitivity to each assumed parameter (+/-50%, same scenarios) "
    "written with --json/--out (planning ensemble only, not with --scenario); cases left are "
    "listed unsolved; 0 skips it.",
)
@click.option(
    "--reduce-to",
    type=click.IntRange(1, checks.MAX_RUNS),
    default=None,
    help="Plan on N weighted scenarios chosen from the ensemble (scenario reduction); the "
    "JSON's 'reduction' reports the error bound and the plan's objective on every scenario.",
)
@click.option(
    "--reduce-method",
    type=click.Choice(["auto", "forward", "medoids"]),
    default="auto",
    show_default=True,
    help="forward: fast forward selection; medoids: k-medoids in L1 (large ensembles).",
)
@LOCAL_WORKERS
@SCHEDULER
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for plan.json and the ensemble (netCDF).",
)
@RECYCLING
@click.pass_context
def optimize(
    ctx: click.Context,
    budget: float,
    partner_funds: float,
    partner_specs: Sequence[str],
    database: str | None,
    scenarios: Sequence[str],
    runs: int,
    seed: int,
    period: str,
    horizon: int,
    risk: str | None,
    eligibility: str | None,
    release_price: str,
    sensitivity_seconds: float,
    reduce_to: int | None,
    reduce_method: str,
    workers: int,
    scheduler: str | None,
    json_path: Path | None,
    out: Path | None,
    recycling_year: int | None,
) -> None:
    """Size the reserve and choose offtakes and price floors (two-stage stochastic LP, HiGHS)."""
    checks.check_workers(workers, scheduler)
    checks.check_scheduler(scheduler)
    checks.check_file_out(json_path, "--json")
    checks.check_dir_out(out, "--out")
    if database is not None:
        budget, partner_funds = _ledger_funds(database), 0.0
    import pandas as pd
    from rich.progress import Progress

    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.ensemble import build_ensemble
    from critmin.optimize.plan import optimise, reduction_report
    from critmin.optimize.problem import Accounting, Infeasible, Risk
    from critmin.optimize.reduction import reduce_ensemble
    from critmin.scenarios.load import Labels, ScenarioError, load_scenario

    try:
        risk_spec = Risk.parse(risk)
    except ValueError as exc:
        _fail(f"--risk {risk}: {exc}")
    try:
        rule = Eligibility.parse(eligibility) if eligibility is not None else None
    except ValueError as exc:
        _fail(f"--eligibility {eligibility}: {exc}")
    from critmin.optimize.partners import Partner

    partners = []
    for spec in partner_specs:
        try:
            partners.append(Partner.parse(spec))
        except ValueError as exc:
            _fail(f"--partner {spec}: {exc}")
    if not (math.isfinite(risk_spec.alpha) and math.isfinite(risk_spec.weight)):
        _fail(f"--risk {risk}: ALPHA and LAMBDA must be finite numbers")
    if reduce_to is not None and reduce_to >= runs:
        _fail(f"--reduce-to {reduce_to}: must be below --runs ({runs})")
    chain = recycled_chain(_chain(ctx), recycling_year, seed)
    _check_partners(chain, partner_specs, partners)
    labels = Labels.of(chain.dataset)
    for name in scenarios:  # every scenario checked before the memory estimate and the draws
        try:
            load_scenario(name, labels)
        except ScenarioError as exc:
            _fail(str(exc))
    rule = rule if rule is not None else Eligibility.of(chain)
    forms = chain.dataset["reserve_forms"]
    admitted = [m for m, why in rule.admit(chain, sorted(set(forms["mineral"]))).items() if why]
    if not admitted:
        _fail(f"--eligibility {eligibility}: the rule admits no mineral with a reserve form")
    months = horizon * (1 if period == "month" else 3)
    checks.check_memory(runs, months, len(forms))
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating the scenario ensemble", total=None)
        try:
            ens = build_ensemble(
                chain,
                minerals=admitted,
                scenarios=list(scenarios) or None,
                runs=runs,
                seed=seed,
                months_per_period=1 if period == "month" else 3,
                horizon=horizon,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
                workers=workers,
                scheduler=scheduler,
            )
        except ScenarioError as exc:
            _fail(str(exc))
        planned = ens
        if reduce_to is not None:
            bar.update(task, description=f"reducing to {reduce_to} scenarios", total=None)
            reduction = reduce_ensemble(ens, reduce_to, method=reduce_method, seed=seed)
            planned = reduction.ensemble
        bar.update(task, description="optimising", total=None)
        accounting = Accounting.full(release_price=release_price)
        try:
            plan = optimise(
                chain,
                planned,
                budget=budget + partner_funds,
                risk=risk_spec,
                eligibility=rule,
                accounting=accounting,
                partners=partners,
                progress=lambda msg: bar.update(task, description=msg),
            )
            if reduce_to is not None:
                bar.update(task, description="evaluating the plan on every scenario")
                reduced_report = reduction_report(
                    chain, ens, reduction, plan, risk_spec, rule, partners, accounting
                )
        except Infeasible as exc:
            _fail(str(exc))
        data = plan.as_json()
        data["seed"] = seed
        data["recycling_year"] = recycling_year
        if chain.secondary is not None:
            data["recycled_supply_t_per_year"] = {
                str(m): float(v) for m, v in chain.secondary.to_series().items()
            }
        data["sensitivity"] = []
        # the re-simulation reproduces the planning ensemble's draws, not named scenarios'
        if sensitivity_seconds > 0 and not scenarios and (json_path is not None or out is not None):
            from critmin.optimize.sensitivity import parameter_sensitivity

            bar.update(task, description="sensitivity to assumed parameters", total=None)
            data["sensitivity"] = parameter_sensitivity(
                chain,
                ens,
                data,
                budget=budget + partner_funds,
                seed=seed,
                eligibility=rule,
                time_limit=sensitivity_seconds,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
                workers=min(workers, checks.cores()),
                release_price=release_price,
            )
    if reduce_to is not None:
        data["reduction"] = reduced_report
    if json_path is not None:
        checks.write_text(json_path, json.dumps(data, indent=1))
    if out is not None:
        with checks.staged_dir(out) as staged:
            (staged / "plan.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
            ens.us_shortfall().to_dataset(name="us_shortfall_t").assign(
                us_price_usd_t=ens.price
            ).to_netcdf(staged / "ensemble.nc", engine="scipy")
    held = pd.DataFrame(data["holdings"])
    held = held[held["tonnes"] > 1e-6][
        [
            "mineral",
            "form",
            "tonnes",
            "usd",
            "days_of_cover",
            "expected_loss_avoided_usd",
            "avoided_loss_per_usd",
        ]
    ].rename(columns={"expected_loss_avoided_usd": "expected_loss_avoided_horizon_usd"})
    _emit(
        held,
        "table",
        f"Reserve plan: ${data['spent_usd'] / 1e9:,.2f}B of "
        f"${data['budget_usd'] / 1e9:,.2f}B, {ens.scenarios} scenarios x {ens.periods} "
        f"{period}s",
        {"tonnes": "t (chain basis)", "usd": "USD"},
    )
    # a plan's losses are over its horizon, not per year (the JSON keeps its key)
    policies = pd.DataFrame(data["policies"]).rename(
        columns={
            "expected_loss_usd": "expected_loss_horizon_usd",
            "cvar_loss_usd": "cvar_loss_horizon_usd",
            "total_cost_usd": "total_cost_horizon_usd",
        }
    )
    _emit(
        policies.drop(columns="note"),
        "table",
        f"Policies on the same scenarios, over {ens.periods} {period}s "
        f"(CVaR at alpha {data['risk']['alpha']:g})",
        {"scale": "share of the (capped) defined stock the budget buys (1: all; -: not fitted)"},
    )
    for p in data["policies"]:
        if p["note"]:
            click.echo(f"policy {p['name']}: {p['note']}")
    signed = [a["id"] for a in data["agreements"] if a["signed"]]
    click.echo(f"agreements signed: {', '.join(signed) or 'none'}")
    click.echo(budget_sentence(data))
    for p in data["partners"]:
        if p["status"] == "refused":
            click.echo(f"partner refused: {p['reason']}")
        else:
            click.echo(f"partner {p['partner']}: ${p['spent_usd']:,.0f} spent")
    flagged = [f"{r['parameter']} ({r['mineral']})" for r in data["sensitivity"] if r["flagged"]]
    if data["sensitivity"]:
        click.echo(
            "assumptions moving > 25% of the budget at +/-50%: " + (", ".join(flagged) or "none")
        )
    if reduce_to is not None:
        r = data["reduction"]
        click.echo(
            f"scenario reduction ({r['method']}): {r['full_scenarios']} -> {r['scenarios']} "
            f"scenarios; objective {r['objective_reduced_usd'] / 1e9:,.3f}B USD on them, "
            f"{r['objective_on_full_usd'] / 1e9:,.3f}B on every scenario; bound on the "
            f"objective error {r['error_bound_usd'] / 1e9:,.3f}B USD"
        )


def budget_sentence(plan: dict[str, Any]) -> str:
    """The plan's marginal value of budget in words, from its JSON: the USD of expected loss
    (net of holding and capital cost, release revenue and terminal value) an extra USD of
    budget avoids, or that the budget does not bind (the dual is 0 and the extra dollar
    would not be spent)."""
    spent, budget = float(plan["spent_usd"]), float(plan["budget_usd"])
    if not plan["budget_binds"]:
        return (
            f"marginal value of budget: 0 USD per extra USD (the budget does not bind: "
            f"{spent / budget if budget > 0 else 0.0:.1%} of it spent, dual 0)"
        )
    value = float(plan["marginal_value_of_budget"])
    return (
        f"marginal value of budget: {value:,.2f} USD of expected loss, net of holding cost, "
        f"avoided per extra USD (the budget binds; net of that dollar, {value - 1:,.2f} USD)"
    )


@main.command("portfolio")
@click.option(
    "--budget", type=checks.FiniteFloat(0, 1e13), default=2.5e9, show_default=True, help="USD."
)
@click.option("--runs", type=click.IntRange(10, checks.MAX_RUNS), default=500, show_default=True)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@click.option(
    "--reduce-to",
    type=click.IntRange(1, checks.MAX_RUNS),
    default=None,
    help="Plan the stock on N weighted scenarios (scenario reduction); every instrument is "
    "still valued on all of them.",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A policy YAML for the outlook (its alliance adds partner commitments).",
)
@click.option(
    "--draws",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Outlook draws for the projects' lead times and completion chances.",
)
@click.option(
    "--lead",
    type=click.Choice(["p10", "p50", "p90"]),
    default="p50",
    show_default=True,
    help="Which lead-time quantile a project delivers from.",
)
@LOCAL_WORKERS
@SCHEDULER
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def portfolio_cmd(
    ctx: click.Context,
    budget: float,
    runs: int,
    seed: int,
    reduce_to: int | None,
    policy_file: Path | None,
    draws: int,
    lead: str,
    workers: int,
    scheduler: str | None,
    json_path: Path | None,
) -> None:
    """Every reserve instrument on the same scenarios, ranked by loss avoided per dollar."""
    checks.check_workers(workers, scheduler)
    checks.check_scheduler(scheduler)
    checks.check_file_out(json_path, "--json")
    if reduce_to is not None and reduce_to >= runs:
        _fail(f"--reduce-to {reduce_to}: must be below --runs ({runs})")
    import pandas as pd

    from critmin.optimize import portfolio as pf
    from critmin.optimize.ensemble import build_ensemble
    from critmin.optimize.problem import Infeasible
    from critmin.optimize.reduction import reduce_ensemble
    from critmin.outlook.capacity import run_outlook
    from critmin.outlook.instruments import instruments
    from critmin.outlook.policy import PolicyError, policy_for
    from critmin.records import json_records
    from critmin.schema.validate import DataError

    chain = _chain(ctx)
    ds = chain.dataset
    try:
        policy = policy_for(policy_file, ds)
    except PolicyError as exc:
        _fail(str(exc))
    checks.check_memory(runs, 60, len(ds["reserve_forms"]))
    click.echo("simulating the scenario ensemble", err=True)
    ens = build_ensemble(chain, runs=runs, seed=seed, workers=workers, scheduler=scheduler)
    planned = reduce_ensemble(ens, reduce_to, seed=seed).ensemble if reduce_to else ens
    try:
        outlook = instruments(chain, run_outlook(chain, policy, draws=draws, seed=seed))
    except DataError as exc:
        _fail(str(exc))
    try:
        ranked, skipped, _, _ = pf.programme(
            chain, planned, budget, outlook, lead, progress=lambda m: click.echo(m, err=True)
        )
    except Infeasible as exc:
        _fail(str(exc))
    data = {
        "budget_usd": budget,
        "seed": seed,
        "scenarios": ens.scenarios,
        "planned_on_scenarios": planned.scenarios,
        "periods": ens.periods,
        "months_per_period": ens.months_per_period,
        "ensemble": ens.description,
        "outlook_policy": policy.name,
        "outlook_draws": draws,
        "lead_time_quantile": lead,
        "tail": f"CVaR_{pf.TAIL_ALPHA:g} of total scenario loss",
        "ranked_by": "expected_avoided_per_usd",
        "ranking_method": pf.RANKING,
        "co_optimised_in_lp": sorted(pf.IN_LP),
        "evaluated_outside_lp": [pf.COMMITMENT, "projects of undisclosed capex"],
        "instruments": json_records(ranked),
        "skipped": json_records(skipped),
        "units": pf.UNITS,
        "assumptions": pf.ASSUMPTIONS,
    }
    if json_path is not None:
        checks.write_text(json_path, json.dumps(data, indent=1))
    if ranked.empty:
        click.echo("no instrument covers a mineral of the ensemble")
        return
    shown = pd.DataFrame(
        {
            "rank": ranked["rank"],
            "id": ranked["id"],
            "instrument": ranked["instrument"],
            "mineral": ranked["mineral"],
            "lead_yr": ranked["lead_time_years"],
            "cost_usd": ranked["cost_usd"],
            "avoided_usd": ranked["expected_loss_avoided_usd"],
            "avoided_per_dollar": ranked["expected_avoided_per_usd"],
            "tail_per_dollar": ranked["tail_avoided_per_usd"],
        }
    )
    _emit(
        shown,
        "table",
        f"Reserve instruments on {ens.scenarios} scenarios x {ens.periods} quarters, ranked by "
        "expected loss avoided per USD",
        {
            "cost_usd": "USD over the horizon (-: not priced)",
            "avoided_usd": "expected loss avoided over the horizon, USD",
            "avoided_per_dollar": f"USD avoided per USD (expected; tail = CVaR_{pf.TAIL_ALPHA:g})",
        },
    )
    click.echo(
        "One programme: stock, offtakes, floors and priced projects, joint ventures and "
        "recycling are its choices; a held instrument is valued by re-solving without it, one "
        "not held by its marginal value; partner commitments and unpriced projects alone "
        "(docs/reserve-portfolio.md)."
    )
    if not skipped.empty:
        click.echo(f"left out (no shortfall scenarios for the mineral): {', '.join(skipped['id'])}")
