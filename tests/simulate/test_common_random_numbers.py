"""Common random numbers across minerals: a shared event's drawn timing is the same in draw s
of every chain (critmin.simulate.shocks.event_stream), on every executor's seed layout."""

from __future__ import annotations

import numpy as np

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.runner import RunConfig, simulate

SHARED = {
    "name": "shared",
    "start": "2025-01",
    "events": {
        "ban": {
            "kind": "export_control",
            "country": "CHN",
            "minerals": ["rare_earths", "graphite"],
            "stages": ["mining"],
            "regime": "ban",
            "start": "2025-08",
            "duration_months": 3,
        }
    },
    "uncertainties": [
        {
            "target": "ban.start_shift_months",
            "distribution": {"dist": "uniform", "low": -5, "high": 5},
        },
        {
            "target": "ban.duration_months",
            "distribution": {"dist": "uniform", "low": 1, "high": 6},
        },
    ],
}


def _window(ds, stage: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per draw, the months China's exports at ``stage`` are below baseline (the ban)."""
    x = ds["exports"].sel(stage=stage, origin="CHN").values  # (scenario, period)
    base = x.max(axis=0)
    out: np.ndarray = x < base[None, :] * 0.5
    return out


def test_shared_event_has_the_same_draws_in_every_chain(bundled: SupplyChain) -> None:
    spec = parse_scenario(SHARED, "shared", Labels.of(bundled.dataset))
    run = simulate(
        bundled, spec, RunConfig(runs=400, seed=3, horizon=18, workers=1, keep_paths=True)
    )
    rare, graphite = (run.minerals[m].results for m in ("rare_earths", "graphite"))
    a, b = _window(rare, "mining"), _window(graphite, "mining")
    # the ban bites in both chains, with varying timing across draws
    assert a.any(axis=1).all()
    assert b.any(axis=1).all()
    assert len({tuple(row) for row in a}) > 10
    # common random numbers: the same months in every draw (two blocks of 200)
    np.testing.assert_array_equal(a, b)
    # and the same chain on its own draws the same numbers (its stream does not depend on
    # which other chains run)
    alone = parse_scenario(
        SHARED | {"minerals": ["graphite"]}, "shared", Labels.of(bundled.dataset)
    )
    solo = simulate(
        bundled, alone, RunConfig(runs=400, seed=3, horizon=18, workers=1, keep_paths=True)
    )
    np.testing.assert_array_equal(_window(solo.minerals["graphite"].results, "mining"), b)
