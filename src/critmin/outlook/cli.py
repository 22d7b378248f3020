"""The ``outlook`` command: capacity by stage, country and year to 2040 with uncertainty bands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from critmin import cli_checks as checks

if TYPE_CHECKING:
    from critmin.chain import SupplyChain

RECORD_COLUMNS = [
    "mineral",
    "stage",
    "country",
    "year",
    "capacity_p05",
    "capacity_p50",
    "capacity_p95",
    "share_p05",
    "share_p50",
    "share_p95",
    "unit",
    "basis",
    "base_year",
    "base_source",
]
MAX_DRAWS = 100_000

#: ``--recycling YEAR`` of the commands that build chain models (simulate, rank, optimize).
RECYCLING = click.option(
    "--recycling",
    "recycling_year",
    type=click.IntRange(2000, 2100),
    default=None,
    metavar="YEAR",
    help="Attach the U.S. recycled supply of YEAR from the outlook (secondary potential "
    "capped by the recycling plants online in the median draw) as the domestic node "
    "USA-recycled; default: none, the supply the data report. See docs/outlook.md.",
)


def recycled_chain(chain: SupplyChain, year: int | None, seed: int = 0) -> SupplyChain:
    """``chain`` with the U.S. recycled supply of ``year`` attached (unchanged for None);
    a year outside the outlook is refused in one line naming --recycling. Says on stderr
    what was attached, so a run's output can be read against it."""
    if year is None:
        return chain
    from critmin import cli as base  # noqa: PLC0415
    from critmin.outlook.recycling import attach_recycling  # noqa: PLC0415

    try:
        out = attach_recycling(chain, year, seed=seed)
    except ValueError as exc:
        base._fail(f"--recycling {year}: {str(exc).removeprefix('year: ')}")
    sec = out.secondary
    parts = (
        [f"{m} {float(v):,.0f} t/yr" for m, v in sec.to_series().items()] if sec is not None else []
    )
    missing = list(sec.attrs.get("no_capacity", ())) if sec is not None else []
    why = (
        f" (0 for {', '.join(missing)}: no U.S. recycling plant declares a capacity in the "
        "chain's basis)"
        if missing
        else ""
    )
    click.echo(
        f"U.S. recycled supply attached for {year}: {', '.join(parts) or 'none'}{why}", err=True
    )
    return out


@click.command()
@click.option("--mineral", multiple=True, help="Mineral id(s) (default: every chain mineral).")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A policy YAML: permitting_change by country, start/end year, exclusions, alliance.",
)
@click.option("--draws", type=click.IntRange(1, MAX_DRAWS), default=2000, show_default=True)
@click.option("--seed", type=checks.SEED, default=0, show_default=True)
@click.option(
    "--level",
    type=click.Choice(
        [
            "country",
            "chain",
            "projects",
            "compare",
            "alliance",
            "recycling",
            "recycling-sensitivity",
            "lead-time-sensitivity",
            "completion-sensitivity",
            "instruments",
        ]
    ),
    default="country",
    show_default=True,
    help="country: capacity and share by country; chain: HHI, China and allied share; "
    "projects: completion chance and lead time; compare: against IEA projections; "
    "alliance: U.S. shortfall with and without the policy's alliance acting; "
    "recycling: end-of-life volume, secondary potential and recycled supply; "
    "recycling-sensitivity: the secondary potential in --year with each recycling_flows "
    "figure at x0.5 and x1.5 (one --mineral); "
    "lead-time-sensitivity: the expected pipeline additions in --year with each lead_times "
    "duration and pass probability at x0.5 and x1.5; "
    "completion-sensitivity: the non-China share in 2030 and --year with each assumed pass "
    "probability, and each facility type's completion chance, at +/-0.2; "
    "instruments: what the reserve optimiser can be offered.",
)
@click.option("--group", default="allied", show_default=True, help="Country group for the share.")
@click.option(
    "--year",
    type=checks.YEAR,
    default=2035,
    show_default=True,
    help="The year --level recycling-sensitivity, lead-time-sensitivity and "
    "completion-sensitivity report.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the whole run (seed, inputs, records) to this JSON file.",
)
@click.pass_context
def outlook(
    ctx: click.Context,
    mineral: Sequence[str],
    policy_file: Path | None,
    draws: int,
    seed: int,
    level: str,
    group: str,
    year: int,
    fmt: str,
    out: Path | None,
) -> None:
    """Capacity to 2040 by mineral, stage and country: Monte Carlo over the project pipeline."""
    from critmin import cli as base  # noqa: PLC0415 (fast start-up; critmin.cli imports this module)
    from critmin.outlook.policy import HORIZON, PolicyError, policy_for  # noqa: PLC0415

    checks.check_file_out(out, "--out")  # before the data load and the draws
    chain = base._chain(ctx)
    ds = chain.dataset
    minerals = base._split(mineral, "--mineral")
    unknown = sorted(set(minerals) - set(ds["minerals"]["id"]))
    if unknown:
        base._fail(f"--mineral: unknown mineral {', '.join(unknown)}")
    if group not in set(chain.groups.group.values):
        known = ", ".join(str(g) for g in chain.groups.group.values)
        base._fail(f"--group: unknown country group {group!r} (groups: {known})")
    if level == "recycling-sensitivity" and len(minerals) != 1:
        base._fail("--level recycling-sensitivity: name one --mineral (e.g. --mineral rare_earths)")
    try:
        policy = policy_for(policy_file, ds)
    except PolicyError as exc:
        base._fail(str(exc))
    from critmin.schema.validate import DataError  # noqa: PLC0415

    try:
        _run(ctx, chain, policy, minerals, draws, seed, level, group, fmt, out, HORIZON, year)
    except DataError as exc:
        base._fail(str(exc))


def _run(
    ctx: click.Context,
    chain: object,
    policy: object,
    minerals: list[str],
    draws: int,
    seed: int,
    level: str,
    group: str,
    fmt: str,
    out: Path | None,
    horizon: int,
    year: int = 2035,
) -> None:
    """The body of ``outlook`` once inputs are checked (a data error is refused by the caller)."""
    from critmin import cli as base  # noqa: PLC0415
    from critmin.chain import SupplyChain  # noqa: PLC0415
    from critmin.outlook.capacity import run_outlook  # noqa: PLC0415
    from critmin.outlook.compare import compare_with_references  # noqa: PLC0415
    from critmin.outlook.policy import Policy  # noqa: PLC0415
    from critmin.records import json_records  # noqa: PLC0415

    assert isinstance(chain, SupplyChain)
    assert isinstance(policy, Policy)
    ds = chain.dataset
    if level == "alliance":
        from critmin.outlook.alliance import alliance_outlook  # noqa: PLC0415

        if policy.alliance is None:
            base._fail("--level alliance: the policy file has no 'alliance' block")
        frame = alliance_outlook(chain, policy, draws=draws, seed=seed, minerals=minerals)
        base._emit(frame, fmt, f"Alliance {policy.alliance.group}: {draws:,} draws, seed {seed}")
        return
    if level == "lead-time-sensitivity":
        from critmin.outlook.sensitivity import lead_time_sensitivity  # noqa: PLC0415

        try:
            frame = lead_time_sensitivity(
                chain, policy, year=year, minerals=minerals, draws=min(draws, 1000), seed=seed
            )
        except ValueError as exc:
            base._fail(f"--{exc}")
        title = f"Lead-time sensitivity {policy.name}, {year}: {min(draws, 1000):,} draws"
        base._emit(frame, fmt, title, {"additions": "t/yr (chain basis)"})
        return
    if level == "completion-sensitivity":
        from critmin.outlook.sensitivity import completion_sensitivity  # noqa: PLC0415

        years = tuple(sorted({2030, year}))
        try:
            frame = completion_sensitivity(
                chain, policy, years=years, minerals=minerals, draws=draws, seed=seed
            )
        except ValueError as exc:
            base._fail(f"--{exc}")
        title = f"Completion sensitivity {policy.name}, {years}: {draws:,} draws, seed {seed}"
        base._emit(frame, fmt, title, {"non_china": "fraction", "change": "percentage points"})
        return
    result = run_outlook(chain, policy, draws=draws, seed=seed, minerals=minerals, group=group)
    if level == "country":
        frame = result.by_country[RECORD_COLUMNS]
    elif level == "chain":
        frame = result.by_chain
    elif level == "projects":
        frame = result.projects_table()
    elif level == "instruments":
        from critmin.outlook.instruments import instruments  # noqa: PLC0415

        frame = instruments(chain, result)
    elif level == "recycling":
        from critmin.outlook.recycling import recycling_outlook  # noqa: PLC0415

        frame = recycling_outlook(chain, result)
        if minerals and not frame.empty:
            frame = frame[frame["mineral"].isin(minerals)]

    elif level == "recycling-sensitivity":
        from critmin.outlook.recycling import recycling_sensitivity  # noqa: PLC0415

        try:
            frame = recycling_sensitivity(chain, result, mineral=minerals[0], year=year)
        except ValueError as exc:
            base._fail(f"--{exc}")
    else:
        frame = compare_with_references(result, ds)
    if out is not None:
        run = {
            "seed": seed,
            "draws": draws,
            "policy": policy.model_dump(),
            "group": group,
            "data": ds.source,
            "horizon": horizon,
            "projects": json_records(result.projects_table()),
            "skipped": json_records(result.pipeline.skipped),
            "chains": json_records(result.by_chain),
            "records": json_records(result.by_country[RECORD_COLUMNS]),
        }
        checks.write_text(out, json.dumps(run, indent=1))
    title = f"Outlook {policy.name}: {draws:,} draws, seed {seed}"
    notes: list[str] = []
    if fmt == "table" and "why" in frame.columns:
        # a paragraph per row does not fit a 100-column table (it was squeezed to nothing,
        # leaving each row dozens of blank lines tall): it follows the table, row by row
        notes = [
            f"{r['mineral']} {r['stage']} {r['year']} {r['metric']}: {r['why']}"
            for r in frame.to_dict("records")
        ]
        frame = frame.drop(columns="why")
    units = {
        "capacity": "t/yr (chain basis)",
        "total": "t/yr (chain basis, every country)",
        "share": "fraction",
    }
    base._emit(frame, fmt, title, units)
    for note in notes:
        click.echo(note)


COMMANDS = (outlook,)
