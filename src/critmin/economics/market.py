"""Market clearing per mineral, region and month (METHODS §6, constant elasticities).

Demand ``D(P) = D0·(P/P0)^ε_d`` (ε_d < 0). Undisrupted suppliers respond to the price with
``S(P) = S0·(P/P0)^ε_s``, bounded by their spare capacity: the extra output a supplier offers
is ``min(spare, (P/P0)^ε_s - 1)`` of its capacity. The response is to the previous month's
price (partial adjustment: output cannot answer a price it has not yet seen), so the month a
disruption starts has no response and the next months do. What the disrupted region receives
(shipments, rerouted supply, releases, stock drawn) clears against demand: the clearing price
ratio is ``(available / D0)^(1/ε_d)``, capped at the choke ratio ``price_cap``; at the cap
demand still exceeds supply and the excess is rationed (unmet).
"""

from __future__ import annotations

import numpy as np


def supply_response(price_ratio: np.ndarray, elasticity: float, spare: float) -> np.ndarray:
    """Share of capacity undisrupted suppliers add at ``price_ratio`` (0 at or below P0)."""
    lifted = np.power(np.maximum(price_ratio, 1.0), elasticity) - 1.0
    out: np.ndarray = np.clip(lifted, 0.0, max(spare, 0.0))
    return out


def clearing_price(
    available: np.ndarray, demand: np.ndarray, elasticity: float, price_cap: float
) -> np.ndarray:
    """Price ratio P/P0 at which demand equals what is available (capped at ``price_cap``)."""
    ratio = np.divide(available, demand, out=np.ones_like(demand), where=demand > 0)
    with np.errstate(divide="ignore"):
        price = np.power(np.maximum(ratio, 1e-12), 1.0 / elasticity)
    out: np.ndarray = np.clip(price, 1.0 / price_cap, price_cap)
    return out
