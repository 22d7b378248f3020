"""The compiled monthly step's scalar market functions are the market module's, and a draw's
numbers do not depend on the chunk it is run in."""

from __future__ import annotations

import numpy as np
import pytest
from numba import typeof

from critmin.chain import SupplyChain
from critmin.economics.market import clearing_price, supply_response
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate import kernel
from critmin.simulate.engine import run, warm
from critmin.simulate.kernel import clearing_ratio, response_share
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks


def test_scalar_market_equals_the_market_module() -> None:
    rng = np.random.default_rng(0)
    available = np.concatenate([rng.uniform(0, 3, 500), [0.0, 1.0, 2.0, 1e-300]])
    demand = np.concatenate([rng.uniform(0, 2, 500), [0.0, 1.0, 2.0, 1.0]])
    demand[:20] = 0.0
    for eps, cap in ((-0.3, 100.0), (-1.0, 3.0), (-0.05, 10.0)):
        want = clearing_price(available, demand, eps, cap)
        got = [clearing_ratio(a, d, 1.0 / eps, cap) for a, d in zip(available, demand, strict=True)]
        np.testing.assert_allclose(got, want, rtol=1e-14)
    price = rng.uniform(0.5, 20, 500)
    for elasticity, spare in ((0.3, 0.1), (1.0, 0.5), (0.2, -1.0)):
        want = supply_response(price, elasticity, spare)
        got = [response_share(p, elasticity, spare) for p in price]
        np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("mineral", ["lithium", "rare_earths"])
def test_a_draw_does_not_depend_on_its_chunk(bundled: SupplyChain, mineral: str) -> None:
    spec = load_scenario("china-2025-10", Labels.of(bundled.dataset))
    model = build_model(bundled, mineral)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 6, 12, np.random.default_rng(2)
    )
    whole = run(model, shocks)
    for s in (0, 5):
        one = run(model, shocks.scenario(s))
        for name in whole.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(one, name)[0], getattr(whole, name)[s], name)


@pytest.mark.parametrize("mineral", ["lithium", "rare_earths", "aluminum"])
def test_warm_loads_the_kernel_a_run_calls(
    bundled: SupplyChain, mineral: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``engine.warm`` (run before a local pool forks) calls the kernel with the argument types
    a real run passes (restricted lanes, a pooled model), so forked workers need no other
    compiled version of it."""
    seen: list[tuple[object, ...]] = []
    compiled = kernel.step_all

    def record(*args: object) -> None:
        seen.append(tuple(typeof(a) for a in args))
        compiled(*args)

    monkeypatch.setattr(kernel, "step_all", record)
    spec = load_scenario("china-2025-10", Labels.of(bundled.dataset))
    model = build_model(bundled, mineral, pool_below=0.01)
    warm(model)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 3, 12, np.random.default_rng(1)
    )
    assert shocks.lanes or mineral == "aluminum"  # restricted lanes where the scenario has them
    run(model, shocks, reroute=False)
    assert len(seen) == 2
    assert seen[0] == seen[1]
