"""Ensemble results as records (quantiles over scenarios) and as a run folder on disk.

Ratios compare each quantity with the same quantity in the baseline run (no scenario).
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from critmin.data.load import Dataset
from critmin.simulate.runner import MineralResult, RunResult

WORLD_EX = "world_ex_"


def _ratio(x: xr.DataArray, base: xr.DataArray) -> xr.DataArray:
    b = base.isel(scenario=0, drop=True)
    return (x / b.where(b > 0)).where(b > 0)


def _q(arr: xr.DataArray, q: float) -> xr.DataArray:
    return arr.quantile(q, dim="scenario", skipna=False).drop_vars("quantile")


def _num(v: Any) -> float | None:
    f = float(v)
    return None if not np.isfinite(f) else round(f, 6)


def flow_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per stage and origin: exports to the world outside the origin (p50 of flow / baseline);
    at the last stage also per consuming region."""
    res, base = mr.results, mr.baseline
    out: list[dict[str, Any]] = []
    exp = _q(_ratio(res["exports"], base["exports"]), 0.5)
    has = base["exports"].isel(scenario=0).sum("period") > 0
    for stage in res.stage.values:
        for origin in res.origin.values:
            if not bool(has.sel(stage=stage, origin=origin)):
                continue
            series = exp.sel(stage=stage, origin=origin)
            for p, v in zip(series.period.values, series.values, strict=True):
                out.append(
                    {
                        "mineral": mineral,
                        "stage": str(stage),
                        "origin": str(origin),
                        "destination": f"{WORLD_EX}{origin}",
                        "period": int(p),
                        "supply_ratio_p50": _num(v),
                    }
                )
    last = str(res.stage.values[-1])
    fin = _q(_ratio(res["final"], base["final"]), 0.5)
    fbase = base["final"].isel(scenario=0).sum("period")
    for origin in res.origin.values:
        for region in res.region.values:
            if float(fbase.sel(origin=origin, region=region)) <= 0 or region == origin:
                continue
            series = fin.sel(origin=origin, region=region)
            for p, v in zip(series.period.values, series.values, strict=True):
                out.append(
                    {
                        "mineral": mineral,
                        "stage": last,
                        "origin": str(origin),
                        "destination": str(region),
                        "period": int(p),
                        "supply_ratio_p50": _num(v),
                    }
                )
    return out


def region_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per consuming region and period: supply ratio, shortfall (t), price ratio, loss (USD)."""
    res, base = mr.results, mr.baseline
    supply = _q(_ratio(res["receipts"], base["receipts"]), 0.5)
    short50, short95 = _q(res["shortfall"], 0.5), _q(res["shortfall"], 0.95)
    price, loss = _q(res["price_ratio"], 0.5), _q(res["loss_usd"], 0.5)
    loss95 = _q(res["loss_usd"], 0.95)
    last = str(res.stage.values[-1])
    out = []
    for region in res.region.values:
        for p in res.period.values:
            at = {"region": region, "period": p}
            out.append(
                {
                    "mineral": mineral,
                    "stage": last,
                    "region": str(region),
                    "period": int(p),
                    "supply_ratio_p50": _num(supply.sel(at)),
                    "shortfall_t_p50": _num(short50.sel(at)),
                    "shortfall_t_p95": _num(short95.sel(at)),
                    "price_ratio_p50": _num(price.sel(at)),
                    "loss_usd_p50": _num(loss.sel(at)),
                    "loss_usd_p95": _num(loss95.sel(at)),
                }
            )
    return out


def sector_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per region and end-use sector: shortfall and loss over the whole horizon (p50, p95).
    The region's shortfall is split over sectors in its end-use shares."""
    res = mr.results
    short = res["shortfall_sector"].sum("period")
    loss = res["loss_sector"].sum("period")
    s50, s95, l50 = _q(short, 0.5), _q(short, 0.95), _q(loss, 0.5)
    return [
        {
            "mineral": mineral,
            "region": str(r),
            "sector": str(s),
            "shortfall_t_p50": _num(s50.sel(region=r, sector=s)),
            "shortfall_t_p95": _num(s95.sel(region=r, sector=s)),
            "loss_usd_p50": _num(l50.sel(region=r, sector=s)),
        }
        for r in res.region.values
        for s in res.sector.values
        if float(
            mr.model.sector_share[
                list(res.region.values).index(r), list(res.sector.values).index(s)
            ]
        )
        > 0
    ]


def summary(result: RunResult) -> dict[str, Any]:
    """The JSON the CLI writes: scenario, runs, seed, period, flows, regions (+ units, notes)."""
    flows: list[dict[str, Any]] = []
    regions: list[dict[str, Any]] = []
    sectors: list[dict[str, Any]] = []
    units: dict[str, str] = {}
    assumptions: dict[str, list[str]] = {}
    for mineral, mr in result.minerals.items():
        flows += flow_records(mineral, mr)
        regions += region_records(mineral, mr)
        sectors += sector_records(mineral, mr)
        units[mineral] = mr.model.unit
        assumptions[mineral] = list(mr.model.assumptions)
    return {
        "scenario": result.scenario.name,
        "runs": result.config.runs,
        "seed": result.config.seed,
        "period": result.config.period.value,
        "horizon": result.config.horizon,
        "start": result.scenario.start,
        "flows": flows,
        "regions": regions,
        "sectors": sectors,
        "quantity_units": units,
        "money_unit": "USD",
        "assumptions": assumptions,
    }


def data_version(ds: Dataset) -> str:
    """A digest of the table files the run read (bundled or user overlay)."""
    h = hashlib.sha256()
    for name in sorted(ds.files):
        f = ds.files[name]
        for path in (f.base, *f.extensions):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def write_run(result: RunResult, ds: Dataset, out: Path) -> Path:
    """Write the run folder: manifest, resolved scenario, per-chain results, summary."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = result.config
    manifest = {
        "critmin_version": version("critmin"),
        "scenario": result.scenario.name,
        "seed": cfg.seed,
        "runs": cfg.runs,
        "period": cfg.period.value,
        "horizon": cfg.horizon,
        "executor": cfg.executor.value,
        "chunk": cfg.chunk,
        "reroute": cfg.reroute,
        "data_version": data_version(ds),
        "data_source": ds.source,
        "minerals": {
            m: {
                "stages": list(r.model.stages),
                "unit": r.model.unit,
                "sources": list(r.model.sources),
                "assumptions": list(r.model.assumptions),
            }
            for m, r in result.minerals.items()
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (out / "scenario.yaml").write_text(
        yaml.safe_dump(result.scenario.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
    )
    for mineral, mr in result.minerals.items():
        ds_out = mr.results.assign(
            {f"baseline_{k}": v.isel(scenario=0, drop=True) for k, v in mr.baseline.items()}
        )
        ds_out.to_netcdf(out / f"{mineral}.nc", engine="scipy")
    (out / "summary.json").write_text(json.dumps(summary(result)), encoding="utf-8")
    return out
