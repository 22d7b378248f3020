"""Checks of the export-restriction rates (critmin.scenarios.probability) against the record:
out of sample (fit on one window, predict the next window's counts by country: two forward
splits, :data:`SPLITS`) and a leave-one-episode-out log score, each against the pooled formula
the Gamma-Poisson rate replaced, ``lambda_cm = alpha · g_c · t_cm · R_c`` (R_c = 1 + the
country's record, alpha fitted to the pooled count over every major-supplier pair), kept here as
the baseline only, and against the evaluated time options of critmin.scenarios.restriction_time
(trend, recency weighting, self-exciting term; columns ``gp_<option>``).

A forward split fits every method on the record of its fit window alone (``record_in(ds,
fit)``) and predicts the test window's count of each country as the forecast year's rate times
the test window's length (the rate held flat: what rank draws for one year).

``python -m critmin.scenarios.restriction_check`` prints the figures of docs/criticality.md §5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson  # type: ignore[import-untyped]

from critmin.data.load import Dataset
from critmin.scenarios.probability import (
    WINDOW,
    calibrate,
    governance_risk,
    major_suppliers,
    occurrence_probability,
    record_in,
    restriction_pairs,
    trade_parameter,
)
from critmin.scenarios.restriction_time import (
    OPTIONS,
    _event_years_of,
    annual_counts,
    excitation_at,
    excitation_loglik,
    trend,
    trend_over,
)

FIT = (2010, 2019)
TEST = (2020, 2025)
#: The forward splits (fit window, test window).
SPLITS = ((FIT, TEST), ((2010, 2021), (2022, 2025)))
OPTION_METHODS = tuple(f"gp_{name}" for name in OPTIONS)
METHODS = ("pooled", "pooled_without_t", "gamma_poisson", *OPTION_METHODS)
#: The pairs docs/criticality.md §5 shows.
RATES_SHOWN = (
    ("CHN", "gallium"),
    ("CHN", "rare_earths"),
    ("CHN", "graphite"),
    ("CHN", "copper"),
    ("COD", "cobalt"),
    ("COD", "tantalum"),
    ("COD", "diamond"),
    ("COD", "copper"),
    ("IDN", "nickel"),
    ("IDN", "cobalt"),
    ("ZWE", "lithium"),
    ("ZWE", "platinum"),
    ("RUS", "palladium"),
    ("RUS", "nickel"),
    ("PHL", "nickel"),
    ("CAN", "nickel"),
    ("AUS", "nickel"),
    ("AUS", "lithium"),
)


def pooled_rates(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
    record: pd.DataFrame | None = None,
    trade: bool = True,
) -> dict[tuple[str, str], float]:
    """The replaced formula's rate per major-supplier (country, mineral), events per year;
    ``trade=False`` sets every t_cm to 1 (the bundled t = 1.5 rows are the 2023-2025 regimes,
    so out of sample they carry the very record being predicted)."""
    record = record_in(ds, window) if record is None else record
    counts = record["country"].value_counts()
    factor = {str(c): 1.0 + float(n) for c, n in counts.items()}
    g = governance_risk(ds)
    major = major_suppliers(shares)[["mineral", "country"]].drop_duplicates()
    weight = {
        (str(c), str(m)): g.get(c, 0.5)
        * (trade_parameter(ds, c, m, parents.get(m, "")) if trade else 1.0)
        * factor.get(c, 1.0)
        for m, c in zip(major["mineral"], major["country"], strict=True)
    }
    years = window[1] - window[0] + 1
    total = sum(weight.values()) * years
    alpha = len(record) / total if total > 0 else 0.0
    return {k: alpha * w for k, w in weight.items()}


def gamma_poisson_rates(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
    record: pd.DataFrame | None = None,
    option: str | None = None,
) -> dict[tuple[str, str], float]:
    """The Gamma-Poisson rate per restriction pair (child minerals folded into their parent's
    pair, as the record counts them), events per year at the forecast year; ``option``: a time
    profile of critmin.scenarios.restriction_time.OPTIONS fitted on the same record."""
    record = record_in(ds, window) if record is None else record
    time = None if option is None else OPTIONS[option](record, window)
    cal = calibrate(ds, shares, parents, window, record, time)
    pairs = restriction_pairs(shares, parents)
    return {
        (str(c), str(m)): cal.rate(str(c), str(m))
        for c, m in zip(pairs["country"], pairs["mineral"], strict=True)
    }


def by_country(rates: dict[tuple[str, str], float], years: float) -> pd.Series:
    """Expected restrictions per country over ``years``."""
    out: dict[str, float] = {}
    for (c, _), r in rates.items():
        out[c] = out.get(c, 0.0) + r * years
    return pd.Series(out, dtype=float)


@dataclass(frozen=True)
class OutOfSample:
    table: pd.DataFrame  # by country: observed, pooled, gamma_poisson (expected counts)
    log_score: dict[str, float]  # Poisson log score of the observed counts, by method
    share_score: dict[str, float]  # Σ n_c·log(share of expected), by method

    @property
    def totals(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.table.sum().items()}


def _scores(table: pd.DataFrame, methods: tuple[str, ...]) -> tuple[dict[str, float], ...]:
    n = table["observed"].to_numpy(float)
    log_score = {m: float(poisson.logpmf(n, table[m].to_numpy(float)).sum()) for m in methods}
    share = {}
    for m in methods:
        mu = table[m].to_numpy(float)
        p = mu / mu.sum()
        share[m] = float((n * np.log(np.where(n > 0, p, 1.0))).sum())
    return log_score, share


def _rates_of(
    method: str,
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int],
    record: pd.DataFrame,
) -> dict[tuple[str, str], float]:
    match method:
        case "pooled":
            return pooled_rates(ds, shares, parents, window, record)
        case "pooled_without_t":
            return pooled_rates(ds, shares, parents, window, record, trade=False)
        case "gamma_poisson":
            return gamma_poisson_rates(ds, shares, parents, window, record)
        case _:
            option = method.removeprefix("gp_")
            return gamma_poisson_rates(ds, shares, parents, window, record, option)


def out_of_sample(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    fit: tuple[int, int] = FIT,
    test: tuple[int, int] = TEST,
    methods: tuple[str, ...] = METHODS,
) -> OutOfSample:
    """Fit each method on the record of ``fit`` alone and predict the restrictions of ``test``
    by country (every country with a pair; restrictions by others are left out of all), each
    at its forecast year's rate held flat. With the trend among the methods, the extrapolated
    trend (``trend_extrapolated``: the fitted exponential carried through the test years) is
    added as a sensitivity."""
    if test[0] <= fit[1]:
        raise ValueError(f"test window {test} overlaps the fit window {fit}")
    years = test[1] - test[0] + 1
    record = record_in(ds, fit)
    columns = {
        m: by_country(_rates_of(m, ds, shares, parents, fit, record), years) for m in methods
    }
    if "gp_trend" in methods:
        weights = trend(record, fit, extrapolate=True)
        rates = calibrate(ds, shares, parents, fit, record, weights)
        pairs = gamma_poisson_rates(ds, shares, parents, fit, record)  # the pair keys
        factor = trend_over(weights, test)
        columns["trend_extrapolated"] = by_country({k: rates.rate(*k) for k in pairs}, factor)
    observed = record_in(ds, test)["country"].value_counts()
    countries = sorted(set().union(*(set(c.index) for c in columns.values())))
    table = pd.DataFrame(
        {
            "observed": [float(observed.get(c, 0)) for c in countries],
            **{m: col.reindex(countries).fillna(0.0).to_numpy() for m, col in columns.items()},
        },
        index=pd.Index(countries, name="country"),
    )
    log_score, share = _scores(table, tuple(columns))
    return OutOfSample(table, log_score, share)


def leave_one_episode_out(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
    methods: tuple[str, ...] = ("pooled", "gamma_poisson"),
) -> pd.DataFrame:
    """Each recorded restriction held out in turn: each method refitted on the others (a time
    option's parameters too), and the log probability each gives that a restriction comes from
    the held-out one's country (its share of the expected count over all pairs at the forecast
    year's rates)."""
    record = record_in(ds, window)
    rows = []
    for i in range(len(record)):
        rest = record.drop(index=i).reset_index(drop=True)
        country = str(record.loc[i, "country"])
        row: dict[str, object] = {"country": country, "mineral": record.loc[i, "mineral"]}
        row["start"] = record.loc[i, "start"]
        for name in methods:
            total = by_country(_rates_of(name, ds, shares, parents, window, rest), 1.0)
            row[name] = float(np.log(total.get(country, 0.0) / total.sum()))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_difference(
    loo: pd.DataFrame, method: str, against: str = "gamma_poisson"
) -> tuple[float, float]:
    """Sum of the per-episode differences of log score, ``method`` minus ``against``, and its
    standard error (√n times the sample standard deviation of the differences)."""
    d = (loo[method] - loo[against]).to_numpy(float)
    se = float(np.sqrt(len(d)) * d.std(ddof=1)) if len(d) > 1 else float("inf")
    return float(d.sum()), se


#: The grid of the random-effects profile of the self-exciting term.
KAPPAS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def excitation_profile(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int],
    memory: int,
    kappas: tuple[float, ...] = KAPPAS,
) -> dict[float, float]:
    """The random-effects log-likelihood of the self-exciting term on ``window``'s record, by
    kappa: the Gamma-Poisson marginal of the pair counts (shapes refitted, exposure
    ``Σ_t 1 + kappa·x_c(t)``) plus the conditional likelihood of the event years. Unlike the
    conditional likelihood alone, valid when the covariate feeds back from past counts."""
    record = record_in(ds, window)
    years = np.arange(window[0], window[1] + 1)
    of = _event_years_of(record, window)
    out = {}
    for kappa in kappas:
        time = excitation_at(record, window, kappa, memory)
        cal = calibrate(ds, shares, parents, window, record, time)
        out[kappa] = cal.loglik + excitation_loglik(kappa, of, years, memory)
    return out


def main() -> None:  # pragma: no cover - prints the figures of the docs
    from critmin.chain import SupplyChain  # noqa: PLC0415
    from critmin.economics.price import parents_of_dataset  # noqa: PLC0415
    from critmin.simulate.disruptions import stage_shares  # noqa: PLC0415

    chain = SupplyChain.load()
    ds, shares, parents = chain.dataset, stage_shares(chain), parents_of_dataset(chain.dataset)
    pd.set_option("display.width", 200)
    for fit in (FIT, SPLITS[1][0], WINDOW):
        cal = calibrate(ds, shares, parents, fit)
        print(f"fit {fit}: {cal.describe()}")
        record = record_in(ds, fit)
        print(
            "  annual counts",
            dict(
                zip(
                    range(fit[0], fit[1] + 1),
                    annual_counts(record, fit).astype(int).tolist(),
                    strict=True,
                )
            ),
        )
        for build in OPTIONS.values():
            print(f"  option {build(record, fit).describe()}")
    print("\nself-exciting term, random-effects log-likelihood by kappa (memory k years)")
    for fit in (FIT, SPLITS[1][0], WINDOW):
        for k in (1, 5):
            profile = excitation_profile(ds, shares, parents, fit, k)
            grid = ", ".join(f"{kappa:g}: {ll:.2f}" for kappa, ll in profile.items())
            print(f"  fit {fit}, k = {k}: {grid}")
    forward: dict[str, dict[str, float]] = {}
    for fit, test in SPLITS:
        oos = out_of_sample(ds, shares, parents, fit, test)
        shown = oos.table[(oos.table["observed"] > 0) | (oos.table.max(axis=1) > 0.2)]
        print(f"\nout of sample: fit {fit}, predict {test}")
        print(shown.round(2).to_string())
        print("totals", {k: round(v, 2) for k, v in oos.totals.items()})
        print("Poisson log score", {k: round(v, 2) for k, v in oos.log_score.items()})
        print("country-share log score", {k: round(v, 2) for k, v in oos.share_score.items()})
        forward[f"{test[0]}-{test[1]}"] = oos.log_score
    methods = ("pooled", "gamma_poisson", *OPTION_METHODS)
    loo = leave_one_episode_out(ds, shares, parents, methods=methods)
    print("\nleave one episode out (log probability of the held-out country)")
    print(loo.round(2).to_string())
    print("sums", loo[list(methods)].sum().round(2).to_dict())
    print(
        "\nsummary: Poisson log score of each forward split; LOO sum; "
        "LOO minus gamma_poisson +/- SE"
    )
    for m in methods:
        diff, se = paired_difference(loo, m) if m != "gamma_poisson" else (0.0, 0.0)
        splits = "  ".join(f"{k}: {v[m]:7.2f}" for k, v in forward.items())
        print(f"{m:18s} {splits}  LOO {loo[m].sum():7.2f}  {diff:+6.2f} +/- {se:.2f}")
    print("\nwhat each option would give for 2026 (2010-2025 fit): restrictions a year, all pairs;")
    print("annual probability of three pairs")
    for option in (None, *OPTIONS):
        rates = gamma_poisson_rates(ds, shares, parents, WINDOW, option=option)
        three = ", ".join(
            f"{c} {m} {100 * occurrence_probability(rates[(c, m)]):.2f}%"
            for c, m in (("CHN", "gallium"), ("COD", "cobalt"), ("IDN", "nickel"))
        )
        print(f"  {option or 'gamma_poisson (default)'}: {sum(rates.values()):.2f}/yr; {three}")
    cal = calibrate(ds, shares, parents)
    print("\nannual probability of a new restriction (2010-2025 fit)")
    for c, m in RATES_SHOWN:
        print(f"{c} {m}: {100 * occurrence_probability(cal.rate(c, m)):.3f}%")
    fitted = by_country(gamma_poisson_rates(ds, shares, parents), cal.years)
    pooled = by_country(pooled_rates(ds, shares, parents), cal.years)
    recorded = record_in(ds, WINDOW)["country"].value_counts()
    print("\nplumbing check (in sample, 2010-2025): recorded, pooled, gamma_poisson")
    for c in ("CHN", "IDN", "COD", "ZWE"):
        print(c, int(recorded.get(c, 0)), round(pooled.get(c, 0.0), 2), round(fitted[c], 2))
    clean = [c for c in fitted.index if c not in recorded.index]
    print("clean", 0, round(pooled.reindex(clean).sum(), 2), round(fitted[clean].sum(), 2))


if __name__ == "__main__":  # pragma: no cover
    main()
