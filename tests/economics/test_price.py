"""One reference price: every USGS unit converts, the base year is before the shock, forms are
not priced at their most expensive."""

from __future__ import annotations

import math

import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import TO_USD_PER_T, base_year, reference_prices
from critmin.ledger.reference import bundled as ledger_reference
from critmin.simulate.model import reference_prices_of

NOT_MASS = {"index", "USD/carat", "USD/100mL"}


def test_every_usgs_mass_price_unit_converts(bundled: SupplyChain) -> None:
    units = set(bundled.dataset["prices"]["unit"]) - NOT_MASS
    assert units <= set(TO_USD_PER_T), units - set(TO_USD_PER_T)
    # metric ton units: 1 mtu = 10 kg of the contained substance; a mercury flask is 34.47 kg
    assert TO_USD_PER_T["USD/mtu"] == 100
    assert TO_USD_PER_T["USD/dmtu"] == 100
    assert TO_USD_PER_T["USD/flask"] == pytest.approx(1000 / 34.473, rel=1e-3)
    assert TO_USD_PER_T["USD/ozt"] == pytest.approx(1e6 / 31.1034768, rel=1e-6)


def test_tungsten_and_manganese_prices_are_per_tonne(bundled: SupplyChain) -> None:
    prices = reference_prices_of(bundled)
    # 252 USD/dmtu WO3 (2024) = 25,200 USD/t WO3; 5.53 USD/mtu Mn = 553 USD/t Mn
    assert prices["tungsten"].usd_per_t == pytest.approx(25_200)
    assert prices["manganese"].usd_per_t == pytest.approx(553)


def test_base_year_is_before_the_first_control(bundled: SupplyChain) -> None:
    prices = reference_prices_of(bundled)
    assert base_year("antimony", {"antimony": 2024}) == 2023
    assert base_year("cobalt", {}) == 2024
    # antimony: 2023 average 5.49 USD/lb, not the 2024 crisis average (10.24) or 2025e (25)
    assert prices["antimony"].year == 2023
    assert prices["antimony"].usd_per_t == pytest.approx(5.49 * 2204.62262)
    assert prices["gallium"].year == 2022  # Ga/Ge controls from August 2023


def test_median_of_forms_not_the_dearest(bundled: SupplyChain) -> None:
    salt = reference_prices_of(bundled)["salt"]
    assert salt.forms == 4
    assert salt.usd_per_t < 200  # vacuum-pan salt is 260 USD/t; brine 11, rock 54


def test_estimates_are_not_a_base(bundled: SupplyChain) -> None:
    table = bundled.dataset["prices"].copy()
    table.loc[table["mineral"] == "lime", "estimated"] = True
    assert "lime" not in reference_prices(table, {})


def test_ledger_and_engine_share_the_reference_price(bundled: SupplyChain) -> None:
    engine = reference_prices_of(bundled)
    ledger = ledger_reference()
    for mineral in ("rare_earths", "cobalt", "tungsten", "antimony", "salt"):
        value, year = ledger.reference_price(mineral) or (None, None)
        assert value is not None
        assert float(value) == pytest.approx(engine[mineral].usd_per_t, abs=0.01)
        assert year == engine[mineral].year
    assert not any(math.isnan(p.usd_per_t) for p in engine.values())
