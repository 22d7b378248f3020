"""Scenario probabilities of an ensemble and the two statistics every reserve module takes
under them: the expectation and the CVaR (one definition for the programme, its read-back,
the plan, scenario reduction and the portfolio)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from critmin.optimize.ensemble import Ensemble


def weights(ens: Ensemble) -> xr.DataArray:
    """Scenario probabilities: ``ens.weight`` normalised, or uniform."""
    scen = ens.shortfall.scenario
    if ens.weight is None:
        return xr.DataArray(
            np.full(ens.scenarios, 1.0 / ens.scenarios), coords={"scenario": scen}, dims="scenario"
        )
    w = ens.weight.astype(float).reindex(scenario=scen)
    return w / float(w.sum())


def expect(values: xr.DataArray, w: xr.DataArray) -> xr.DataArray:
    """The probability-weighted mean over ``scenario``."""
    out: xr.DataArray = (values * w).sum("scenario")
    return out


def cvar(values: np.ndarray, prob: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of a discrete distribution: the probability-weighted mean of its worst
    1 - alpha (Rockafellar & Uryasev 2002), splitting the scenario at the quantile."""
    order = np.argsort(values, kind="stable")[::-1]
    v, p = np.asarray(values, float)[order], np.asarray(prob, float)[order]
    tail = 1.0 - alpha
    take = np.clip(tail - (np.cumsum(p) - p), 0.0, p)
    return float((v * take).sum() / tail)
