"""The read-only pages: overview, chain explorer, criticality, reserve plan, transactions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from critmin.ledger.public import public_transactions
from critmin.ledger.service import Ledger
from critmin.ledger.valuation import valuation
from critmin.report.findings import bottlenecks, changes, mineral_count, top_risks
from critmin.report.history import (
    HISTORY_FILE,
    HistoryError,
    key_numbers,
    load_history,
    what_changed,
)

if TYPE_CHECKING:
    import pandas as pd

    from critmin.chain import SupplyChain
    from critmin.web.app import Web

LISTS = {"usgs_2025": "USGS 2025", "doe_2023": "DOE 2023", "eu_2023": "EU 2023"}
#: Where the overview looks for stored reviews: ``critmin review``'s default output folder
#: (relative to where the server runs), unless ``app.state.review_dir`` names another.
REVIEW_DIR = Path("review")


def overview_findings(
    chain: SupplyChain,
    exposure: pd.DataFrame,
    ranked: list[dict[str, Any]] | None,
    review_dir: Path,
    *,
    seed: int,
    runs: int,
) -> dict[str, Any]:
    """The overview's findings: each chain's bottleneck, the top risks, and what changed:
    today's key numbers against the latest review stored in ``review_dir`` (``critmin
    review``'s history), or, with none stored, the previous data year (labelled so)."""
    found = bottlenecks(chain, exposure)
    risks = top_risks(ranked)
    try:
        history = load_history(review_dir / HISTORY_FILE)
        note = ""
    except HistoryError as exc:
        history, note = [], f"{exc}: ignored"
    now = key_numbers(
        found,
        risks,
        None,
        [],
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=seed,
        runs=runs,
        inputs={},
    )
    changed = what_changed(history, now, changes(chain, found), note=note)
    return {"found": found, "risks": risks, "changed": changed}


def reserve_position(ledger: Ledger) -> dict[str, Any] | None:
    """Funds, holdings and their market value from the ledger; None before ``ledger init``."""
    if ledger.head() == 0:
        return None
    value = ledger.read(lambda s: valuation(s, ledger.reference))
    by_mineral: dict[str, float] = {}
    for lot in value["lots"]:
        by_mineral[lot["mineral"]] = by_mineral.get(lot["mineral"], 0.0) + float(lot["quantity_t"])
    return {**value, "by_mineral": by_mineral}


def router(web: Web) -> APIRouter:
    r = APIRouter()
    state = web.state

    @r.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        chain = state.chain()
        rank_job = state.analysis("rank")
        plan_job = state.analysis("plan")
        ranked = rank_job.result if rank_job.status == "done" else None
        plan = plan_job.result if plan_job.status == "done" else None
        review_dir = getattr(request.app.state, "review_dir", None) or REVIEW_DIR
        findings = overview_findings(
            chain,
            state.exposure,
            ranked,
            Path(review_dir),
            seed=state.settings.seed,
            runs=state.settings.rank_runs,
        )
        return web.page(
            request,
            "overview.html.j2",
            **findings,
            rank_job=rank_job.view(),
            plan_job=plan_job.view(),
            plan=plan,
            position=reserve_position(request.app.state.ledger),
            names=state.names,
            countries=state.country_names,
            minerals=mineral_count(chain),
        )

    @r.get("/chain")
    def chain_default() -> RedirectResponse:
        first = str(state.chain().dataset["chains"]["mineral"].iloc[0])
        return RedirectResponse(f"/chain/{first}", status_code=307)

    @r.get("/chain/{mineral}", response_class=HTMLResponse)
    def chain_page(request: Request, mineral: str) -> HTMLResponse:
        chain = state.chain()
        have = [str(m) for m in chain.production.mineral.values]
        if mineral not in have:
            raise HTTPException(404, f"no production data for mineral {mineral!r}")
        declared = list(dict.fromkeys(chain.dataset["chains"]["mineral"]))
        others = sorted(m for m in have if m not in declared)
        data = web.explorer.figures(mineral, None, None)
        return web.page(
            request,
            "chain.html.j2",
            mineral=mineral,
            declared=declared,
            others=others,
            names=state.names,
            data=data,
        )

    @r.get("/web/chain/{mineral}.json")
    def chain_json(
        mineral: str,
        year: int | None = Query(None, ge=1900, le=2100),
        stage: str | None = Query(None, max_length=40),
    ) -> JSONResponse:
        chain = state.chain()
        if mineral not in set(chain.production.mineral.values.tolist()):
            raise HTTPException(404, f"no production data for mineral {mineral!r}")
        try:
            data = web.explorer.figures(mineral, year, stage)
        except KeyError as exc:
            raise HTTPException(422, str(exc.args[0])) from exc
        table = web.env.get_template("_exposure_table.html.j2").render(
            rows=data["table"], names=state.names
        )
        return JSONResponse({**data, "table_html": table})

    @r.get("/criticality", response_class=HTMLResponse)
    def criticality(
        request: Request,
        list_: str = Query("", alias="list", max_length=20),
        family: str = Query("", max_length=40),
        stage: str = Query("", max_length=40),
    ) -> HTMLResponse:
        chain = state.chain()
        job = state.analysis("rank")
        minerals = chain.dataset["minerals"].set_index("id")
        rows = []
        if job.status == "done":
            for rec in job.result:
                m = rec["mineral"]
                meta = minerals.loc[m] if m in minerals.index else None
                if list_ in LISTS and (meta is None or not bool(meta[list_])):
                    continue
                if family and (meta is None or str(meta["family"]) != family):
                    continue
                if stage and (not rec["chain"] or stage not in chain.stages_of(rec["chain"])):
                    continue
                rows.append(rec)
        families = sorted({str(f) for f in minerals["family"].dropna()})
        stages = [str(s) for s in chain.production.stage.values]
        backtest = _backtest(web)
        return web.page(
            request,
            "criticality.html.j2",
            job=job.view(),
            rows=rows,
            lists=LISTS,
            families=families,
            stages=stages,
            chosen={"list": list_, "family": family, "stage": stage},
            names=state.names,
            backtest=backtest,
            runs=state.settings.rank_runs,
            seed=state.settings.seed,
        )

    @r.get("/reserve", response_class=HTMLResponse)
    def reserve(request: Request) -> HTMLResponse:
        job = state.analysis("plan")
        plan = job.result if job.status == "done" else None
        return web.page(
            request,
            "reserve.html.j2",
            job=job.view(),
            plan=plan,
            figures=reserve_figures(plan) if plan else {},
            names=state.names,
            seed=state.settings.seed,
        )

    @r.get("/transactions", response_class=HTMLResponse)
    def transactions(request: Request) -> HTMLResponse:
        ledger: Ledger = request.app.state.ledger
        rows = public_transactions(ledger.events(0, 10_000))
        return web.page(request, "transactions.html.j2", rows=rows, names=state.names)

    @r.get("/web/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        job = state.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        view = job.view()
        view.pop("trace", None)
        return view

    return r


def _backtest(web: Web) -> list[dict[str, Any]] | None:
    """The back-test table (``critmin backtest``): modelled against observed, with sources."""
    from critmin.simulate.backtest import backtest, backtest_records

    return backtest_records(backtest(web.state.chain())) or None


def reserve_figures(plan: dict[str, Any]) -> dict[str, Any]:
    """Loss avoided per dollar by lot, and expected loss by policy."""
    held = [h for h in plan["holdings"] if (h.get("tonnes") or 0) > 1e-6]
    held = sorted(held, key=lambda h: h.get("avoided_loss_per_usd") or 0)
    per_dollar = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [f"{h['mineral']} ({h['form']})" for h in held],
                "x": [h.get("avoided_loss_per_usd") for h in held],
                "marker": {"color": "#1f3a93"},
                "customdata": [
                    [
                        f"{h['tonnes']:,.0f} t",
                        f"${h['usd'] / 1e6:,.0f}M",
                        f"${(h.get('expected_loss_avoided_usd') or 0) / 1e6:,.0f}M",
                    ]
                    for h in held
                ],
                "hovertemplate": "%{y}: $%{x:.2f} of expected loss avoided per $ held"
                "<br>%{customdata[0]} costing %{customdata[1]}; avoids %{customdata[2]}"
                "<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": "Expected loss avoided per dollar, by lot"},
            "xaxis": {"title": {"text": "USD avoided per USD held"}, "fixedrange": True},
            "yaxis": {"automargin": True, "fixedrange": True},
            "margin": {"l": 10, "r": 10, "t": 40, "b": 40},
            "height": 160 + 36 * max(1, len(held)),
            "autosize": True,
        },
    }
    policies = plan["policies"]
    name_key = next((k for k in ("policy", "name", "id") if policies and k in policies[0]), None)
    policy_fig = {
        "data": [
            {
                "type": "bar",
                "x": [
                    str(p.get(name_key, i)) if name_key else str(i) for i, p in enumerate(policies)
                ],
                "y": [(p.get("expected_loss_usd") or 0) / 1e9 for p in policies],
                "marker": {"color": "#c0392b"},
                "hovertemplate": "%{x}: expected loss $%{y:.2f}B<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": "Expected loss by policy ($B, same scenarios)"},
            "yaxis": {"ticksuffix": "B", "tickprefix": "$", "fixedrange": True},
            "xaxis": {"fixedrange": True, "automargin": True},
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "height": 340,
            "autosize": True,
        },
    }
    out = {"per_dollar": per_dollar, "policies": policy_fig}
    rows = [r for r in plan.get("parameter_sensitivity", []) if r.get("moved_share") is not None]
    if rows:
        rows = sorted(rows, key=lambda r: r["moved_share"])
        out["assumed"] = {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [f"{r['parameter']} ({r['mineral']})" for r in rows],
                    "x": [100 * r["moved_share"] for r in rows],
                    "marker": {"color": ["#c0392b" if r["flagged"] else "#1f3a93" for r in rows]},
                    "hovertemplate": "%{y}: %{x:.1f}% of the budget moves at ±50%<extra></extra>",
                }
            ],
            "layout": {
                "title": {"text": "Share of the budget that moves, each assumption ±50%"},
                "xaxis": {"ticksuffix": "%", "fixedrange": True, "rangemode": "tozero"},
                "yaxis": {"automargin": True, "fixedrange": True},
                "shapes": [
                    {
                        "type": "line",
                        "x0": 25,
                        "x1": 25,
                        "yref": "paper",
                        "y0": 0,
                        "y1": 1,
                        "line": {"dash": "dot", "color": "#c0392b"},
                    }
                ],
                "margin": {"l": 10, "r": 10, "t": 40, "b": 40},
                "height": 160 + 18 * len(rows),
                "autosize": True,
            },
        }
    return out
