"""One lookup of a market parameter: the mineral's row, else the ``all`` row, with its source;
one price in the chain's basis for the chain model and the reserve forms."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.parameters import market_parameter
from critmin.economics.price import basis_factor, chain_price, form_prices
from critmin.simulate.model import build_model, reference_prices_of


def _params() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("lithium", "price_to_basis_factor", 5.323, "CRITMIN_STOICHIOMETRY", "false"),
            ("all", "price_to_basis_factor", 1.0, "CRITMIN_ASSUMPTION", "true"),
            ("all", "spare_capacity", 0.1, "CRITMIN_ASSUMPTION", True),
        ],
        columns=["mineral", "parameter", "value", "source_id", "estimated"],
    )


def test_the_mineral_row_comes_before_the_all_row() -> None:
    own = market_parameter(_params(), "lithium", "price_to_basis_factor")
    assert (own.value, own.source_id, own.estimated, own.assumption) == (
        5.323,
        "CRITMIN_STOICHIOMETRY",
        False,
        False,
    )
    fallback = market_parameter(_params(), "cobalt", "price_to_basis_factor")
    assert (fallback.mineral, fallback.value, fallback.estimated, fallback.assumption) == (
        "cobalt",
        1.0,
        True,
        True,
    )
    assert basis_factor(_params(), "lithium") == 5.323
    assert basis_factor(_params(), "cobalt") == 1.0


def test_a_parameter_without_a_row_is_refused_naming_it() -> None:
    with pytest.raises(KeyError, match="market_parameters has no supply_elasticity for cobalt"):
        market_parameter(_params(), "cobalt", "supply_elasticity")


def test_the_chain_model_and_the_reserve_forms_price_in_one_basis(bundled: SupplyChain) -> None:
    """Lithium's USGS price is per t of carbonate and its chain counts contained lithium: the
    chain model's price and a form priced at 1x the reference price are the same figure, the
    reference price times the bundled factor, and the model records the factor's source."""
    refs = reference_prices_of(bundled)
    params = bundled.dataset["market_parameters"]
    factor = market_parameter(params, "lithium", "price_to_basis_factor")
    assert factor.value != 1.0
    model = build_model(bundled, "lithium")
    assert model.price_usd_t == refs["lithium"].usd_per_t * factor.value
    assert model.price_usd_t == chain_price(refs["lithium"], params, "lithium")
    assert factor.source_id in model.sources
    form = pd.DataFrame([{"mineral": "lithium", "form": "x", "price_multiplier": 1.0}])
    assert form_prices(form, refs, params)["lithium", "x"].usd_per_t == model.price_usd_t
    assert math.isnan(chain_price(None, params, "lithium"))
