"""One lookup of a market parameter (``market_parameters``): its value, its source and whether
it is a critmin assumption. The chain model (critmin.simulate.model), the reference price in
the chain's basis (critmin.economics.price.basis_factor), the reserve plan's market impact and
its sensitivity read a parameter through it, so a mineral's row, its ``all`` fallback and the
provenance a result records are decided in one place."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from critmin.schema.validate import is_true
from critmin.schema.vocabulary import ASSUMPTION_SOURCE

#: ``market_parameters.mineral`` of a row that holds for every mineral without its own (the
#: build fills it into each such mineral, critmin.data.build.Builder.market_parameters; an
#: unbuilt table may still carry it).
EVERY_MINERAL = "all"


@dataclass(frozen=True)
class MarketParameter:
    """One market parameter of a mineral, with where its value comes from."""

    mineral: str
    name: str
    value: float
    source_id: str
    estimated: bool

    @property
    def assumption(self) -> bool:
        """A critmin default (source ``CRITMIN_ASSUMPTION``), not a sourced figure."""
        return self.source_id == ASSUMPTION_SOURCE


def market_parameter(params: pd.DataFrame, mineral: str, name: str) -> MarketParameter:
    """Parameter ``name`` of ``mineral`` from ``params`` (market_parameters): the mineral's row,
    else the ``all`` row; KeyError ``market_parameters has no <name> for <mineral>`` without
    either."""
    for key in (mineral, EVERY_MINERAL):
        rows = params[(params["mineral"] == key) & (params["parameter"] == name)]
        if not rows.empty:
            row = rows.iloc[0]
            return MarketParameter(
                mineral=mineral,
                name=name,
                value=float(row["value"]),
                source_id=str(row["source_id"]),
                estimated=is_true(row["estimated"]),
            )
    raise KeyError(f"market_parameters has no {name} for {mineral}")
