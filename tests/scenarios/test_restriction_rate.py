"""The Gamma-Poisson export-restriction rate (critmin.scenarios.probability, docs/criticality.md
§5): the update moves the prior toward the record and the shrinkage vanishes as exposure grows;
on the bundled record the DR Congo's cobalt rate rises and clean pairs fall below their prior;
out of sample, the leave-one-episode-out log score beats the pooled formula it replaced, and
the 2010-2019 fit under-predicts 2020-2025 (the stated limit)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.gamma_poisson import nb_loglik, posterior_mean, update
from critmin.scenarios.probability import (
    Calibration,
    calibrate,
    record_in,
    restriction_pairs,
    theta_cells,
)
from critmin.scenarios.restriction_check import (
    leave_one_episode_out,
    out_of_sample,
    pooled_rates,
)
from critmin.simulate.disruptions import stage_shares


@pytest.fixture(scope="module")
def inputs(bundled: SupplyChain) -> tuple[pd.DataFrame, dict[str, str]]:
    return stage_shares(bundled), parents_of_dataset(bundled.dataset)


@pytest.fixture(scope="module")
def cal(bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]]) -> Calibration:
    return calibrate(bundled.dataset, *inputs)


def test_update_is_the_conjugate_posterior() -> None:
    a, b = update(2.0, 4.0, 3, 10.0)
    assert (float(a), float(b)) == (5.0, 14.0)
    # no exposure: the prior mean; a rate of n/E observed: between prior and record
    assert float(posterior_mean(0.1, 2.0, 0, 0.0)) == pytest.approx(0.1)
    mid = float(posterior_mean(0.1, 2.0, 5, 10.0))
    assert 0.1 < mid < 0.5


def test_shrinkage_vanishes_as_exposure_grows() -> None:
    observed = 0.125  # the DR Congo's cobalt record: 2 in 16 years
    gaps = [
        abs(float(posterior_mean(0.005, 0.7, observed * e, e)) - observed)
        for e in (16.0, 160.0, 1_600.0, 160_000.0)
    ]
    assert all(later < earlier for earlier, later in pairwise(gaps))
    assert gaps[-1] < 0.01 * observed


def test_negative_binomial_is_a_distribution_with_a_poisson_limit() -> None:
    n = np.arange(0, 400)
    for shape, mean in ((0.2, 3.0), (5.0, 0.4)):
        p = np.exp(nb_loglik(n, shape, mean))
        assert p.sum() == pytest.approx(1.0, abs=1e-6)
        assert (n * p).sum() == pytest.approx(mean, rel=1e-4)
    assert np.exp(nb_loglik(n[:20], 1e7, 2.5)) == pytest.approx(poisson.pmf(n[:20], 2.5), rel=1e-4)


@pytest.mark.parametrize("shape", [0.02, 0.139, 1.0, 50.0, 1_000.0])
def test_country_factor_grid_keeps_the_prior(shape: float) -> None:
    mass, nodes = theta_cells(shape)
    assert mass.sum() == pytest.approx(1.0, abs=1e-12)
    assert mass @ nodes == pytest.approx(1.0, abs=1e-9)  # E[theta] = 1
    assert mass @ nodes**2 == pytest.approx(1.0 + 1.0 / shape, rel=0.02)  # Var = 1/shape


def test_drc_cobalt_rises_toward_its_record(
    bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]], cal: Calibration
) -> None:
    rate = cal.rate("COD", "cobalt")
    assert rate > cal.prior_mean("COD", "cobalt")
    assert rate > pooled_rates(bundled.dataset, *inputs)[("COD", "cobalt")]
    # its own record counts more than the country's: cobalt above its clean pairs
    for other in ("copper", "diamond", "tantalum"):
        assert rate > cal.rate("COD", other)
    # and the record below what two restrictions in 16 years alone would say (shrinkage)
    assert rate < 2 / 16


def test_clean_pairs_fall_below_their_prior(
    bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]], cal: Calibration
) -> None:
    recorded = set(record_in(bundled.dataset, cal.window)["country"])
    pairs = restriction_pairs(*inputs)
    clean = pairs[~pairs["country"].isin(recorded)]
    assert len(clean) > 100
    for c, m in zip(clean["country"], clean["mineral"], strict=True):
        assert cal.rate(c, m) < cal.prior_mean(c, m), (c, m)


def test_pair_rate_tends_to_its_record_with_long_exposure(cal: Calibration) -> None:
    """Scale the window and the counts together: the pair's rate tends to n/E whatever the
    prior (the pair-level shrinkage vanishes)."""
    key = ("COD", "cobalt")
    n = cal.pair_events[key]
    for k, tolerance in ((1, None), (1_000, 0.05)):
        longer = replace(cal, years=cal.years * k, pair_events={**cal.pair_events, key: n * k})
        gap = abs(longer.rate(*key) - n / cal.years) / (n / cal.years)
        if tolerance is not None:
            assert gap < tolerance
        else:
            assert gap > 0.3  # at 16 years the prior still pulls it far below 12.5%


def test_every_recorded_restriction_lands_on_a_pair(cal: Calibration) -> None:
    assert cal.events == 21
    assert sum(cal.pair_events.values()) == cal.events
    assert cal.pair_events[("CHN", "rare_earths")] == 2  # the 2010 and 2025 quotas, once each
    assert cal.rate("CHN", "terbium") == cal.rate("CHN", "rare_earths")


@pytest.fixture(scope="module")
def loo(bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]]) -> pd.DataFrame:
    return leave_one_episode_out(bundled.dataset, *inputs)


def test_leave_one_episode_out_beats_the_pooled_formula(loo: pd.DataFrame) -> None:
    assert len(loo) == 21
    assert loo["gamma_poisson"].sum() > loo["pooled"].sum() + 3.0  # nats
    outside = loo[loo["country"] != "CHN"]
    assert (outside["gamma_poisson"] > outside["pooled"]).all()


def test_out_of_sample_fit_sees_only_its_window(
    bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]]
) -> None:
    oos = out_of_sample(bundled.dataset, *inputs, methods=("pooled", "gamma_poisson"))
    assert oos.totals["observed"] == len(record_in(bundled.dataset, (2020, 2025)))
    early = calibrate(bundled.dataset, *inputs, window=(2010, 2019))
    assert early.events == len(record_in(bundled.dataset, (2010, 2019)))
    assert oos.table.loc["CHN", "gamma_poisson"] == pytest.approx(
        6 * sum(early.rate("CHN", m) for c, m in early.pair_events if c == "CHN"), rel=1e-9
    )
    # the stated limit: a stationary rate fitted on 2010-2019 misses the rise after 2019
    for method in ("pooled", "gamma_poisson"):
        assert oos.totals[method] < 0.5 * oos.totals["observed"]
