"""The ``critmin`` command line: map, measure and report on critical-mineral supply chains."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    import pandas as pd

    from critmin.chain import SupplyChain

FORMATS = click.Choice(["table", "json", "csv"])


def _split(values: Iterable[str]) -> list[str]:
    """Accept ``--mineral a --mineral b`` and ``--mineral a,b``."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"critmin: {message}", err=True)
    sys.exit(code)


def _chain(ctx: click.Context) -> SupplyChain:
    from critmin.chain import SupplyChain
    from critmin.schema.validate import DataError

    try:
        return SupplyChain.load(ctx.obj.get("data"))
    except DataError as exc:
        _fail(str(exc))


def _emit(frame: pd.DataFrame, fmt: str, title: str, units: dict[str, str] | None = None) -> None:
    if fmt == "json":
        from critmin.records import json_records

        click.echo(json.dumps(json_records(frame), indent=1))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        caption = "; ".join(f"{k}: {v}" for k, v in (units or {}).items()) or None
        table = Table(title=title, caption=caption, header_style="bold")
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)


def pd_na() -> object:
    import pandas as pd

    return pd.NA


def _cell(v: object) -> str:
    if v is None or v is pd_na() or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(v)


@click.group()
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
@click.option("--year", type=int, default=None, help="Year (default: latest with data per stage).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def exposure(
    ctx: click.Context, mineral: Sequence[str], stage: Sequence[str], year: int | None, fmt: str
) -> None:
    """Concentration and dependence per mineral and stage (shares as fractions 0-1)."""
    from critmin.metrics.exposure import exposure_table

    chain = _chain(ctx)
    try:
        frame = exposure_table(chain, mineral=_split(mineral), stage=_split(stage), year=year)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    if fmt == "table":
        frame = frame.drop(columns=["basis"])
    _emit(frame, fmt, "Exposure by mineral and stage", frame.attrs.get("units"))


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
    _emit(table[cols], fmt, f"{len(table)} minerals")


@main.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def sources(ctx: click.Context, fmt: str) -> None:
    """Where every bundled figure comes from, and how many rows each source supports."""
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


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("review"),
    show_default=True,
)
@click.option("--year", type=int, default=None, help="Year (default: latest per stage).")
@click.option(
    "--runs",
    type=click.IntRange(10),
    default=200,
    show_default=True,
    help="Monte Carlo draws per disruption scenario.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def review(ctx: click.Context, out: Path, year: int | None, runs: int, seed: int) -> None:
    """Write the periodic supply-chain review (OUT/index.html) and print a summary."""
    from critmin.report.review import write_review

    chain = _chain(ctx)
    summary = write_review(chain, out, year=year, runs=runs, seed=seed)
    for line in summary:
        click.echo(line)
    click.echo(f"Review written to {out / 'index.html'}")


@main.group()
def data() -> None:
    """Build and check datasets."""


@data.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def data_check(folder: Path | None) -> None:
    """Validate FOLDER (overlaid on the bundled tables) and print every problem found."""
    from critmin.data.load import collect

    dataset, problems = collect(folder, include_lazy=True)
    for p in problems:
        click.echo(str(p), err=True)
    if dataset is None:
        _fail(f"{len(problems)} problem(s) found", code=1)
    n = sum(len(dataset[name]) for name in dataset.files)
    click.echo(f"ok: {len(dataset.files)} tables, {n:,} rows checked")


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
    try:
        log = build(raw, src, target)
    except (DataError, FileNotFoundError, KeyError) as exc:
        _fail(f"build refused, nothing written: {exc}", code=1)
    for line in log.lines():
        click.echo(line)
    click.echo(f"built into {target}")


from critmin.ledger.cli import COMMANDS  # noqa: E402
from critmin.outlook.cli import COMMANDS as OUTLOOK_COMMANDS  # noqa: E402
from critmin.security.cli import COMMANDS as SECURITY_COMMANDS  # noqa: E402

for _command in (*COMMANDS, *OUTLOOK_COMMANDS, *SECURITY_COMMANDS):
    main.add_command(_command)


@main.command()
@click.argument("scenario")
@click.option("--runs", type=click.IntRange(1), default=500, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
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
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True)
@click.option("--no-reroute", is_flag=True, help="Importers do not turn to other suppliers.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run folder (default: runs/<scenario>-<seed>).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
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
    out: Path | None,
    json_path: Path | None,
) -> None:
    """Run SCENARIO (a YAML file or a library name) as a seeded Monte Carlo ensemble."""
    from rich.progress import Progress

    from critmin.scenarios.load import Labels, ScenarioError, load_scenario
    from critmin.scenarios.spec import Period
    from critmin.simulate.output import summary, write_run
    from critmin.simulate.runner import Executor, RunConfig
    from critmin.simulate.runner import simulate as run_ensemble

    chain = _chain(ctx)
    try:
        spec = load_scenario(scenario, Labels.of(chain.dataset))
    except ScenarioError as exc:
        _fail(str(exc))
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
    with Progress(transient=True) as bar:
        task = bar.add_task(f"simulating {spec.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_ensemble(chain, spec, config, progress)
    folder = write_run(result, chain.dataset, out or Path("runs") / f"{spec.name}-{seed}")
    if json_path is not None:
        json_path.write_text(json.dumps(summary(result)), encoding="utf-8")
    for mineral, mr in result.minerals.items():
        worst = mr.results["shortfall"].sum("period").quantile([0.5, 0.95], "scenario")
        click.echo(
            f"{mineral}: shortfall over {horizon} {period}s by region (p50 / p95, "
            f"{mr.model.unit}): "
            + ", ".join(
                f"{r} {float(worst.sel(quantile=0.5, region=r)):,.0f} / "
                f"{float(worst.sel(quantile=0.95, region=r)):,.0f}"
                for r in mr.results.region.values
            )
        )
    click.echo(f"run folder: {folder}")


@main.command("rank")
@click.option("--runs", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--top", type=int, default=25, show_default=True, help="Rows to print.")
@click.pass_context
def rank_cmd(
    ctx: click.Context, runs: int, seed: int, workers: int, json_path: Path | None, top: int
) -> None:
    """Rank minerals by expected annual economic loss to the U.S. (USD/yr, p95 beside it)."""
    import pandas as pd
    from rich.progress import Progress

    from critmin.simulate.rank import rank, rank_records

    chain = _chain(ctx)
    with Progress(transient=True) as bar:
        task = bar.add_task("ranking minerals", total=None)
        rows = rank(
            chain,
            runs=runs,
            seed=seed,
            workers=workers,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
    records = rank_records(rows)
    if json_path is not None:
        json_path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    frame = pd.DataFrame(records)[
        ["rank", "mineral", "expected_loss_usd", "p95_loss_usd", "expected_us_shortfall_share"]
    ].head(top)
    frame["rank"] = frame["rank"].astype("Int64")
    _emit(
        frame,
        "table",
        f"Expected annual U.S. loss, {runs} draws, seed {seed}",
        {
            "expected_loss_usd": "USD/yr",
            "p95_loss_usd": "USD/yr",
            "expected_us_shortfall_share": "fraction of U.S. demand",
        },
    )
    click.echo(
        "Assumptions: background outage rates, event probabilities, value at risk per tonne "
        "(10 x price) and default elasticities are critmin assumptions; see the run's JSON."
    )


def _ledger_funds(url: str) -> float:
    """Accepted, unspent funds in the reserve ledger, USD."""
    from critmin.ledger.service import Ledger
    from critmin.ledger.state import Fund, State
    from critmin.ledger.vocabulary import Projection

    def available(state: State) -> float:
        return float(sum(f.available for f in state.all(Projection.FUND, Fund)))

    with Ledger.open(url) as ledger:
        ledger.require_genesis()
        return ledger.read(available)


@main.command()
@click.option("--budget", type=float, default=2.5e9, show_default=True, help="USD.")
@click.option(
    "--partner-funds",
    type=float,
    default=0.0,
    show_default=True,
    help="Approved partner-government contributions, USD.",
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
@click.option("--runs", type=click.IntRange(10), default=500, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
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
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for plan.json and the ensemble (netCDF).",
)
@click.pass_context
def optimize(
    ctx: click.Context,
    budget: float,
    partner_funds: float,
    database: str | None,
    scenarios: Sequence[str],
    runs: int,
    seed: int,
    period: str,
    horizon: int,
    risk: str | None,
    json_path: Path | None,
    out: Path | None,
) -> None:
    """Size the reserve and choose offtakes and price floors (two-stage stochastic LP, HiGHS)."""
    import pandas as pd
    from rich.progress import Progress

    from critmin.optimize.ensemble import build_ensemble
    from critmin.optimize.plan import optimise
    from critmin.optimize.problem import Infeasible, Risk
    from critmin.scenarios.load import ScenarioError

    if budget < 0 or partner_funds < 0:
        _fail("--budget and --partner-funds must not be negative")
    if database is not None:
        budget, partner_funds = _ledger_funds(database), 0.0
    try:
        risk_spec = Risk.parse(risk)
    except ValueError as exc:
        _fail(str(exc))
    chain = _chain(ctx)
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating the scenario ensemble", total=None)
        try:
            ens = build_ensemble(
                chain,
                scenarios=list(scenarios) or None,
                runs=runs,
                seed=seed,
                months_per_period=1 if period == "month" else 3,
                horizon=horizon,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
        except ScenarioError as exc:
            _fail(str(exc))
        bar.update(task, description="optimising", total=None)
        try:
            plan = optimise(
                chain,
                ens,
                budget=budget + partner_funds,
                risk=risk_spec,
                progress=lambda msg: bar.update(task, description=msg),
            )
        except Infeasible as exc:
            _fail(str(exc))
    data = plan.as_json()
    data["seed"] = seed
    if json_path is not None:
        json_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "plan.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
        ens.shortfall.to_dataset(name="us_shortfall_t").assign(us_price_usd_t=ens.price).to_netcdf(
            out / "ensemble.nc", engine="scipy"
        )
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
    ]
    _emit(
        held,
        "table",
        f"Reserve plan: ${data['spent_usd'] / 1e9:,.2f}B of "
        f"${data['budget_usd'] / 1e9:,.2f}B, {ens.scenarios} scenarios x {ens.periods} "
        f"{period}s",
        {"tonnes": "t (chain basis)", "usd": "USD"},
    )
    _emit(pd.DataFrame(data["policies"]), "table", "Policies on the same scenarios (USD)")
    signed = [a["id"] for a in data["agreements"] if a["signed"]]
    click.echo(f"agreements signed: {', '.join(signed) or 'none'}")
    click.echo(
        f"marginal value of budget: {data['marginal_value_of_budget']:.2f} USD of loss "
        "and holding cost avoided per extra USD"
    )
