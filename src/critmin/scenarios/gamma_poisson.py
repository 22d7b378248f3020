"""The Gamma-Poisson update: one definition for every rate critmin learns from a count of events
(the security register's incident rates, critmin.security.hazard; the export-restriction rates,
critmin.scenarios.probability).

Events occur as a Poisson process of rate λ per unit of exposure (years, or expected events for
a relative risk). With the prior ``λ ~ Gamma(shape, rate)`` (mean ``shape / rate``; ``rate`` is
the prior's weight in units of exposure) and ``n`` events over exposure ``E`` the posterior is
``Gamma(shape + n, rate + E)``, whose mean

    (shape + n) / (rate + E) = w · n/E + (1 - w) · shape/rate,   w = E / (rate + E)

moves from the prior mean towards the observed rate as exposure grows (:func:`update`).

Marginally (λ integrated out) the count is negative binomial with size ``shape`` and mean
``shape / rate · E`` (:func:`nb_loglik`); the prior's shape across many units can be fitted by
maximising that marginal likelihood (parametric empirical Bayes: Clayton & Kaldor 1987,
Biometrics 43:671-681, for relative risks of disease by area; Casella 1985, The American
Statistician 39:83-87), as critmin.scenarios.probability.calibrate does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln  # type: ignore[import-untyped]

#: Bounds of a fitted shape: below, the prior carries almost no weight; above, the counts
#: carry no evidence of over-dispersion (the Poisson limit) and the prior mean is used as is.
SHAPE_BOUNDS = (1e-2, 1e3)


def update(
    shape: ArrayLike, rate: ArrayLike, events: ArrayLike, exposure: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The posterior ``Gamma(shape + events, rate + exposure)``: its (shape, rate)."""
    a = np.asarray(shape, dtype=float) + np.asarray(events, dtype=float)
    b = np.asarray(rate, dtype=float) + np.asarray(exposure, dtype=float)
    return a, b


def posterior_mean(
    prior_mean: ArrayLike, shape: ArrayLike, events: ArrayLike, exposure: ArrayLike
) -> NDArray[np.float64]:
    """Posterior mean rate from a prior given by its mean and shape (weight ``shape /
    prior_mean`` in units of exposure): ``(shape + n) / (shape / prior_mean + E)``."""
    mean = np.asarray(prior_mean, dtype=float)
    k = np.asarray(shape, dtype=float)
    a, b = update(k, k / mean, events, exposure)
    return np.asarray(a / b, dtype=float)


def nb_loglik(events: ArrayLike, shape: float, mean: ArrayLike) -> NDArray[np.float64]:
    """Log probability of each count under the negative binomial of size ``shape`` and
    ``mean`` (the Gamma-Poisson marginal)."""
    n = np.asarray(events, dtype=float)
    mu = np.asarray(mean, dtype=float)
    k = float(shape)
    with np.errstate(divide="ignore"):  # a count > 0 at mean 0 has probability 0: -inf
        out = (
            gammaln(n + k)
            - gammaln(k)
            - gammaln(n + 1.0)
            + k * np.log(k / (k + mu))
            + n * np.log(np.where(n > 0, mu, 1.0) / (k + mu))
        )
    return np.asarray(out, dtype=float)
