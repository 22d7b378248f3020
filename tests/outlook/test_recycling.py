"""Recycling as supply: never more than end-of-life volume x collection x recovery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.examples import small_world_tables
from critmin.outlook.capacity import run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.recycling import lifetime_pmf, recycling_outlook


def _tables(plant_t: float | None) -> dict[str, pd.DataFrame]:
    """The small world with Australia's cobalt recycling flows and, given ``plant_t``, a recycling
    plant of that capacity."""
    tables = small_world_tables()
    common = {"source_id": "EXAMPLE", "estimated": True, "note": "test"}
    tables["recycling_flows"] = pd.DataFrame(
        [
            {
                "mineral": "cobalt",
                "region": "AUS",
                "sector": "superalloys",
                "lifetime_mean_years": 5.0,
                "lifetime_sd_years": 1.5,
                "collection_rate": 0.5,
                "recovery_rate": 0.8,
                "demand_stage": "mining",
                "demand_share": None,  # from end_uses
                "demand_growth_per_year": None,  # the series' own trend
                **common,
            }
        ]
    )
    uses = tables["end_uses"]
    tables["end_uses"] = pd.concat([uses, uses.assign(region="AUS", share=1.0)], ignore_index=True)
    if plant_t is not None:
        plant = (
            tables["projects"]
            .iloc[[0]]
            .assign(
                id="aus-cobalt-recycler", kind="recycling", capacity=plant_t, status="construction"
            )
        )
        tables["projects"] = pd.concat([tables["projects"], plant], ignore_index=True)
    return tables


@pytest.mark.parametrize("plant_t", [None, 0.5, 1000.0])
def test_recycled_never_exceeds_eol_times_collection_times_recovery(
    chain_from_tables: Callable[..., SupplyChain], tmp_path: Path, plant_t: float | None
) -> None:
    chain = chain_from_tables(_tables(plant_t), tmp_path / "world")
    out = recycling_outlook(chain, run_outlook(chain, Policy(), draws=300, seed=1))
    assert not out.empty
    bound = out["eol_t"] * out["collection_rate"] * out["recovery_rate"]
    assert (out["recycled_t"] <= bound + 1e-9).all()
    assert (out["eol_t"] > 0).all()
    if plant_t is None:
        assert not out["capacity_declared"].any()
        assert (out["recycled_t"] == 0).all()
    elif plant_t == 0.5:
        late = out[out["year"] >= 2035]
        assert np.allclose(late["recycled_t"], 0.5)  # capped by the plant
    else:
        late = out[out["year"] >= 2035]
        assert np.allclose(late["recycled_t"], late["secondary_potential_t"])


def test_lifetime_distribution_sums_to_one_and_peaks_at_the_mean() -> None:
    pmf = lifetime_pmf(15.0, 4.0, 60)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert int(np.argmax(pmf)) == 15


def test_recycled_supply_node_sums_sectors(
    chain_from_tables: Callable[..., SupplyChain], tmp_path: Path
) -> None:
    from critmin.outlook.recycling import recycled_supply  # noqa: PLC0415

    chain = chain_from_tables(_tables(0.5), tmp_path / "world")
    result = run_outlook(chain, Policy(), draws=200, seed=2)
    node = recycled_supply(chain, result)
    assert node.dims == ("mineral", "region", "year")
    table = recycling_outlook(chain, result)
    assert float(node.sel(mineral="cobalt", region="AUS").sum()) == pytest.approx(
        float(table["recycled_t"].sum())
    )
