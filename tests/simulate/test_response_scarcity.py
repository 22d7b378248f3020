"""The suppliers' response answers the stock-free flow scarcity (engine step 3): what would
reach the regions without any stock drawn, the plants' input stock included, and without the
suppliers' own response at any stage. That scarcity is the month's shocks alone, so under a
constant cut the response is constant, and the price path does not alternate month to month.

Until 2026-12-03 the response answered last month's final shipments less the last stage's
own response: the plants' input stock drawn upstream (by the pooled release and by the
answering plants' rerouting) counted as flow, so a month of high price was followed by a full
response, a notional price near 1, no response the month after, and a high price again (the
DRC 2025 cobalt path: 1.86, 1.00, 2.18, 1.00, 1.84, ...).

A path *alternates* when, while the cut is constant and from its second month on (the month
the response first answers), the price falls from one month to the next by more than TOL:
a constant cut with stocks running down never lowers the price."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.storage import OPEN_REGIME_END_HAZARD
from critmin.simulate.backtest import episode_inputs
from critmin.simulate.engine import check_balance, run

from .synthetic import CUT_FROM, DEMAND, MONTHS, answering_routes, checked_run, cut

#: the largest fall of the price from one month to the next read as no fall (price ratio)
TOL = 0.01


def _falls(prices: np.ndarray) -> list[tuple[int, float]]:
    """(month, fall) for every month-to-month fall larger than TOL."""
    step = np.diff(prices)
    return [(int(t) + 1, float(-step[t])) for t in np.flatnonzero(step < -TOL)]


@pytest.mark.parametrize("plant_days", [30.0, 90.0])
@pytest.mark.parametrize("hazard", [OPEN_REGIME_END_HAZARD, 1.0])
def test_a_constant_cut_gives_a_path_without_alternation(plant_days: float, hazard: float) -> None:
    """Three stages with input stock at the plants, AAA's mine cut to 20% for good: from the
    cut's second month on the undisrupted mine's output (its response) is the same every month
    and the price never falls (it stays or rises as the stocks run down)."""
    model = answering_routes(3, plant_days)
    trace = checked_run(model, cut(model, 0.2, hazard))
    answer = trace.output[0, CUT_FROM + 1 :, 0, 1]  # BBB's mine: capacity + its response
    assert answer[0] > model.capacity[0, 1] * 1.01, "the undisrupted mine answers the price"
    np.testing.assert_allclose(answer, answer[0], rtol=1e-12)
    assert _falls(trace.price_ratio[0, CUT_FROM + 1 :, 0]) == []
    # and the stock is drawn: short by less than the cut
    assert trace.shortfall[0].sum() < 0.4 * DEMAND * (MONTHS - CUT_FROM)


def test_one_stage_chain_answers_its_shipments_without_the_response() -> None:
    """One stage (no plants, no input stock): the scarcity answered is the shipments without
    the suppliers' response, as before; a 40% outage at AAA is answered from its second month
    by the 10% spare of BBB, every month alike."""
    model = answering_routes(1, 0.0)
    trace = checked_run(model, cut(model, 0.2, OPEN_REGIME_END_HAZARD))
    answer = trace.output[0, CUT_FROM + 1 :, 0, 1]
    np.testing.assert_allclose(answer, model.capacity[0, 1] * 1.1, rtol=1e-12)
    assert _falls(trace.price_ratio[0, CUT_FROM + 1 :, 0]) == []


def test_the_drc_2025_suspension_does_not_alternate(bundled: SupplyChain) -> None:
    """The 2025 DRC cobalt episode on its 2024 chain (a constant ban for its 8 months): the
    rest of the world's price never falls from month 2 to month 8 (it alternated 1.00, 2.18,
    1.00, 1.84 before), and it is above P0 at the end."""
    ep = episode_inputs(bundled, "cobalt-2025-drc")
    model = ep.model
    trace = run(model, ep.shocks)
    check_balance(model, trace)
    row = model.regions.index("ROW")
    prices = trace.price_ratio[0, : ep.span, row]  # the ban's months
    assert _falls(prices[1:]) == [], prices
    assert prices[-1] > 1.3
