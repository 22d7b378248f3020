"""Market clearing and welfare: the formulas against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from critmin.economics.market import clearing_price, supply_response
from critmin.economics.welfare import (
    consumer_surplus_lost,
    producer_gain,
    terms_of_trade_transfer,
)


def test_clearing_price_solves_demand_equals_supply() -> None:
    demand = np.array([100.0, 100.0, 100.0])
    available = np.array([50.0, 100.0, 120.0])
    eps = -0.3
    price = clearing_price(available, demand, eps, price_cap=100.0)
    np.testing.assert_allclose(demand * price**eps, available)
    capped = clearing_price(available, demand, eps, price_cap=3.0)
    assert capped[0] == 3.0  # at the choke price the rest is rationed


def test_supply_response_is_bounded_by_spare_capacity() -> None:
    price = np.array([0.5, 1.0, 1.2, 10.0])
    out = supply_response(price, 0.3, spare=0.1)
    assert out[0] == 0.0
    assert out[1] == 0.0
    assert out[2] == pytest.approx(1.2**0.3 - 1.0)
    assert out[3] == 0.1


@pytest.mark.parametrize("eps", [-0.3, -1.0, -1.7])
def test_consumer_surplus_is_the_area_under_demand(eps: float) -> None:
    p0, d0, r = 50.0, 10.0, 2.5
    area, _ = quad(lambda p: d0 * (p / p0) ** eps, p0, r * p0)
    assert float(consumer_surplus_lost(p0, np.array(d0), np.array(r), eps)) == pytest.approx(
        area, rel=1e-8
    )


def test_transfers_split_by_who_sells() -> None:
    r = np.array(1.5)
    assert float(producer_gain(100.0, np.array(4.0), r)) == pytest.approx(200.0)
    assert float(terms_of_trade_transfer(100.0, np.array(6.0), r)) == pytest.approx(300.0)
