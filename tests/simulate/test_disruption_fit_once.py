"""The Gamma-Poisson restriction fit (about 0.7 s of CPU) is made once per dataset and inputs:
``optimize`` builds the disruption set twice (its ensemble and its sensitivity), the web
application's ranking and plan jobs build it in one process, and so do the tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.scenarios.probability import Calibration, calibrate
from critmin.simulate import disruptions
from critmin.simulate.disruptions import DisruptionSet, stage_shares
from critmin.simulate.rank import parents_of_dataset


def test_the_restriction_model_is_fitted_once_per_dataset_and_inputs(
    bundled: SupplyChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[Calibration] = []

    def counted(*args: Any, **kwargs: Any) -> Calibration:
        fits.append(calibrate(*args, **kwargs))
        return fits[-1]

    monkeypatch.setattr(disruptions, "calibrate", counted)
    parents = parents_of_dataset(bundled.dataset)
    first = DisruptionSet.of(bundled, parents)
    second = DisruptionSet.of(bundled, parents)
    assert second.calibration is first.calibration
    assert len(fits) <= 1  # at most once (none if an earlier test fitted it)
    # the same fit as a fresh one
    fresh = calibrate(bundled.dataset, stage_shares(bundled), parents)
    assert first.calibration.alpha == fresh.alpha
    assert first.calibration.pair_events == fresh.pair_events
    for c, weights in fresh.country_posterior.items():
        np.testing.assert_array_equal(first.calibration.country_posterior[c], weights)
    # other inputs (an earlier base year, other parents) are fitted anew
    fits.clear()
    earlier = DisruptionSet.of(replace(bundled, as_of=2019), parents)
    assert len(fits) == 1
    assert earlier.calibration is not first.calibration
    orphans = {m: p for m, p in parents.items() if p != "rare_earths"}
    DisruptionSet.of(bundled, orphans)
    assert len(fits) == 2
