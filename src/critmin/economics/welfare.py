"""Who gains and who loses when a price moves from P0 to P1 = r·P0 (METHODS §6).

- U.S. consumer surplus lost under constant-elasticity demand ``D0·r^ε``:
  ``ΔCS = P0·D0·(r^(1+ε) - 1)/(1 + ε)`` (ε ≠ -1; ``P0·D0·ln r`` at ε = -1).
- U.S. producer gain: domestic output sold at the higher price, ``q_us·(r - 1)·P0``.
- Terms-of-trade transfer to foreign sellers: imports bought at the higher price,
  ``m_us·(r - 1)·P0`` (a national loss).
- National welfare loss = ΔCS - producer gain (the deadweight loss plus the transfer abroad).
Quantities are per period, in the same tonnes as D0; prices in USD per tonne.
"""

from __future__ import annotations

import numpy as np


def consumer_surplus_lost(p0: float, d0: np.ndarray, r: np.ndarray, eps: float) -> np.ndarray:
    """ΔCS in USD (positive when the price rises)."""
    if abs(1.0 + eps) < 1e-9:
        out: np.ndarray = p0 * d0 * np.log(r)
        return out
    out = p0 * d0 * (np.power(r, 1.0 + eps) - 1.0) / (1.0 + eps)
    return out


def producer_gain(p0: float, domestic: np.ndarray, r: np.ndarray) -> np.ndarray:
    out: np.ndarray = domestic * (r - 1.0) * p0
    return out


def terms_of_trade_transfer(p0: float, imports: np.ndarray, r: np.ndarray) -> np.ndarray:
    out: np.ndarray = imports * (r - 1.0) * p0
    return out
