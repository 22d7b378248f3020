"""Which U.S. shortfall a reserve form can meet, and how: directly, or through a conversion
route with its capacity and lead time.

Needs (reserve_needs.csv) split a mineral's U.S. shortfall by element and by the stage the
shortfall is at (the chain's last stage: for rare earths, magnets); a mineral without rows has
one need, met by any of its forms (the chain's shortfall, as before). A form meets a need
directly when its element and stage match; otherwise only through a route (reserve_conversions
.csv) from its stage to the need's stage, and its output arrives after the route's lead time.
A form with neither meets nothing.

A route's capacity is that of the U.S. and allied plants at its output stage: the operating
plants of facilities.csv from the plan's start (or their start year), and the commissioning
projects of projects.csv from their announced start, in tonnes of product a year. It is put in
the chain's basis with the route's ``output_content`` (t of the chain basis per t of product:
for sintered NdFeB magnets the rare-earth oxide they contain) and, where the output stage's
need is split by element, one route per element takes that element's share of the content
(each element keeps its own capacity: an NdPr oxide release never fills a Dy need). Only
``available_share`` of it is the reserve's in a shock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import PLAN_START
from critmin.scenarios.spec import month_index
from critmin.schema.vocabulary import MONTHS_PER_YEAR

ALLIED = "allied"
HOME = "USA"
#: project statuses whose capacity counts, from their announced start
COUNTED_STATUSES = ("commissioning",)

ROUTE_COLUMNS = [
    "route",
    "mineral",
    "element",
    "from_stage",
    "to_stage",
    "plants",
    "capacity_t_per_year",
    "lead_time_months",
]
PLANT_COLUMNS = [
    "route",
    "plant",
    "status",
    "country",
    "product_t_per_year",
    "capacity_t_per_year",
    "start",
    "source_id",
]


def _text(value: object) -> str:
    """'' for a missing value (None, NaN, pd.NA), else the value as text."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


@dataclass(frozen=True)
class Conversion:
    """Needs, routes and, per lot, its path: ``paths`` has lot, need, lag (periods), route
    ('' when direct) and reason (why a lot meets nothing). ``plants`` gives each route's plants
    with their capacity (chain basis, t/yr) and start month ('YYYY-MM'); a route without
    plant rows has its ``capacity_t_per_year`` in every period."""

    needs: pd.DataFrame  # need, mineral, element, stage, share
    routes: pd.DataFrame  # ROUTE_COLUMNS
    paths: pd.DataFrame
    plants: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLANT_COLUMNS))

    @classmethod
    def of(
        cls,
        chain: SupplyChain | None,
        lots: pd.DataFrame,
        minerals: list[str],
        months_per_period: int,
        *,
        needs: pd.DataFrame | None = None,
        routes: pd.DataFrame | None = None,
        conversions: pd.DataFrame | None = None,
    ) -> Conversion:
        """From the dataset's tables (or the frames given) for ``lots`` (a Lots frame);
        ``conversions`` replaces the dataset's reserve_conversions (a sensitivity case)."""
        if needs is None:
            needs = chain.dataset["reserve_needs"] if chain is not None else pd.DataFrame()
        plants = pd.DataFrame(columns=PLANT_COLUMNS)
        if routes is None:
            if chain is not None:
                routes, plants = route_plants(chain, conversions=conversions, needs=needs)
            else:
                routes = pd.DataFrame(columns=ROUTE_COLUMNS)
        rows = []
        for m in minerals:
            mine = needs[needs["mineral"] == m] if not needs.empty else needs
            if mine.empty:
                rows.append({"need": m, "mineral": m, "element": "", "stage": "", "share": 1.0})
            for _, n in mine.iterrows():
                el, st = _text(n["element"]), _text(n["stage"])
                rows.append(
                    {
                        "need": f"{m}:{el or 'all'}:{st or 'any'}",
                        "mineral": m,
                        "element": el,
                        "stage": st,
                        "share": float(n["share"]),
                    }
                )
        need_frame = pd.DataFrame(rows, columns=["need", "mineral", "element", "stage", "share"])
        paths = []
        for _, lot in lots.iterrows():
            paths.append(_path(lot, need_frame, routes, months_per_period))
        columns = ["lot", "need", "lag", "route", "reason"]
        return cls(need_frame, routes, pd.DataFrame(paths, columns=columns), plants)

    @property
    def index(self) -> pd.Index:
        out: pd.Index = pd.Index(self.needs["need"], name="need")
        return out

    def share(self, minerals: pd.Index) -> xr.DataArray:
        """(mineral, need): the share of a mineral's shortfall that is the need."""
        m = self.needs["mineral"].to_numpy()[None, :] == minerals.to_numpy()[:, None]
        return xr.DataArray(
            m * self.needs["share"].to_numpy()[None, :],
            coords={"mineral": minerals, "need": self.index},
            dims=("mineral", "need"),
        )

    def capacity_by_period(
        self, months_per_period: int, periods: pd.Index, start: str = PLAN_START
    ) -> xr.DataArray:
        """(route, period): t per period through each route; a plant counts from the first
        period starting at or after its start month (the plan's first period is ``start``)."""
        routes = pd.Index(self.routes["route"] if not self.routes.empty else [], name="route")
        first = month_index(start)
        begins = first + np.arange(len(periods)) * months_per_period
        out = np.zeros((len(routes), len(periods)))
        for i, route in enumerate(routes):
            mine = self.plants[self.plants["route"] == route]
            if mine.empty:
                row = self.routes[self.routes["route"] == route].iloc[0]
                out[i, :] = float(row["capacity_t_per_year"])
                continue
            for _, plant in mine.iterrows():
                s = _text(plant["start"])
                on = begins >= (month_index(s) if s else first)
                out[i, on] += float(plant["capacity_t_per_year"])
        return xr.DataArray(
            out * months_per_period / MONTHS_PER_YEAR,
            coords={"route": routes, "period": periods},
            dims=("route", "period"),
        )


def _path(
    lot: pd.Series, needs: pd.DataFrame, routes: pd.DataFrame, months_per_period: int
) -> dict[str, object]:
    m, el, st = lot["mineral"], _text(lot.get("element")), str(lot["stage"])
    mine = needs[needs["mineral"] == m]
    fits = mine[(mine["element"] == "") | (mine["element"] == el)]
    direct = fits[(fits["stage"] == "") | (fits["stage"] == st)]
    if not direct.empty:
        return {
            "lot": lot["lot"],
            "need": direct["need"].iloc[0],
            "lag": 0,
            "route": "",
            "reason": "",
        }
    if fits.empty:
        return {
            "lot": lot["lot"],
            "need": None,
            "lag": 0,
            "route": "",
            "reason": f"no U.S. shortfall of {el or m} is declared for this form to meet",
        }
    for _, n in fits.iterrows():
        if routes.empty:
            break
        ok = routes[
            (routes["mineral"] == m)
            & ((routes["element"] == "") | (routes["element"] == el))
            & (routes["from_stage"] == st)
            & (routes["to_stage"] == n["stage"])
        ]
        ok = ok[ok["capacity_t_per_year"].astype(float) > 0]
        if not ok.empty:
            route = ok.iloc[0]
            lag = int(np.ceil(float(route["lead_time_months"]) / months_per_period - 1e-9))
            return {
                "lot": lot["lot"],
                "need": n["need"],
                "lag": lag,
                "route": route["route"],
                "reason": "",
            }
    target = fits["stage"].iloc[0]
    return {
        "lot": lot["lot"],
        "need": None,
        "lag": 0,
        "route": "",
        "reason": f"the shortfall it would meet is at the {target} stage and no U.S. or allied "
        f"{st}-to-{target} conversion capacity is declared (facilities.csv, projects.csv)",
    }


def _plants_at(chain: SupplyChain, mineral: str, stage: str) -> pd.DataFrame:
    """U.S. and allied plants at a stage with their product t/yr and start month: operating
    facilities (from their start year, else always) and commissioning projects (from their
    announced start, else the year after their status year)."""
    groups = chain.dataset["country_groups"]
    friends = set(groups.loc[groups["group"] == ALLIED, "country"]) | {HOME}
    fac = chain.dataset["facilities"]
    fac = fac[
        (fac["mineral"] == mineral)
        & (fac["stage"] == stage)
        & (fac["unit"] == "t")
        & fac["country"].isin(friends)
    ].dropna(subset=["capacity"])
    rows = [
        {
            "plant": f["id"],
            "status": "operating",
            "country": f["country"],
            "product_t_per_year": float(f["capacity"]),
            "start": f"{int(f['start_year'])}-01" if _text(f["start_year"]) else "",
            "source_id": f["source_id"],
        }
        for _, f in fac.iterrows()
    ]
    proj = chain.dataset["projects"]
    proj = proj[
        (proj["mineral"] == mineral)
        & (proj["stage"] == stage)
        & (proj["unit"] == "t")
        & proj["status"].isin(COUNTED_STATUSES)
        & proj["country"].isin(friends)
    ].dropna(subset=["capacity"])
    for _, p in proj.iterrows():
        year = (
            int(p["announced_start"]) if _text(p["announced_start"]) else int(p["status_year"]) + 1
        )
        rows.append(
            {
                "plant": p["id"],
                "status": str(p["status"]),
                "country": p["country"],
                "product_t_per_year": float(p["capacity"]),
                "start": f"{year}-01",
                "source_id": p["source_id"],
            }
        )
    return pd.DataFrame(
        rows,
        columns=["plant", "status", "country", "product_t_per_year", "start", "source_id"],
    )


def route_plants(
    chain: SupplyChain,
    *,
    conversions: pd.DataFrame | None = None,
    needs: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Routes (ROUTE_COLUMNS; capacity once every counted plant runs) and their plants
    (PLANT_COLUMNS). A route row without an element whose output stage has needs split by
    element becomes one route per element, with that element's share of the content."""
    conv = chain.dataset["reserve_conversions"] if conversions is None else conversions
    needs = chain.dataset["reserve_needs"] if needs is None else needs
    routes, plants = [], []
    for _, r in conv.iterrows():
        m, el = str(r["mineral"]), _text(r.get("element"))
        content = float(r["output_content"]) if _text(r.get("output_content")) else 1.0
        split = needs[(needs["mineral"] == m) & (needs["stage"] == r["to_stage"])]
        if el or split.empty:
            parts = [(el, 1.0)]
        else:
            pairs = zip(split["element"], split["share"], strict=True)
            parts = [(_text(e), float(s)) for e, s in pairs]
        at = _plants_at(chain, m, str(r["to_stage"]))
        for element, share in parts:
            name = f"{m}:{element or 'all'}:{r['from_stage']}->{r['to_stage']}"
            factor = content * share * float(r["available_share"])
            cap = at["product_t_per_year"] * factor
            plants.append(at.assign(route=name, capacity_t_per_year=cap))
            routes.append(
                {
                    "route": name,
                    "mineral": m,
                    "element": element,
                    "from_stage": r["from_stage"],
                    "to_stage": r["to_stage"],
                    "plants": " ".join(at["plant"]),
                    "capacity_t_per_year": float(cap.sum()),
                    "lead_time_months": float(r["lead_time_months"]),
                }
            )
    plant_frame = (
        pd.concat(plants, ignore_index=True)[PLANT_COLUMNS]
        if plants
        else pd.DataFrame(columns=PLANT_COLUMNS)
    )
    return pd.DataFrame(routes, columns=ROUTE_COLUMNS), plant_frame


def route_capacity(chain: SupplyChain) -> pd.DataFrame:
    """reserve_conversions with each route's capacity (chain basis, t/yr, every counted plant
    running): the U.S. and allied plants at the output stage x content x element share x the
    share available to the reserve."""
    return route_plants(chain)[0]
