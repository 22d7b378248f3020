"""Ensemble results as records (quantiles over scenarios) and as a run folder on disk.

Ratios compare each quantity with the same quantity in the baseline run (no scenario). Quantiles
come from the streamed summary (critmin.simulate.stream: each within half a histogram step of
the sample's inverted-CDF quantile; the step is in ``<mineral>.summary.nc`` as
``*_quantile_error``).
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
from critmin.simulate.model import ChainModel
from critmin.simulate.runner import MineralResult, RunResult
from critmin.simulate.stream import Summary

WORLD_EX = "world_ex_"


def _summary(mr: MineralResult) -> Summary:
    if mr.summary is None:  # pragma: no cover - simulate always summarises
        raise ValueError(f"{mr.model.mineral}: no streamed summary")
    return mr.summary


def _num(v: Any) -> float | None:
    f = float(v)
    return None if not np.isfinite(f) else round(f, 6)


def flow_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per stage and origin: exports to the world outside the origin (p50 of flow / baseline);
    at the last stage also per consuming region."""
    res, base = _summary(mr), mr.baseline
    out: list[dict[str, Any]] = []
    stages, origins = list(base.stage.values), list(base.origin.values)
    regions, periods = list(base.region.values), [int(p) for p in base.period.values]
    # plain arrays in (stage, origin, period) order: a label look-up per cell is ~1 ms
    order = {"stage": stages, "origin": origins, "region": regions}

    def arranged(a: xr.DataArray, *dims: str) -> np.ndarray:
        out: np.ndarray = a.sel({d: order[d] for d in dims if d in order}).transpose(*dims).values
        return out

    exp = arranged(res.ratio("exports", 0.5), "stage", "origin", "period")
    has = arranged(base["exports"].isel(scenario=0).sum("period") > 0, "stage", "origin")
    for i, stage in enumerate(stages):
        for j, origin in enumerate(origins):
            if not has[i, j]:
                continue
            for t, p in enumerate(periods):
                out.append(
                    {
                        "mineral": mineral,
                        "stage": str(stage),
                        "origin": str(origin),
                        "destination": f"{WORLD_EX}{origin}",
                        "period": p,
                        "supply_ratio_p50": _num(exp[i, j, t]),
                    }
                )
    last = str(base.stage.values[-1])
    fin = arranged(res.ratio("final", 0.5), "origin", "region", "period")
    fbase = arranged(base["final"].isel(scenario=0).sum("period"), "origin", "region")
    for j, origin in enumerate(origins):
        for r, region in enumerate(regions):
            if float(fbase[j, r]) <= 0 or region == origin:
                continue
            for t, p in enumerate(periods):
                out.append(
                    {
                        "mineral": mineral,
                        "stage": last,
                        "origin": str(origin),
                        "destination": str(region),
                        "period": p,
                        "supply_ratio_p50": _num(fin[j, r, t]),
                    }
                )
    return out


def region_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per consuming region and period: supply ratio, shortfall (t), price ratio, loss (USD)."""
    res, base = _summary(mr), mr.baseline
    columns = {
        "supply_ratio_p50": res.ratio("receipts", 0.5),
        "shortfall_t_p50": res.quantile("shortfall", 0.5),
        "shortfall_t_p95": res.quantile("shortfall", 0.95),
        "price_ratio_p50": res.quantile("price_ratio", 0.5),
        "loss_usd_p50": res.quantile("loss_usd", 0.5),
        "loss_usd_p95": res.quantile("loss_usd", 0.95),
    }
    regions, periods = list(base.region.values), list(base.period.values)
    # one array per column in (region, period) order: a label look-up per cell is ~1 ms
    values = {
        k: v.sel(region=regions, period=periods).transpose("region", "period").values
        for k, v in columns.items()
    }
    last = str(base.stage.values[-1])
    return [
        {
            "mineral": mineral,
            "stage": last,
            "region": str(region),
            "period": int(p),
            **{k: _num(v[i, j]) for k, v in values.items()},
        }
        for i, region in enumerate(regions)
        for j, p in enumerate(periods)
    ]


def sector_records(mineral: str, mr: MineralResult) -> list[dict[str, Any]]:
    """Per region and end-use sector: shortfall and loss over the whole horizon (p50, p95).
    The region's shortfall is split over sectors in its end-use shares (a fixed share, so the
    sector's quantile is the share of the region's)."""
    res = _summary(mr)
    split = xr.DataArray(
        mr.model.sector_share,
        dims=("region", "sector"),
        coords={"region": list(mr.model.regions), "sector": list(mr.model.sectors)},
    )
    s50 = res.quantile("shortfall_total", 0.5) * split
    s95 = res.quantile("shortfall_total", 0.95) * split
    l50 = res.quantile("loss_total", 0.5) * split
    return [
        {
            "mineral": mineral,
            "region": str(r),
            "sector": str(s),
            "shortfall_t_p50": _num(s50.sel(region=r, sector=s)),
            "shortfall_t_p95": _num(s95.sel(region=r, sector=s)),
            "loss_usd_p50": _num(l50.sel(region=r, sector=s)),
        }
        for r in split.region.values
        for s in split.sector.values
        if float(split.sel(region=r, sector=s)) > 0
    ]


def summary(result: RunResult) -> dict[str, Any]:
    """The JSON the CLI writes: scenario, runs, seed, period, flows, regions (+ units, notes)."""
    flows: list[dict[str, Any]] = []
    regions: list[dict[str, Any]] = []
    sectors: list[dict[str, Any]] = []
    units: dict[str, str] = {}
    years: dict[str, dict[str, Any]] = {}
    assumptions: dict[str, list[str]] = {}
    for mineral, mr in result.minerals.items():
        flows += flow_records(mineral, mr)
        regions += region_records(mineral, mr)
        sectors += sector_records(mineral, mr)
        units[mineral] = mr.model.unit
        years[mineral] = data_years(mr.model)
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
        "data_years": years,
        "money_unit": "USD",
        "assumptions": assumptions,
    }


def data_years(model: ChainModel) -> dict[str, Any]:
    """The years a chain model's inputs were read in: its base year (SupplyChain.base_year)
    and each stage's production year (SupplyChain.production_years)."""
    return {
        "base_year": model.base_year,
        "production_years": dict(zip(model.stages, model.production_years, strict=True)),
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
        "paths": "per-draw paths in <mineral>/paths-*.nc (float32)"
        if cfg.paths_dir is not None
        else ("per-draw paths in <mineral>.nc" if cfg.keep_paths else "not kept"),
        "reroute": cfg.reroute,
        "pool_below": cfg.pool_below,
        "data_version": data_version(ds),
        "data_source": ds.source,
        "minerals": {
            m: {
                "stages": list(r.model.stages),
                **data_years(r.model),
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
        baseline = {f"baseline_{k}": v.isel(scenario=0, drop=True) for k, v in mr.baseline.items()}
        summ = _summary(mr)
        loss = summ.distribution("loss_total")
        ds_sum = (
            summ.to_dataset()
            .assign(baseline)
            .assign(
                loss_total_counts=loss.drop_vars("bin_value"),
                loss_total_bin_usd=loss["bin_value"].drop_vars("bin_value"),
            )
        )
        ds_sum.attrs["quantile_method"] = (
            "fixed-grid histogram, inverted CDF (critmin.simulate.stream)"
        )
        ds_sum.to_netcdf(out / f"{mineral}.summary.nc", engine="scipy")
        if "receipts" in mr.results and cfg.paths_dir is None:
            mr.results.assign(baseline).to_netcdf(out / f"{mineral}.nc", engine="scipy")
    (out / "summary.json").write_text(json.dumps(summary(result)), encoding="utf-8")
    return out
