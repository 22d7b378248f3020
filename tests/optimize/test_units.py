"""Every price unit the bundled prices use converts to USD per metric ton, each checked against
the unit's definition, and the reserve buys at prices in USD/t (manganese: USD/mtu x 100)."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import TO_USD_PER_T
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.problem import Lots
from critmin.schema.vocabulary import NOT_MASS_PRICE_UNITS

LB_KG = 0.45359237  # international avoirdupois pound (1959), exact
OZT_G = 31.1034768  # troy ounce, exact
#: t per unit of each mass unit, from its definition
T_PER_UNIT = {
    "USD/t": 1.0,
    "USD/kg": 1e-3,
    "USD/g": 1e-6,
    "USD/10g": 1e-5,
    "USD/25g": 25e-6,
    "USD/50g": 50e-6,
    "USD/lb": LB_KG / 1000,
    "USc/lb": LB_KG / 1000 * 100,  # a cent is a hundredth of a dollar: 100 cents per USD
    "USD/short_t": 2000 * LB_KG / 1000,
    "USD/ozt": OZT_G * 1e-6,
    "USD/mtu": 0.01,  # a metric ton unit is 1% of a metric ton (10 kg)
    "USD/dmtu": 0.01,
    "USD/flask": 76 * LB_KG / 1000,
    "USD/carat": 0.2e-6,
}


@pytest.mark.parametrize("unit", sorted(T_PER_UNIT))
def test_unit_factor_matches_its_definition(unit: str) -> None:
    assert TO_USD_PER_T[unit] == pytest.approx(1.0 / T_PER_UNIT[unit], rel=1e-6)


def test_every_bundled_price_unit_converts_or_is_declared_not_mass(bundled: SupplyChain) -> None:
    used = set(bundled.dataset["prices"]["unit"])
    assert used - set(NOT_MASS_PRICE_UNITS) <= set(T_PER_UNIT), used - set(T_PER_UNIT)
    assert used - set(NOT_MASS_PRICE_UNITS) <= set(TO_USD_PER_T)
    assert not set(NOT_MASS_PRICE_UNITS) & set(TO_USD_PER_T)


def test_reserve_lots_are_priced_per_tonne(bundled: SupplyChain) -> None:
    """Manganese at 5.53 USD/mtu of Mn content is 553 USD/t Mn, not 5.53 USD/t."""
    ens = build_ensemble(bundled, minerals=["manganese", "tungsten"], runs=10, seed=1, horizon=2)
    lots = Lots.from_table(bundled.dataset["reserve_forms"], ens).frame.set_index("lot")
    prices = bundled.dataset["prices"]
    mn = prices[(prices["mineral"] == "manganese") & (prices["year"] == 2024)]
    assert set(mn["unit"]) == {"USD/mtu"}
    per_mtu = float(mn["value"].iloc[0])
    mn_lots = lots[lots["mineral"] == "manganese"]
    assert len(mn_lots) > 0
    for _, lot in mn_lots.iterrows():
        assert lot["price_usd_t"] == pytest.approx(per_mtu * 100 * lot["price_multiplier"])
        assert lot["price_usd_t"] > 100  # never the mtu figure read as USD/t
    # tungsten: USD/dmtu of WO3 x 100 x 1.2611 t WO3 per t W
    w = lots[lots["mineral"] == "tungsten"].iloc[0]
    assert w["price_usd_t"] == pytest.approx(252 * 100 * 1.2611 * w["price_multiplier"], rel=1e-6)
    assert pd.notna(lots["price_usd_t"]).all()
