"""The scenario lab: compose a scenario from the event library, run it in the background,
draw fan charts by calendar month, compare two runs, save the scenario as YAML."""

from __future__ import annotations

import math
import re
import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from critmin.report.colours import COUNTRY_COLOURS, PALETTE
from critmin.report.numbers import month_dates, usd

if TYPE_CHECKING:
    import xarray as xr

    from critmin.simulate.runner import RunResult
    from critmin.web.app import Web
    from critmin.web.jobs import Progress

MAX_RUNS = 5000
#: Lab runs computing at once: the lab is open to every visitor (no token), so a further run
#: is refused (429) until one finishes rather than queued without bound on a small server.
MAX_RUNNING = 2


class LabRequest(BaseModel):
    """What the lab form sends."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("lab", pattern=r"^[a-z0-9][a-z0-9_.\-]{0,60}$")
    events: list[str] = Field(min_length=1, max_length=20)
    start: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    runs: int = Field(1000, ge=10, le=MAX_RUNS)
    horizon: int = Field(12, ge=1, le=60)
    seed: int = Field(0, ge=0, le=2**31)
    #: per event, a factor on its approval path (an export control or content rule under
    #: licensing): the scenario's ``EVENT.scale`` uncertainty, fixed at that value
    scale: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)


def compose(req: LabRequest) -> dict[str, Any]:
    """The scenario as YAML would hold it: library events by name; a scale is the event's
    ``scale`` uncertainty fixed at that factor (an event has no ``scale`` field: an approval
    path is scaled through its uncertainty, critmin.simulate.shocks)."""
    from critmin.scenarios.load import ScenarioError, library_events

    library = library_events()
    unknown = [e for e in req.events if e not in library]
    if unknown:
        raise ScenarioError("lab", [f"events: no library event {', '.join(unknown)}"])
    problems = [f"scale.{e}: not an event of this run" for e in req.scale if e not in req.events]
    events: dict[str, Any] = {}
    uncertainties: list[dict[str, Any]] = []
    for e in req.events:
        events[e] = {"use": e}
        factor = float(req.scale.get(e, 1.0))
        if factor == 1.0:
            continue
        body = library[e]
        if body.get("kind") not in ("export_control", "content_rule") or not body.get("approval"):
            problems.append(f"scale.{e}: only a licensing regime's approval path can be scaled")
            continue
        uncertainties.append(
            {"target": f"{e}.scale", "distribution": {"dist": "choice", "values": [factor]}}
        )
    if problems:
        raise ScenarioError("lab", problems)
    out: dict[str, Any] = {
        "name": req.name,
        "description": "composed in the critmin scenario lab from " + ", ".join(req.events),
        "start": req.start,
        "events": events,
    }
    if uncertainties:
        out["uncertainties"] = uncertainties
    return out


def _band(arr: xr.DataArray) -> tuple[list[float | None], ...]:
    """p05, p50, p95 over the draws; a period without a baseline (a region that receives
    nothing at this stage: the ratio is undefined) is a gap (``None``), not NaN."""
    defined = arr.notnull().any("scenario")
    q = arr.fillna(0.0).quantile([0.05, 0.5, 0.95], dim="scenario").where(defined).values
    return tuple([None if math.isnan(v) else round(float(v), 4) for v in row] for row in q)


def _defined(band: tuple[list[float | None], ...]) -> bool:
    return any(v is not None for v in band[1])


def fan(
    title: str, dates: list[str], bands: dict[str, tuple[list[float | None], ...]], ytitle: str
) -> dict[str, Any]:
    """Median lines with their 5-95% bands, one colour per region, by calendar month."""
    data: list[dict[str, Any]] = []
    for i, (region, (lo, mid, hi)) in enumerate(bands.items()):
        c = COUNTRY_COLOURS.get(region, PALETTE[i % len(PALETTE)])
        data.append(
            {
                "type": "scatter",
                "x": dates,
                "y": hi,
                "mode": "lines",
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
                "legendgroup": region,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": dates,
                "y": lo,
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": _alpha(c),
                "showlegend": False,
                "hoverinfo": "skip",
                "legendgroup": region,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": dates,
                "y": mid,
                "mode": "lines+markers",
                "name": region,
                "line": {"color": c},
                "legendgroup": region,
                "customdata": [[a, b] for a, b in zip(lo, hi, strict=True)],
                "hovertemplate": f"{region} %{{x|%b %Y}}: %{{y:.2f}} "
                "(5-95%: %{customdata[0]:.2f}-%{customdata[1]:.2f})<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": title},
            "xaxis": {"type": "date", "tickformat": "%b %Y", "fixedrange": True},
            "yaxis": {"title": {"text": ytitle}, "fixedrange": True, "automargin": True},
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "legend": {"orientation": "h", "y": -0.2},
            "height": 340,
            "autosize": True,
        },
    }


def _alpha(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.18)"


def summarise(result: RunResult, raw: dict[str, Any]) -> dict[str, Any]:
    """Fan charts and a loss table for a finished run (computed in the job, not per request)."""
    import numpy as np

    spec, config = result.scenario, result.config
    figures, table = [], []
    for mineral, mr in result.minerals.items():
        res, base = mr.results, mr.baseline
        dates = month_dates(spec.start, res.sizes["period"], config.months_per_period)
        b = base["receipts"].isel(scenario=0, drop=True)
        supply = res["receipts"] / b.where(b > 0)
        regions = [str(r) for r in res.region.values]
        figures.append(
            fan(
                f"{mineral}: supply to each region (÷ baseline)",
                dates,
                {r: band for r in regions if _defined(band := _band(supply.sel(region=r)))},
                "ratio to baseline",
            )
        )
        price = fan(
            f"{mineral}: price (÷ baseline)",
            dates,
            {r: _band(res["price_ratio"].sel(region=r)) for r in regions},
            "ratio to baseline",
        )
        cap = float(mr.model.price_cap)
        if cap > 0:
            price["layout"]["shapes"] = [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": cap,
                    "y1": cap,
                    "line": {"dash": "dot", "color": "#7f8c8d"},
                }
            ]
            price["layout"]["annotations"] = [
                {
                    "xref": "paper",
                    "x": 0,
                    "y": cap,
                    "text": f"price cap ({cap:g} x baseline)",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "xanchor": "left",
                }
            ]
        figures.append(price)
        short = res["shortfall"].sum("period")
        loss = res["loss_usd"].sum("period")
        for r in regions:
            lr = loss.sel(region=r)
            table.append(
                {
                    "mineral": mineral,
                    "region": r,
                    "unit": mr.model.unit,
                    "shortfall_p50": float(short.sel(region=r).median()),
                    "shortfall_p95": float(short.sel(region=r).quantile(0.95)),
                    "loss_mean_usd": float(lr.mean()),
                    "loss_se_usd": float(lr.std() / np.sqrt(lr.sizes["scenario"])),
                    "loss_p50_usd": float(lr.median()),
                    "loss_p95_usd": float(lr.quantile(0.95)),
                }
            )
    return {
        "name": spec.name,
        "raw": raw,
        "runs": config.runs,
        "seed": config.seed,
        "start": spec.start,
        "horizon": config.horizon,
        "figures": figures,
        "table": table,
    }


def router(web: Web) -> APIRouter:
    r = APIRouter()
    state = web.state
    gate = threading.Lock()

    @r.get("/lab", response_class=HTMLResponse)
    def lab_page(request: Request) -> HTMLResponse:
        from critmin.scenarios.load import library_events

        library = library_events()
        events = [
            {
                "id": k,
                "kind": v.get("kind", ""),
                "start": str(v.get("start", "")),
                "minerals": v.get("minerals") or [v.get("mineral")],
                "note": " ".join(str(v.get("note", "")).split())[:220],
            }
            for k, v in library.items()
        ]
        runs = [
            {"id": j.id, "name": j.result["name"], "runs": j.result["runs"]}
            for j in state.jobs.done()
            if j.label == "lab"
        ]
        return web.page(request, "lab.html.j2", events=events, runs=runs)

    @r.post("/web/lab/run", status_code=202)
    def run(req: LabRequest) -> dict[str, Any]:
        from critmin.scenarios.load import Labels, ScenarioError, parse_scenario
        from critmin.scenarios.spec import Period
        from critmin.simulate.runner import RunConfig, simulate

        try:
            raw = compose(req)
            spec = parse_scenario(raw, "lab", Labels.of(state.chain().dataset))
        except ScenarioError as exc:
            raise HTTPException(422, "; ".join(exc.problems)) from exc
        config = RunConfig(
            runs=req.runs,
            seed=req.seed,
            period=Period.MONTH,
            horizon=req.horizon,
            workers=state.settings.workers,
        )
        chain = state.chain()

        def work(progress: Progress) -> dict[str, Any]:
            return summarise(simulate(chain, spec, config, progress), raw)

        with gate:  # the count and the start together: two requests cannot both pass
            running = sum(j.label == "lab" and j.status == "running" for j in state.jobs.all())
            if running >= MAX_RUNNING:
                raise HTTPException(
                    429,
                    f"the lab is busy: {running} runs are computing; try again when one finishes",
                )
            job = state.jobs.start("lab", work, name=req.name, runs=req.runs)
        return {"job": job.id}

    def finished(job_id: str) -> dict[str, Any]:
        job = state.jobs.get(job_id)
        if job is None or job.label != "lab":
            raise HTTPException(404, f"no lab run {job_id!r}")
        if job.status != "done":
            raise HTTPException(409, f"lab run {job_id} is {job.status}")
        result: dict[str, Any] = job.result
        return result

    @r.get("/web/lab/{job_id}.json")
    def result(job_id: str) -> dict[str, Any]:
        out = finished(job_id)
        rows = [
            {
                **row,
                "loss": usd(row["loss_mean_usd"]),
                "loss_se": usd(row["loss_se_usd"]),
                "loss_p95": usd(row["loss_p95_usd"]),
            }
            for row in out["table"]
        ]
        return {**out, "table": rows, "id": job_id}

    @r.get("/web/lab/{job_id}.yaml")
    def save(job_id: str) -> Response:
        import yaml

        out = finished(job_id)
        name = re.sub(r"[^a-z0-9_.-]", "-", out["name"])
        return Response(
            yaml.safe_dump(out["raw"], sort_keys=False),
            media_type="application/yaml",
            headers={"Content-Disposition": f'attachment; filename="{name}.yaml"'},
        )

    return r
