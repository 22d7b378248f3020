"""Which U.S. shortfall a reserve form can meet, and how: directly, or through a conversion
route with its capacity and lead time.

Needs (reserve_needs.csv) split a mineral's U.S. shortfall by element and by the stage the
shortfall is at (the chain's last stage: for rare earths, magnets); a mineral without rows has
one need, met by any of its forms (the chain's shortfall, as before). A form meets a need
directly when its element and stage match; otherwise only through a route (reserve_conversions
.csv) from its stage to the need's stage, whose capacity is the U.S. and allied plants of the
facilities table at the route's output stage times the share of it available to the reserve,
and whose output arrives after the route's lead time. A form with neither meets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain

ALLIED = "allied"
HOME = "USA"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


@dataclass(frozen=True)
class Conversion:
    """Needs, routes and, per lot, its path: ``paths`` has lot, need, lag (periods), route
    ('' when direct) and reason (why a lot meets nothing)."""

    needs: pd.DataFrame  # need, mineral, element, stage, share
    routes: pd.DataFrame  # route, mineral, element, from_stage, to_stage, capacity_t_per_year,
    #                       lead_time_months, note
    paths: pd.DataFrame

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
    ) -> Conversion:
        """From the dataset's tables (or the frames given) for ``lots`` (a Lots frame)."""
        if needs is None:
            needs = chain.dataset["reserve_needs"] if chain is not None else pd.DataFrame()
        if routes is None:
            routes = route_capacity(chain) if chain is not None else pd.DataFrame()
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
        return cls(need_frame, routes, pd.DataFrame(paths, columns=columns))

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

    def route_capacity(self, months_per_period: int) -> pd.Series:
        """t per period through each route the paths use."""
        if self.routes.empty:
            return pd.Series(dtype=float)
        cap = self.routes.set_index("route")["capacity_t_per_year"].astype(float)
        return cap * months_per_period / 12


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
        f"{st}-to-{target} conversion capacity is declared (facilities.csv)",
    }


def route_capacity(chain: SupplyChain) -> pd.DataFrame:
    """reserve_conversions with each route's capacity: the U.S. and allied plants of the
    facilities table at the route's output stage (t/yr) x the share available to the reserve."""
    conv = chain.dataset["reserve_conversions"].copy()
    fac = chain.dataset["facilities"]
    groups = chain.dataset["country_groups"]
    friends = set(groups.loc[groups["group"] == ALLIED, "country"]) | {HOME}
    rows = []
    for _, r in conv.iterrows():
        el = _text(r.get("element"))
        plants = fac[
            (fac["mineral"] == r["mineral"])
            & (fac["stage"] == r["to_stage"])
            & (fac["unit"] == "t")
            & fac["country"].isin(friends)
        ]
        total = float(plants["capacity"].astype(float).sum())
        rows.append(
            {
                "route": f"{r['mineral']}:{el or 'all'}:{r['from_stage']}->{r['to_stage']}",
                "mineral": r["mineral"],
                "element": el,
                "from_stage": r["from_stage"],
                "to_stage": r["to_stage"],
                "plants": " ".join(plants["id"]),
                "capacity_t_per_year": total * float(r["available_share"]),
                "lead_time_months": float(r["lead_time_months"]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "route",
            "mineral",
            "element",
            "from_stage",
            "to_stage",
            "plants",
            "capacity_t_per_year",
            "lead_time_months",
        ],
    )
