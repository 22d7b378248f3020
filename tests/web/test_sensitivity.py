"""The per-assumption sensitivity of the reserve plan: its measure and its same-scenario re-runs."""

from __future__ import annotations

import numpy as np

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import build_ensemble
from critmin.simulate.model import build_model
from critmin.web.sensitivity import Resimulator, moved_share, scaled_model


def test_moved_share_counts_a_reallocation_once_and_a_cut_as_a_cut() -> None:
    base = {"a": 100.0, "b": 0.0}
    assert moved_share(base, {"a": 60.0, "b": 40.0}, 200.0) == 0.2
    assert moved_share(base, {"a": 50.0}, 200.0) == 0.25
    assert moved_share(base, base, 200.0) == 0.0


def test_resimulating_an_unchanged_chain_reproduces_the_ensemble() -> None:
    chain = SupplyChain.load()
    ens = build_ensemble(chain, minerals=["cobalt", "lithium"], runs=4, seed=3)
    resim = Resimulator(chain, ens, 3)
    model = build_model(chain, "lithium")
    same = resim.ensemble(model)
    np.testing.assert_allclose(same.shortfall.values, ens.shortfall.values)
    np.testing.assert_allclose(same.price.values, ens.price.values)
    fewer = resim.ensemble(scaled_model(model, chain, "commercial_stock_days", 0.5))
    # the other mineral is untouched; the changed one draws the same events
    np.testing.assert_allclose(
        fewer.shortfall.sel(mineral="cobalt").values, ens.shortfall.sel(mineral="cobalt").values
    )
    assert (
        fewer.shortfall.sel(mineral="lithium").sum() >= ens.shortfall.sel(mineral="lithium").sum()
    )
