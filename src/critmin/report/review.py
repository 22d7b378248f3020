"""The periodic supply-chain review: a self-contained HTML page plus a terminal summary.

This first edition holds the exposure section: who controls each stage of each chain, the
concentration and dependence table, and each chain's bottleneck. Later sections (disruptions,
reserve) plug into the same page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.metrics.concentration import UNITS, select
from critmin.metrics.exposure import exposure_table
from critmin.metrics.imports import import_sources_crosscheck
from critmin.report import numbers
from critmin.report.charts import bars_svg, stage_shares_svg
from critmin.report.disruption import ranking, reserve_plan, scenario_views
from critmin.report.findings import (
    MineralCount,
    bottlenecks,
    changes,
    mineral_count,
    top_risks,
)
from critmin.report.history import (
    HISTORY_FILE,
    HistoryError,
    WhatChanged,
    append_history,
    key_numbers,
    load_history,
    what_changed,
)
from critmin.report.outlook import OutlookView, outlook_view
from critmin.schema.vocabulary import BACI_SOURCE, BEA_SOURCE, USGS_SOURCE
from critmin.simulate.backtest import backtest, backtest_records


@dataclass(frozen=True)
class ChainView:
    """One mineral's chain as the report shows it."""

    mineral: str
    name: str
    svg: str
    bottleneck: str
    rows: list[dict[Any, Any]]
    missing: list[str]


def _chain_views(chain: SupplyChain, table: pd.DataFrame, year: int | None) -> list[ChainView]:
    """A view per declared chain (chains.csv), in declaration order; stages without data are
    listed as missing rather than hidden."""
    names = chain.dataset["minerals"].set_index("id")["name"]
    declared = chain.dataset["chains"].sort_values("position", kind="stable")
    views = []
    for mineral, stages in declared.groupby("mineral", sort=False)["stage"]:
        rows = table[table["mineral"] == mineral]
        missing = [s for s in stages if s not in set(rows["stage"])]
        svg = ""
        if len(rows):
            sel = select(chain, mineral=[str(mineral)], year=year)
            arr = sel.shares.sel(mineral=mineral).transpose("stage", "country")
            shares = pd.DataFrame(
                arr.values, index=arr.stage.values, columns=arr.country.values
            ).dropna(how="all")
            labels = {r.stage: f"{r.stage} ({r.year})" for r in rows.itertuples(index=False)}
            shares.index = [labels[s] for s in shares.index]
            svg = stage_shares_svg(shares, f"{names.get(mineral, mineral)}: share by stage")
        worst = rows[rows["bottleneck"]]
        views.append(
            ChainView(
                mineral=str(mineral),
                name=str(names.get(mineral, mineral)),
                svg=svg,
                bottleneck=str(worst["stage"].iloc[0]) if len(worst) else "-",
                rows=rows.to_dict(orient="records"),
                missing=missing,
            )
        )
    return views


def policy_notes(reserve: dict[str, Any] | None) -> list[str]:
    """The comparison policies cut or scaled to what the budget buys, each with why (a plan
    written before policies carried a ``note`` has none)."""
    return [
        f"comparison policy {p['name']}: {p['note']}"
        for p in (reserve or {}).get("policies", [])
        if p.get("note")
    ]


def _reserve_chart(reserve: dict[str, Any] | None) -> str:
    """Expected loss avoided per dollar, by lot the plan buys."""
    if not reserve:
        return ""
    held = [h for h in reserve["holdings"] if h["tonnes"] > 1e-6 and h.get("avoided_loss_per_usd")]
    if not held:
        return ""
    values = pd.Series(
        {f"{h['mineral']} ({h['form']})": float(h["avoided_loss_per_usd"]) for h in held}
    )
    return bars_svg(values, "Why these lots: expected loss avoided per dollar held", "USD per USD")


def _tonnes(t: float) -> str:
    """Tonnes as people read them: whole tonnes from 10 t, two decimals below."""
    return f"{t:,.0f}" if t >= 10 else f"{t:.2f}"


def _sensitivity_chart(reserve: dict[str, Any] | None, top: int = 12) -> str:
    """The share of the budget each assumed parameter moves at +/-50%, largest first."""
    rows = [r for r in (reserve or {}).get("sensitivity", []) if r.get("budget_share_moved")]
    if not rows:
        return ""
    values = pd.Series(
        {f"{r['parameter']} ({r['mineral']})": 100 * r["budget_share_moved"] for r in rows}
    )
    values = values.sort_values(ascending=False).head(top)
    return bars_svg(
        values,
        "What moves the plan: share of the budget moved at x0.5 or x1.5 (flagged above 25%)",
        "% of the budget",
    )


def _env() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(resources.files("critmin.report") / "templates"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = numbers.pct
    env.filters["num"] = numbers.num
    env.filters["usd"] = numbers.usd
    env.globals["usd_error"] = numbers.usd_error
    return env


def summary_lines(
    table: pd.DataFrame, views: list[ChainView], count: MineralCount | None = None
) -> list[str]:
    """The terminal summary: each chain's bottleneck and the most concentrated stages."""
    counted = count.sentence() if count else f"{table['mineral'].nunique()} minerals"
    lines = [f"critmin review: {counted}; {len(table)} mineral-stages on record"]
    for v in views:
        gaps = f"; no data: {', '.join(v.missing)}" if v.missing else ""
        row = next((r for r in v.rows if r["stage"] == v.bottleneck), None)
        if row is None:
            lines.append(f"  {v.mineral:<12} no stage on record{gaps}")
            continue
        lines.append(
            f"  {v.mineral:<12} bottleneck {v.bottleneck:<9} {row['top_country']} "
            f"{row['top_share']:.0%} ({row['year']}), HHI {row['hhi']:,.0f}, "
            f"HHI-WGI {row['hhi_wgi']:.2f}{gaps}"
        )
    china = table[(table["stage"] != "mining") & (table["top_country"] == "CHN")]
    processed = table[table["stage"] != "mining"]
    lines.append(
        f"  China leads {china['mineral'].nunique()} of {processed['mineral'].nunique()} "
        f"minerals with a processing stage on record (refining, metal, components)"
    )
    return lines


def outlook_lines(view: OutlookView) -> list[str]:
    """The outlook in the terminal summary: China's share now and at the end of the horizon
    at each refining stage, and how the base case compares with the IEA."""
    last = view.years[-1]
    parts = [
        f"{r['mineral']} {r['china_share'][0]:.0%}->{r['china_share'][-1]:.0%}"
        for r in view.rows
        if r["stage"] == "refining" and np.isfinite(r["china_share"][-1])
    ]
    agree = sum(bool(c["agrees"]) for c in view.compare)
    return [
        f"  outlook to {last}, China's refining share (median, {view.draws} draws): "
        + ", ".join(parts),
        f"  outlook vs IEA GCMO 2025: {agree} of {len(view.compare)} projections agree",
    ]


def outlook_numbers(view: OutlookView | None) -> list[dict[str, Any]]:
    """The outlook's key numbers for the history: China's refining share at the end."""
    if view is None:
        return []
    return [
        {
            "mineral": r["mineral"],
            "stage": r["stage"],
            "year": view.years[-1],
            "china_share": float(r["china_share"][-1]),
        }
        for r in view.rows
        if r["stage"] == "refining" and np.isfinite(r["china_share"][-1])
    ]


def changed_lines(changed: WhatChanged) -> list[str]:
    """The terminal summary of what changed."""
    lines = [f"  what changed: {changed.label}"]
    for m in changed.moved:
        if m.unit == "share":
            lines.append(
                f"    {m.mineral} {m.item}: {m.before:.0%} -> {m.after:.0%} "
                f"({m.delta * 100:+.0f} pts)"
            )
        else:
            lines.append(
                f"    {m.mineral} {m.item}: {numbers.usd(m.before)} -> {numbers.usd(m.after)}"
            )
    for c in changed.year_changes:
        lines.append(
            f"    {c.mineral} {c.stage}: {c.country} {c.before:.0%} ({c.before_year}) -> "
            f"{c.after:.0%} ({c.after_year})"
        )
    if changed.note:
        lines.append(f"    note: {changed.note}")
    return lines


def write_review(
    chain: SupplyChain,
    out: Path,
    *,
    year: int | None = None,
    runs: int = 200,
    seed: int = 0,
    disruptions: bool = True,
    outlook: bool = True,
    outlook_draws: int = 2000,
    record: bool = True,
    sensitivity: bool = True,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> list[str]:
    """Write ``out/index.html`` and return the terminal summary; ``progress(step)`` is called
    as each step starts. The outlook runs ``outlook_draws`` draws with the review's seed.
    The review's key numbers are compared with the previous review stored in
    ``out/history.json`` and, with ``record``, added to it."""
    say = progress or (lambda step: None)
    say("projecting capacity to 2040")
    ahead: OutlookView | None = (
        outlook_view(chain, draws=outlook_draws, seed=seed) if outlook else None
    )
    say("simulating the library scenarios")
    scenarios = scenario_views(chain, runs=runs, seed=seed) if disruptions else []
    say("ranking minerals by expected U.S. loss")
    # the same draws and seed as `critmin rank --runs RUNS --seed SEED`, so the numbers agree
    ranked = ranking(chain, runs=runs, seed=seed) if disruptions else []
    say("replaying historical episodes")
    backtests = backtest_records(backtest(chain)) if disruptions else []
    say("optimising the reserve")
    reserve = (
        reserve_plan(chain, runs=max(50, runs), seed=seed, sensitivity=sensitivity, workers=workers)
        if disruptions
        else None
    )
    say("writing the page")
    table = exposure_table(chain, year=year)
    views = _chain_views(chain, table, year)
    found = bottlenecks(chain, table)
    generated = dt.datetime.now(dt.UTC)
    risks = top_risks(ranked)
    current = key_numbers(
        found,
        risks,
        reserve,
        outlook_numbers(ahead),
        date=generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=seed,
        runs=runs,
        inputs={
            "year": year,
            "disruptions": disruptions,
            "outlook_draws": outlook_draws if outlook else 0,
            "data": str(chain.dataset.source),
            "version": version("critmin"),
        },
    )
    history_path = out / HISTORY_FILE
    try:
        history = load_history(history_path)
        unreadable = ""
    except HistoryError as exc:
        history, unreadable = [], f"{exc}: left as it is, not compared and not extended"
    changed = what_changed(history, current, changes(chain, found), note=unreadable)
    check = import_sources_crosscheck(chain.dataset)
    check = check[check["mineral"].isin(set(chain.dataset["chains"]["mineral"]))]
    sources = chain.dataset["sources"]
    used = set(table["source_id"]) | {USGS_SOURCE, BACI_SOURCE}
    used |= {str(b["source_id"]) for b in backtests} | ({BEA_SOURCE} if ranked else set())
    used |= ahead.sources if ahead is not None else set()
    lines = summary_lines(table, views, mineral_count(chain))
    if ahead is not None:
        lines += outlook_lines(ahead)
    for s in scenarios:
        worst = max(s.table, key=lambda r: r["loss_mean"], default=None)
        if worst is not None:
            lines.append(
                f"  scenario {s.name}: largest expected loss {worst['mineral']} in "
                f"{worst['region']}, ${worst['loss_mean'] / 1e9:,.2f}B (p95 "
                f"${worst['loss_p95'] / 1e9:,.2f}B) over 12 months"
            )
    if reserve is not None:
        held = [h for h in reserve["holdings"] if h["tonnes"] > 1e-6]
        lines.append(
            f"  reserve plan: ${reserve['spent_usd'] / 1e9:,.2f}B in "
            + ", ".join(f"{h['mineral']} {h['form']} {_tonnes(h['tonnes'])} t" for h in held)
            + f"; expected loss over the plan's horizon ${reserve['expected_loss_usd'] / 1e9:,.2f}B"
            f" vs ${reserve['policies'][0]['expected_loss_usd'] / 1e9:,.2f}B with no reserve"
        )
        lines += [f"  {note}" for note in policy_notes(reserve)]
    lines += changed_lines(changed)
    top = [r for r in ranked if r["rank"] is not None][:5]
    if top:
        lines.append(
            "  highest expected annual U.S. loss: "
            + ", ".join(f"{r['mineral']} ${r['expected_loss_usd'] / 1e6:,.0f}M" for r in top)
        )
    html = (
        _env()
        .get_template("review.html.j2")
        .render(
            generated=generated.strftime("%Y-%m-%d %H:%M UTC"),
            version=version("critmin"),
            data_source=chain.dataset.source,
            year=year,
            views=views,
            table=table.to_dict(orient="records"),
            units=UNITS,
            imports=check.to_dict(orient="records"),
            scenarios=scenarios,
            ranked=ranked,
            backtests=backtests,
            reserve=reserve,
            runs=runs,
            seed=seed,
            sources=sources[sources["id"].isin(used)].to_dict(orient="records"),
            summary=lines,
            found=found,
            changed=changed,
            risks=risks,
            reserve_chart=_reserve_chart(reserve),
            policy_notes=policy_notes(reserve),
            sensitivity_chart=_sensitivity_chart(reserve),
            outlook=ahead,
        )
    )
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out / "index.html")
    if record and not unreadable:
        append_history(history_path, current)
    return lines
