"""Market clearing per mineral, region and month (METHODS §6, constant elasticities).

Demand ``D(P) = D0·(P/P0)^ε_d`` (ε_d < 0). Undisrupted suppliers respond to the price with
``S(P) = S0·(P/P0)^ε_s``, bounded by their spare capacity: the extra output a supplier offers
is ``min(spare, (P/P0)^ε_s - 1)`` of its capacity. The response is to the previous month's
price (partial adjustment: output cannot answer a price it has not yet seen), so the month a
disruption starts has no response and the next months do; the price it answers is the one the
month's flow would set without any stock drawn and without the response itself
(critmin.simulate.engine, step 3).

What the region's market receives in the month clears against demand: shipments (rerouted
supply included), strategic-reserve releases, and the commercial stock drawn
(:func:`stock_draw`). Inventories released in a shortage are supply to the market and lower
the clearing price (competitive storage: Williams & Wright 1991, *Storage and Commodity
Markets*; Deaton & Laroque 1992, *Review of Economic Studies* 59(1)); a reserve release and a
commercial draw are the same tonnes to the buyer and go through the same clearing. The
clearing price ratio is ``(available / D0)^(1/ε_d)``, capped at the choke ratio
``price_cap``; at the cap demand still exceeds supply and the excess is rationed (unmet).

The myopic draw (:func:`stock_draw`): holders of commercial stock (consumers' days of cover)
draw it to cover the month's gap between demand at the reference price and what arrives, up
to the stock left. It is the engine's rule with ``stock_rule = "myopic"`` and the limit
(end hazard 1) of the default, the competitive-storage release of
:mod:`critmin.economics.storage`, under which holders keep stock back while the disruption is
expected to last. Either way stock is not rebuilt after a shortage (restocking demand does not
raise the price), and a surplus month (receipts above demand) is stocked at the price the
surplus sets.
"""

from __future__ import annotations

import numpy as np


def supply_response(price_ratio: np.ndarray, elasticity: float, spare: float) -> np.ndarray:
    """Share of capacity undisrupted suppliers add at ``price_ratio`` (0 at or below P0)."""
    lifted = np.power(np.maximum(price_ratio, 1.0), elasticity) - 1.0
    out: np.ndarray = np.clip(lifted, 0.0, max(spare, 0.0))
    return out


def stock_draw(received: np.ndarray, demand: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """Commercial stock drawn in the month: the gap ``demand - received`` (none in a surplus),
    up to the ``stock`` left. It is supply to the market: clear on ``received + draw``."""
    out: np.ndarray = np.minimum(np.maximum(demand - received, 0.0), np.maximum(stock, 0.0))
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
