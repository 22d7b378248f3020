"""Checks of the export-restriction rates (critmin.scenarios.probability) against the record:
out of sample (fit on one window, predict the next window's counts by country) and a
leave-one-episode-out log score, each against the pooled formula the Gamma-Poisson rate
replaced, ``lambda_cm = alpha · g_c · t_cm · R_c`` (R_c = 1 + the country's record, alpha
fitted to the pooled count over every major-supplier pair), kept here as the baseline only.

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

FIT = (2010, 2019)
TEST = (2020, 2025)
METHODS = ("pooled", "pooled_without_t", "gamma_poisson")
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
) -> dict[tuple[str, str], float]:
    """The Gamma-Poisson rate per restriction pair (child minerals folded into their parent's
    pair, as the record counts them), events per year."""
    cal = calibrate(ds, shares, parents, window, record)
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


def out_of_sample(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    fit: tuple[int, int] = FIT,
    test: tuple[int, int] = TEST,
) -> OutOfSample:
    """Fit both methods on ``fit`` and predict the restrictions of ``test`` by country (every
    country with a major-supplier pair; restrictions by others are left out of both)."""
    years = test[1] - test[0] + 1
    pooled = by_country(pooled_rates(ds, shares, parents, fit), years)
    plain = by_country(pooled_rates(ds, shares, parents, fit, trade=False), years)
    gp = by_country(gamma_poisson_rates(ds, shares, parents, fit), years)
    observed = record_in(ds, test)["country"].value_counts()
    countries = sorted(set(pooled.index) | set(plain.index) | set(gp.index))
    table = pd.DataFrame(
        {
            "observed": [float(observed.get(c, 0)) for c in countries],
            "pooled": pooled.reindex(countries).fillna(0.0).to_numpy(),
            "pooled_without_t": plain.reindex(countries).fillna(0.0).to_numpy(),
            "gamma_poisson": gp.reindex(countries).fillna(0.0).to_numpy(),
        },
        index=pd.Index(countries, name="country"),
    )
    log_score, share = _scores(table, METHODS)
    return OutOfSample(table, log_score, share)


def leave_one_episode_out(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
) -> pd.DataFrame:
    """Each recorded restriction held out in turn: both methods refitted on the others, and
    the log probability each gives that a restriction comes from the held-out one's country
    (its share of the expected count over all pairs)."""
    record = record_in(ds, window)
    rows = []
    for i in range(len(record)):
        rest = record.drop(index=i).reset_index(drop=True)
        country = str(record.loc[i, "country"])
        row: dict[str, object] = {"country": country, "mineral": record.loc[i, "mineral"]}
        row["start"] = record.loc[i, "start"]
        for name, fn in (("pooled", pooled_rates), ("gamma_poisson", gamma_poisson_rates)):
            total = by_country(fn(ds, shares, parents, window, rest), 1.0)
            row[name] = float(np.log(total.get(country, 0.0) / total.sum()))
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:  # pragma: no cover - prints the figures of the docs
    from critmin.chain import SupplyChain  # noqa: PLC0415
    from critmin.economics.price import parents_of_dataset  # noqa: PLC0415
    from critmin.simulate.disruptions import stage_shares  # noqa: PLC0415

    chain = SupplyChain.load()
    ds, shares, parents = chain.dataset, stage_shares(chain), parents_of_dataset(chain.dataset)
    pd.set_option("display.width", 200)
    for fit in (FIT, WINDOW):
        cal = calibrate(ds, shares, parents, fit)
        print(f"fit {fit}: {cal.describe()}")
    oos = out_of_sample(ds, shares, parents)
    shown = oos.table[(oos.table["observed"] > 0) | (oos.table.max(axis=1) > 0.2)]
    print(f"\nout of sample: fit {FIT}, predict {TEST}")
    print(shown.round(2).to_string())
    print("totals", {k: round(v, 2) for k, v in oos.totals.items()})
    print("Poisson log score", {k: round(v, 2) for k, v in oos.log_score.items()})
    print("country-share log score", {k: round(v, 2) for k, v in oos.share_score.items()})
    loo = leave_one_episode_out(ds, shares, parents)
    print("\nleave one episode out (log probability of the held-out country)")
    print(loo.round(2).to_string())
    print("sums", loo[["pooled", "gamma_poisson"]].sum().round(2).to_dict())
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
