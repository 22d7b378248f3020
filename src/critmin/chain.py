"""SupplyChain: the labelled arrays every analysis reads, built once from a validated Dataset.

Dimensions are named, never positional: ``mineral``, ``stage``, ``country``, ``year``, ``group``.
Where several sources report the same mineral, stage and year, one source is chosen per
(mineral, stage, year): the lowest ``priority`` in sources.csv, then the one leaving the
smallest share unattributed (OTH), then the one naming the most producers, then the source id.
The choice is kept in ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from critmin.data.load import Dataset, load
from critmin.data.per_dataset import DatasetMemo
from critmin.economics.price import (
    base_year,
    shock_years_of_dataset,
    year_at_base,
)
from critmin.metrics.governance import scores
from critmin.schema.vocabulary import (
    DEFAULT_GOVERNANCE_VARIANT,
    OTHER_COUNTRIES,
    STAGE_ORDER,
    WORLD,
)

NIR_STAT = "net_import_reliance"


#: SupplyChain.model_production, once per dataset (held weakly: critmin.data.per_dataset).
_MODEL_PRODUCTION: DatasetMemo[xr.Dataset] = DatasetMemo()


def _select_sources(production: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Keep, per (mineral, stage, year), the rows of the one preferred source: lowest priority
    number, then the smallest share left unattributed (OTH), then most named producers."""
    keys = ["mineral", "stage", "year"]
    other = production["country"] == OTHER_COUNTRIES
    frame = production.assign(
        named=(~other & (production["value"] > 0)).astype(int),
        other=production["value"].where(other, 0.0),
    )
    cover = frame.groupby([*keys, "source_id"], as_index=False).agg(
        named=("named", "sum"), other=("other", "sum"), total=("value", "sum")
    )
    cover["unattributed"] = cover["other"] / cover["total"].where(cover["total"] > 0, 1.0)
    cover = (
        cover.merge(sources[["id", "priority"]], left_on="source_id", right_on="id")
        .sort_values(
            [*keys, "priority", "unattributed", "named", "source_id"],
            ascending=[True, True, True, True, True, False, True],
        )
        .drop_duplicates(keys)
    )
    return production.merge(cover[[*keys, "source_id"]], on=[*keys, "source_id"])


@dataclass(frozen=True)
class HostLink:
    """A by-product's output tied to its host's (Nassar, Graedel & Harper 2015): ``share`` of
    ``mineral``'s output at ``stage`` is recovered while ``host`` is processed at
    ``host_stage``. Within a year that share moves with the host's output, not with the
    by-product's price."""

    mineral: str
    stage: str
    host: str
    host_stage: str
    share: float
    source_id: str


@dataclass(frozen=True)
class SupplyChain:
    """Production by stage and country, governance, groups and U.S. reliance as labelled arrays."""

    production: xr.DataArray
    """Output by (mineral, stage, country, year) in the unit of ``unit``; NaN = not reported."""
    unit: xr.DataArray
    """Unit per (mineral, stage, year): t, GWh or fraction."""
    basis: xr.DataArray
    """What is counted per (mineral, stage, year): contained metal, REO, gross weight, ..."""
    source: xr.DataArray
    """The source_id chosen per (mineral, stage, year)."""
    governance: xr.DataArray
    """EU governance risk score 0 (best) - 10 (worst) by (country, year)."""
    groups: xr.DataArray
    """Membership (bool) by (group, country)."""
    us_nir: xr.DataArray
    """U.S. net import reliance (fraction; 0 for a net exporter) by (mineral, year); the bool
    coordinate ``net_exporter`` tells a net exporter's 0 from a reliance of 0."""
    trade_param: xr.DataArray
    """EU trade parameter t_c by (mineral, country); 1 where no restriction is recorded."""
    dataset: Dataset
    secondary: xr.DataArray | None = None
    """U.S. secondary (recycled) supply, t/yr by ``mineral`` in the chain model's reference
    basis; None = none. Attached by ``critmin.outlook.recycling.with_recycling``; the chain
    model enters it as a domestic supply node (critmin.simulate.model)."""
    as_of: int | None = None
    """The latest base year any mineral may take (``base_year``); None = no cap. A back-test
    of an episode that starts in year Y sets Y - 1 (critmin.simulate.backtest)."""

    @classmethod
    def from_dataset(
        cls, ds: Dataset, *, governance_variant: str = DEFAULT_GOVERNANCE_VARIANT
    ) -> SupplyChain:
        """Build the arrays; ``governance_variant`` picks the WGI variant of the EU governance score
        (``mean_of_six``, the EU method, or ``political_stability``)."""
        prod = _select_sources(ds["production"], ds["sources"])
        prod = prod[prod["country"] != WORLD]
        # (unique() first: iterating a column element by element costs ~0.05 s at start-up)
        present = set(prod["stage"].unique())
        stages = [s for s in STAGE_ORDER if s in present]
        minerals = sorted(set(prod["mineral"].unique()))
        countries = sorted(set(prod["country"].unique()))
        years = sorted(int(y) for y in set(prod["year"].unique()))
        labels = {"mineral": minerals, "stage": stages, "country": countries, "year": years}
        # place each row by its labels' positions; rows that share a cell are summed
        codes = tuple(
            pd.Categorical(
                prod[dim].astype(int) if dim == "year" else prod[dim], categories=cats
            ).codes
            for dim, cats in labels.items()
        )
        grid = np.zeros(tuple(len(c) for c in labels.values()))
        seen = np.zeros(grid.shape, dtype=bool)
        np.add.at(grid, codes, prod["value"].to_numpy(float))
        seen[codes] = True
        production = xr.DataArray(
            np.where(seen, grid, np.nan),
            coords=labels,
            dims=tuple(labels),
            name="production",
        )
        meta = prod.drop_duplicates(["mineral", "stage", "year"]).set_index(
            ["mineral", "stage", "year"]
        )
        triple = pd.MultiIndex.from_product(
            [minerals, stages, years], names=["mineral", "stage", "year"]
        )

        def per_msy(col: str) -> xr.DataArray:
            arr = meta[col].reindex(triple).to_numpy(dtype=object)
            return xr.DataArray(
                arr.reshape(len(minerals), len(stages), len(years)),
                coords={"mineral": minerals, "stage": stages, "year": years},
                dims=("mineral", "stage", "year"),
                name=col,
            )

        gov = scores(ds["governance"], governance_variant)
        gov_years = sorted(set(years) | {int(y) for y in gov["year"]})
        score = (
            gov.pivot_table(index="country", columns="year", values="score")
            .reindex(index=countries, columns=gov_years)
            .ffill(axis=1)
        )
        # A country the WGI does not cover (or OTH) gets the median score of that year.
        score = score.fillna(score.median(axis=0), axis=0)[years]
        governance = xr.DataArray(
            score.to_numpy(float),
            coords={"country": countries, "year": years},
            dims=("country", "year"),
            name="governance",
        )

        cg = ds["country_groups"]
        group_ids = sorted(set(cg["group"]))
        member = np.zeros((len(group_ids), len(countries)), dtype=bool)
        cidx = {c: i for i, c in enumerate(countries)}
        gidx = {g: i for i, g in enumerate(group_ids)}
        for g, c in zip(cg["group"], cg["country"], strict=True):
            if c in cidx:
                member[gidx[g], cidx[c]] = True
        groups = xr.DataArray(
            member, coords={"group": group_ids, "country": countries}, dims=("group", "country")
        )

        us_nir = _nir(ds["us_supply"], minerals, years)

        tp = ds["trade_parameters"]
        tparr = xr.DataArray(
            np.ones((len(minerals), len(countries))),
            coords={"mineral": minerals, "country": countries},
            dims=("mineral", "country"),
        )
        for m, c, t in zip(tp["mineral"], tp["country"], tp["t_param"], strict=True):
            if m in tparr.mineral and c in tparr.country:
                tparr.loc[{"mineral": m, "country": c}] = float(t)

        return cls(
            production=production,
            unit=per_msy("unit"),
            basis=per_msy("basis"),
            source=per_msy("source_id"),
            governance=governance,
            groups=groups,
            us_nir=us_nir,
            trade_param=tparr,
            dataset=ds,
        )

    @classmethod
    def load(
        cls, data_dir: Path | None = None, *, governance_variant: str = DEFAULT_GOVERNANCE_VARIANT
    ) -> SupplyChain:
        """Load the bundled data (overlaid by ``data_dir``) and build the chain."""
        return cls.from_dataset(load(data_dir), governance_variant=governance_variant)

    def shares(self) -> xr.DataArray:
        """Country shares of each (mineral, stage, year), OTH included in the denominator."""
        total = self.production.sum("country", min_count=1)
        out = self.production / total.where(total > 0)
        out.name = "share"
        out.attrs["unit"] = "fraction"
        return out

    def hosts(self, mineral: str) -> tuple[HostLink, ...]:
        """The host links of ``mineral`` (bundled ``byproducts``); empty for a main product."""
        table = self.dataset["byproducts"]
        rows = table[table["mineral"] == mineral]
        return tuple(
            HostLink(str(m), str(st), str(h), str(hs), float(sh), str(src))
            for m, st, h, hs, sh, src in zip(
                rows["mineral"],
                rows["stage"],
                rows["host"],
                rows["host_stage"],
                rows["share"],
                rows["source_id"],
                strict=True,
            )
        )

    def shock_years(self) -> dict[str, int]:
        """Per mineral, the year its first library shock starts (critmin.economics.price.
        shock_years_of_dataset); with ``as_of``, no later than ``as_of + 1`` for every mineral,
        so that ``base_year`` is at most ``as_of``."""
        shocks = shock_years_of_dataset(self.dataset)
        if self.as_of is None:
            return shocks
        cap = self.as_of + 1
        names = {str(m) for m in self.dataset["minerals"]["id"]} | set(shocks)
        return {m: min(shocks.get(m, cap), cap) for m in names}

    def base_year(self, mineral: str) -> int:
        """The mineral's pre-shock base year (critmin.economics.price.base_year, the year of its
        reference price): every baseline a model reads (world production by stage and country,
        U.S. demand, net import reliance, import sources, price) is read in it, not in USGS's
        latest (estimated) year."""
        return base_year(mineral, self.shock_years())

    def us_consumption(self, mineral: str) -> pd.DataFrame:
        """The USGS U.S. consumption rows of ``mineral`` in metric tons with a value
        (``us_supply``, every year and detail): what U.S. demand (critmin.simulate.model.
        us_demand_t) and the recycling outlook's demand history read."""
        us = self.dataset["us_supply"]
        return us[
            (us["mineral"] == mineral)
            & (us["statistic"] == "consumption")
            & (us["unit"] == "t")
            & us["value"].notna()
        ]

    def model_production(self) -> xr.Dataset:
        """``production``, ``unit``, ``basis`` and ``source`` as a chain model reads them: the
        chain's arrays, except that where the source of the mineral's U.S. tables (USGS MCS:
        U.S. demand, price, net import reliance, import sources) reports a (mineral, stage,
        year), its rows are read. The U.S. demand a model sets against world output is then
        a ratio of one publication's figures, on one basis and one country list (with its
        "other countries"): World Mining Data's phosphate is P2O5 content (77 Mt in 2024)
        where USGS's U.S. consumption is rock (22.5 Mt against USGS's 239 Mt). Once per
        dataset."""
        ds = self.dataset
        hit = _MODEL_PRODUCTION.get(ds)
        if hit is not None:
            return hit
        us = ds["us_supply"]
        pairs = set(zip(us["mineral"].astype(str), us["source_id"].astype(str), strict=True))
        raw = ds["production"]
        raw = raw[raw["country"] != WORLD]
        own = [
            (str(m), str(src)) in pairs
            for m, src in zip(raw["mineral"], raw["source_id"], strict=True)
        ]
        rows = raw[np.array(own, dtype=bool)]
        labels = {d: self.production[d].values for d in self.production.dims}
        rows = rows[
            rows["mineral"].isin(labels["mineral"])
            & rows["stage"].isin(labels["stage"])
            & rows["country"].isin(labels["country"])
            & rows["year"].astype(int).isin(labels["year"])
        ]
        codes = tuple(
            pd.Categorical(
                rows[d].astype(int) if d == "year" else rows[d], categories=list(labels[d])
            ).codes
            for d in labels
        )
        grid = np.zeros(self.production.shape)
        seen = np.zeros(grid.shape, dtype=bool)
        np.add.at(grid, codes, rows["value"].to_numpy(float))
        seen[codes] = True
        dims = list(self.production.dims)
        covered = seen.any(axis=dims.index("country"))  # (mineral, stage, year)
        wide = np.expand_dims(covered, dims.index("country"))
        production = self.production.copy(
            data=np.where(wide, np.where(seen, grid, np.nan), self.production.values)
        )
        meta = rows.drop_duplicates(["mineral", "stage", "year"])
        out = xr.Dataset({"production": production})
        for name, col in (("unit", "unit"), ("basis", "basis"), ("source", "source_id")):
            arr = getattr(self, name).copy()
            for m, st, y, v in zip(
                meta["mineral"], meta["stage"], meta["year"], meta[col], strict=True
            ):
                arr.loc[{"mineral": m, "stage": st, "year": int(y)}] = v
            out[name] = arr
        _MODEL_PRODUCTION.set(ds, out)
        return out

    def production_years(
        self, minerals: Sequence[str] | None = None, *, base: int | None = None
    ) -> xr.DataArray:
        """The year each (mineral, stage)'s production is read in by a model: the latest year
        with data up to the mineral's base year, else the earliest after it (one rule with the
        price and U.S. demand: critmin.economics.price.year_at_base); -1 where the stage has
        no data. Not the latest year: MCS 2026's 2025 output is an estimate, and for a mineral
        under a 2025 shock it carries the shock the model applies. ``base``, if given, stands
        for every mineral's base year: a by-product's host is read in the by-product's
        (critmin.economics.byproduct.host_shares)."""
        prod = self.model_production()["production"]
        prod = prod if minerals is None else prod.sel(mineral=list(minerals))
        has = prod.notnull().any("country").to_numpy()  # (mineral, stage, year)
        years = prod.year.to_numpy().astype(int)
        base_of = [self.base_year(str(m)) if base is None else base for m in prod.mineral.values]
        base_at = np.array(base_of, dtype=int)
        upto = has & (years[None, None, :] <= base_at[:, None, None])
        last = len(years) - 1 - np.argmax(upto[..., ::-1], axis=-1)
        first = np.argmax(has, axis=-1)
        pick = np.where(upto.any(-1), last, first)
        out = np.where(has.any(-1), years[pick], -1)
        return xr.DataArray(
            out,
            coords={"mineral": prod.mineral.values, "stage": prod.stage.values},
            dims=("mineral", "stage"),
            name="production_year",
        )

    def base_shares(
        self, minerals: Sequence[str] | None = None, *, base: int | None = None
    ) -> xr.DataArray:
        """Country shares by (mineral, stage, country) in each (mineral, stage)'s
        ``production_years`` (the coordinate ``year``; -1 and NaN shares without data), from
        ``model_production``: the world production every simulation (critmin.simulate.model)
        and its disruption set read. ``base`` as in ``production_years``."""
        prod = self.model_production()["production"]
        prod = prod if minerals is None else prod.sel(mineral=list(minerals))
        years = self.production_years(minerals, base=base)
        picked = prod.sel(year=years.where(years >= 0, int(prod.year[0])))
        total = picked.sum("country", min_count=1)
        out = (picked / total.where(total > 0)).where(years >= 0)
        out = out.drop_vars("year").assign_coords(year=years)
        out.name = "share"
        out.attrs["unit"] = "fraction"
        return out

    def us_nir_base(self, minerals: Sequence[str] | None = None) -> xr.DataArray:
        """U.S. net import reliance by ``mineral`` (every mineral, or those of ``minerals``) in
        each mineral's base year (the latest year USGS reports up to it, else the earliest:
        ``year_at_base``); NaN where USGS reports none. Coordinates: ``nir_year``, the year
        read (0 where none), and ``net_exporter``, True where the 0 read is USGS's "net
        exporter" (the U.S. exports more than it imports; its gross imports are not in it).

        Not the latest year: MCS 2026's 2025 figures are estimates, and for a mineral under a
        2025 control they carry the shock the model applies (the price's reason,
        critmin.economics.price). The one definition of base-year reliance: eligibility, the
        reserve plan and the chain model's U.S. import routing all read it."""
        names = [str(m) for m in self.us_nir.mineral.values] if minerals is None else [*minerals]
        values = np.full(len(names), np.nan)
        years = np.zeros(len(names), dtype=int)
        exporter = np.zeros(len(names), dtype=bool)
        known = set(self.us_nir.mineral.values)
        for i, m in enumerate(names):
            if m not in known:
                continue
            at = self.us_nir.sel(mineral=m)
            reported = at.notnull().to_numpy()
            if not reported.any():
                continue
            year = year_at_base({int(y) for y in at.year.values[reported]}, self.base_year(m))
            point = at.sel(year=year)
            values[i], years[i], exporter[i] = float(point), year, bool(point.net_exporter)
        return xr.DataArray(
            values,
            coords={
                "mineral": names,
                "nir_year": ("mineral", years),
                "net_exporter": ("mineral", exporter),
            },
            dims=("mineral",),
            name="us_nir",
            attrs={"unit": "fraction"},
        )

    def stages_of(self, mineral: str) -> list[str]:
        """The stages with any data for ``mineral``, in chain order."""
        has = self.production.sel(mineral=mineral).notnull().any(("country", "year"))
        return [str(s) for s in has.stage.values[has.values]]


def _nir(us: pd.DataFrame, minerals: list[str], years: list[int]) -> xr.DataArray:
    """U.S. net import reliance per mineral and year: the largest NIR USGS reports for any form
    of the mineral (a net exporter counts as 0; a bound such as >95% counts as its bound). The
    bool coordinate ``net_exporter`` marks a (mineral, year) whose every reported form is a net
    exporter: its 0 is not a reliance of 0."""
    nir = us[us["statistic"] == NIR_STAT]
    exporter = nir["qualifier"] == "net_exporter"
    nir = nir.assign(value=nir["value"].where(~exporter, 0.0), importer=~exporter)
    by = nir.groupby(["mineral", "year"])
    table = by["value"].max().unstack("year")
    imports = by["importer"].any().unstack("year", fill_value=False)
    all_years = sorted(set(years) | {int(y) for y in table.columns})
    all_minerals = sorted(set(minerals) | set(table.index))
    table = table.reindex(index=all_minerals, columns=all_years)
    imports = imports.reindex(index=all_minerals, columns=all_years, fill_value=False)
    net_exporter = table.notna().to_numpy() & ~imports.to_numpy(bool)
    return xr.DataArray(
        table.to_numpy(float),
        coords={
            "mineral": all_minerals,
            "year": all_years,
            "net_exporter": (("mineral", "year"), net_exporter),
        },
        dims=("mineral", "year"),
        name="us_nir",
        attrs={"unit": "fraction"},
    )
