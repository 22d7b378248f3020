"""The scenario lab: compose a scenario from the event library, run it in the background,
draw fan charts by calendar month, compare two runs, save the scenario as YAML."""

from __future__ import annotations

import dataclasses
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
    from critmin.simulate.stream import Summary
    from critmin.web.app import Web
    from critmin.web.jobs import Progress

MAX_RUNS = 5000
#: Lab runs computing at once: the lab is open to every visitor (no token), so a further run
#: is refused (429) until one finishes rather than queued without bound on a small server.
MAX_RUNNING = 2
#: Most bytes of per-draw paths a lab run may hold in memory when it keeps them (float64).
MAX_PATH_BYTES = 512 * 2**20


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
    #: keep every draw's paths (downloadable as netCDF, ``/web/lab/<job>/<mineral>.nc``);
    #: unset, the domain's default (critmin.simulate.runner.RunConfig.keep_paths: summaries
    #: only, as `critmin simulate` without --keep-paths)
    keep_paths: bool | None = None


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


def _band(summary: Summary, name: str, region: str) -> tuple[list[float | None], ...]:
    """p05, p50, p95 over the draws of ``name`` (per period) divided by its cell's scale (the
    baseline receipts for supply; 1 for the price ratio), from the run's streamed histogram
    (critmin.simulate.stream: within half a grid step of the sample quantile). A period
    without a baseline (a region that receives nothing at this stage: the ratio is undefined)
    is a gap (``None``), not NaN."""
    return tuple(
        [_num(v, 4) for v in summary.ratio(name, q).sel(region=region).values]
        for q in (0.05, 0.5, 0.95)
    )


def _num(v: Any, digits: int | None = None) -> float | None:
    f = float(v)
    if math.isnan(f) or math.isinf(f):
        return None
    return f if digits is None else round(f, digits)


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
    """Fan charts and a loss table for a finished run (computed in the job, not per request),
    from the streamed summaries, so they do not need the per-draw paths; the paths, when the
    request kept them, are held beside (``paths``) for download."""
    spec, config = result.scenario, result.config
    figures, table = [], []
    paths: dict[str, xr.Dataset] = {}
    for mineral, mr in result.minerals.items():
        summ = mr.summary
        if summ is None:  # pragma: no cover - simulate always summarises
            raise ValueError(f"{mineral}: no streamed summary")
        if config.keep_paths:
            paths[mineral] = mr.results.assign(
                {f"baseline_{k}": v.isel(scenario=0, drop=True) for k, v in mr.baseline.items()}
            )
        dates = month_dates(spec.start, config.horizon, config.months_per_period)
        regions = [str(r) for r in summ.grids["receipts"].coords["region"]]
        figures.append(
            fan(
                f"{mineral}: supply to each region (÷ baseline)",
                dates,
                {r: band for r in regions if _defined(band := _band(summ, "receipts", r))},
                "ratio to baseline",
            )
        )
        price = fan(
            f"{mineral}: price (÷ baseline)",
            dates,
            {r: _band(summ, "price_ratio", r) for r in regions},
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
        short = {q: summ.quantile("shortfall_total", q) for q in (0.5, 0.95)}
        loss = {q: summ.quantile("loss_total", q) for q in (0.5, 0.95)}
        mean, sd = summ.mean("loss_total"), summ.sd("loss_total")
        draws = max(summ.draws, 1)
        for r in regions:
            table.append(
                {
                    "mineral": mineral,
                    "region": r,
                    "unit": mr.model.unit,
                    "shortfall_p50": _num(short[0.5].sel(region=r)),
                    "shortfall_p95": _num(short[0.95].sel(region=r)),
                    "loss_mean_usd": _num(mean.sel(region=r)),
                    "loss_se_usd": _num(sd.sel(region=r) / math.sqrt(draws)),
                    "loss_p50_usd": _num(loss[0.5].sel(region=r)),
                    "loss_p95_usd": _num(loss[0.95].sel(region=r)),
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
        "keep_paths": config.keep_paths,
        "paths": paths,
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
        if req.keep_paths is not None:  # unset: RunConfig's own default, as the CLI's
            config = dataclasses.replace(config, keep_paths=req.keep_paths)
        chain = state.chain()
        if config.keep_paths:  # held in memory (float64) until the server stops
            from critmin.simulate.runner import paths_bytes

            need = 2 * paths_bytes(chain, spec, config)
            if need > MAX_PATH_BYTES:
                raise HTTPException(
                    422,
                    f"keep_paths: the paths of {req.runs:,} draws x {req.horizon} months need "
                    f"about {need / 2**20:,.0f} MiB (at most {MAX_PATH_BYTES // 2**20} MiB); "
                    "ask for fewer draws or months, or use `critmin simulate --keep-paths`",
                )

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
        out = {k: v for k, v in finished(job_id).items() if k != "paths"}
        out["paths"] = [f"/web/lab/{job_id}/{m}.nc" for m in finished(job_id)["paths"]]
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

    @r.get("/web/lab/{job_id}/{mineral}.nc")
    def paths(job_id: str, mineral: str) -> Response:
        """A chain's per-draw paths (with its baseline), when the run kept them."""
        kept = finished(job_id)["paths"]
        if mineral not in kept:
            why = "no chain" if kept else "no paths kept (run it with keep_paths)"
            raise HTTPException(404, f"lab run {job_id}: {why} {mineral!r}")
        return Response(
            kept[mineral].to_netcdf(engine="scipy"),
            media_type="application/x-netcdf",
            headers={"Content-Disposition": f'attachment; filename="{mineral}.nc"'},
        )

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
