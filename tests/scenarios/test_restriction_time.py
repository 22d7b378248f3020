"""The time options of the export-restriction rate (critmin.scenarios.restriction_time,
docs/criticality.md §5): each estimator recovers what synthetic draws were made with, a time
profile enters the Gamma-Poisson calibration as exposure and a forecast factor, and the forward
splits of restriction_check fit on the record before their cutoff alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.probability import calibrate, record_in
from critmin.scenarios.restriction_check import (
    METHODS,
    SPLITS,
    gamma_poisson_rates,
    out_of_sample,
)
from critmin.scenarios.restriction_time import (
    MEMORIES,
    annual_counts,
    excitation,
    recency,
    trend,
)
from critmin.simulate.disruptions import stage_shares

WINDOW = (1990, 2029)  # 40 synthetic years


def _record(years: list[int], countries: list[str] | None = None) -> pd.DataFrame:
    countries = countries if countries is not None else ["AAA"] * len(years)
    return pd.DataFrame(
        {
            "country": countries,
            "mineral": ["cobalt"] * len(years),
            "start": [f"{y}-06" for y in years],
        }
    )


def _draw_trend(rng: np.random.Generator, slope: float, level: float) -> pd.DataFrame:
    t = np.arange(WINDOW[0], WINDOW[1] + 1)
    counts = rng.poisson(level * np.exp(slope * (t - t[0])))
    return _record([int(y) for y, n in zip(t, counts, strict=True) for _ in range(n)])


def test_trend_recovers_a_known_slope_from_seeded_draws() -> None:
    """Poisson counts with a log-linear trend: the fitted slope is within 3 standard errors of
    the truth on one draw, unbiased over 300 draws, and its ±1.96 SE interval covers the truth
    about 95% of the time (a wrong sign, scale or standard error fails)."""
    rng = np.random.default_rng(20261203)
    slope = 0.06
    fits = [trend(_draw_trend(rng, slope, 1.5), WINDOW).params for _ in range(300)]
    estimates = np.array([f["slope/yr"] for f in fits])
    se = np.array([f["se"] for f in fits])
    assert abs(estimates[0] - slope) < 3 * se[0]
    assert abs(estimates.mean() - slope) < 3 * estimates.std() / np.sqrt(len(estimates))
    coverage = float(np.mean(np.abs(estimates - slope) < 1.96 * se))
    assert 0.90 < coverage < 0.99
    assert se.mean() == pytest.approx(estimates.std(), rel=0.2)


def test_trend_forecasts_the_level_of_the_last_year() -> None:
    rng = np.random.default_rng(7)
    weights = trend(_draw_trend(rng, -0.05, 3.0), WINDOW)
    slope = weights.params["slope/yr"]
    assert weights.year_weight[-1] == pytest.approx(1.0)  # h = 1 at the window's last year
    assert weights.year_weight[0] == pytest.approx(np.exp(-slope * 39))
    ahead = trend(_draw_trend(np.random.default_rng(7), -0.05, 3.0), WINDOW, extrapolate=True)
    assert ahead.year_weight[-1] == pytest.approx(np.exp(-slope))  # one year past it


def test_recency_chooses_a_short_half_life_after_a_shift_and_a_long_one_without() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(WINDOW[0], WINDOW[1] + 1)
    steady = rng.poisson(np.full(len(t), 4.0))
    shifted = rng.poisson(np.where(t < 2010, 0.3, 8.0))
    for counts, check in (
        (steady, lambda h: h >= 8),
        (shifted, lambda h: h <= 3),
    ):
        record = _record([int(y) for y, n in zip(t, counts, strict=True) for _ in range(n)])
        weights = recency(record, WINDOW)
        assert check(weights.params["half-life yr"]), weights.describe()
        assert (annual_counts(record, WINDOW) == counts).all()


def _draw_excited(
    rng: np.random.Generator, kappa: float, memory: int, countries: int = 50
) -> tuple[list[int], list[str]]:
    """Countries whose rate is 0.08 a year, times 1 + kappa in the ``memory`` years after
    their own restriction, drawn year by year."""
    years: list[int] = []
    names: list[str] = []
    for c in range(countries):
        own: list[int] = []
        for y in range(WINDOW[0], WINDOW[1] + 1):
            recent = any(1 <= y - e <= memory for e in own)
            own += [y] * int(rng.poisson(0.08 * (1 + kappa * recent)))
        years += own
        names += [f"C{c:02d}"] * len(own)
    return years, names


def test_excitation_recovers_a_known_memory_and_the_sign_of_kappa() -> None:
    """kappa = 3, k = 2: the conditional likelihood finds k = 2 on every draw and kappa
    between 0.5 and 1.1 times the truth on average (it is biased toward 0, the fixed-effects
    estimator with a covariate fed by past counts: about -30% here, stated in its docstring);
    without excitation it finds kappa near 0."""
    rng = np.random.default_rng(5)
    kappa, memory = 3.0, 2
    assert memory in MEMORIES
    fits = [excitation(_record(*_draw_excited(rng, kappa, memory)), WINDOW) for _ in range(10)]
    assert all(f.params["memory yr"] == memory for f in fits)
    mean = np.mean([f.params["kappa"] for f in fits])
    assert 0.5 * kappa < mean < 1.1 * kappa
    calm = [excitation(_record(*_draw_excited(rng, 0.0, memory)), WINDOW) for _ in range(10)]
    assert np.mean([f.params["kappa"] for f in calm]) < 0.3
    # a country whose last restriction is in the window's last year is boosted in the next
    years, countries = _draw_excited(np.random.default_rng(6), kappa, memory)
    fitted = excitation(_record(years, countries), WINDOW)
    last = dict(zip(countries, years, strict=True))
    hot = [c for c, y in last.items() if y == WINDOW[1]]
    cold = [c for c, y in last.items() if y < WINDOW[1] - memory + 1]
    assert hot
    assert cold
    assert fitted.boost[hot[0]] == pytest.approx(1 + fitted.params["kappa"])
    assert fitted.boost[cold[0]] == 1.0


@pytest.fixture(scope="module")
def inputs(bundled: SupplyChain) -> tuple[pd.DataFrame, dict[str, str]]:
    return stage_shares(bundled), parents_of_dataset(bundled.dataset)


def test_a_time_profile_scales_the_rate_to_its_forecast_year(
    bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]]
) -> None:
    """A trend only moves the level: every pair's rate is the stationary one times the same
    factor, the window's length over the trend's exposure (the record's rise since 2010
    puts the 2025 level above the mean)."""
    ds = bundled.dataset
    window = (2010, 2025)
    stationary = gamma_poisson_rates(ds, *inputs, window)
    trended = gamma_poisson_rates(ds, *inputs, window, option="trend")
    weights = trend(record_in(ds, window), window)
    factor = 16 / weights.year_weight.sum()
    assert factor > 1.0
    for key in (("CHN", "gallium"), ("COD", "cobalt"), ("AUS", "nickel")):
        assert trended[key] == pytest.approx(factor * stationary[key], rel=1e-6)
    cal = calibrate(ds, *inputs, window, time=weights)
    assert "trend" in cal.describe()


def test_forward_splits_use_no_episode_after_their_cutoff(
    bundled: SupplyChain, inputs: tuple[pd.DataFrame, dict[str, str]]
) -> None:
    """Every prediction of each forward split is unchanged when every restriction after the
    cutoff is deleted; only the observed column changes (a fit reading the whole record, or an
    option fitting its half-life, slope or kappa on it, fails)."""
    ds = bundled.dataset
    for fit, test in SPLITS:
        cutoff = fit[1]
        before = ds.with_rows(
            "export_restrictions", lambda t, c=cutoff: t["start"].str[:4].astype(int) <= c
        )
        assert len(record_in(before, (cutoff + 1, 2100))) == 0
        assert len(record_in(ds, (cutoff + 1, 2100))) > 0
        full = out_of_sample(ds, *inputs, fit, test)
        blind = out_of_sample(before, *inputs, fit, test)
        predicted = [c for c in full.table.columns if c != "observed"]
        assert set(METHODS) <= set(predicted)
        pd.testing.assert_frame_equal(full.table[predicted], blind.table[predicted])
        assert full.totals["observed"] > 0
        assert blind.totals["observed"] == 0
    with pytest.raises(ValueError, match="overlaps"):
        out_of_sample(ds, *inputs, (2010, 2021), (2021, 2025))
