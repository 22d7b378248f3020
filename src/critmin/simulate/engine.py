"""Propagate shocks through a chain, month by month, vectorised over a leading scenario axis.

Per month and stage (METHODS §3, DESIGN §3):
1. A node (stage k, country c) can produce capacity x availability. Stage 0 needs no input;
   later stages use what reached them from stage k-1, drawing on input stock (commercial days
   of cover) first when short; surplus input is stocked.
2. Output is shipped along the baseline flows, each scaled by the node's output ratio and by
   the shock's allowance (export controls, content rules, logistics). What may not leave
   stays unsold at the origin.
3. Rerouting (switchable): buyers seek every tonne they lost (blocked shipments and output
   that fell alike) from suppliers they may still buy from, in proportion to those suppliers'
   supply response: the share of capacity they add at last month's (demand-weighted) price
   under the supply elasticity, bounded by their spare capacity (critmin.economics.market),
   drawn from their input stock. The price they answer is the one the month's scarcity would
   set without their response (so the response lasts as long as the disruption, rather than
   collapsing the month after it worked).
4. Regions consume the last stage's shipments plus releases, draw commercial stock when short;
   unmet demand is shortfall. The market clears each month: the price moves through the demand
   elasticity on the flow supplied against demand, capped at a choke multiple; a regional
   restriction gives a regional premium.
5. Loss: U.S. GDP lost at the month's U.S. shortfall share through the BEA input-output model
   (critmin.economics.io); welfare terms follow from the price path (critmin.economics.welfare).
Conservation holds by construction and is checked (:func:`check_balance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critmin.economics.market import clearing_price, supply_response
from critmin.simulate.model import ChainModel
from critmin.simulate.shocks import Shocks

DAYS_PER_MONTH = 365.25 / 12
BALANCE_TOL = 1e-6


@dataclass
class Trace:
    """Monthly results, leading axis = scenario."""

    output: np.ndarray  # (S, M, K, N) t produced
    exports: np.ndarray  # (S, M, K, N) t shipped out of the country (or its region, last stage)
    final: np.ndarray  # (S, M, N, R) t shipped to regions (incl. rerouted)
    receipts: np.ndarray  # (S, M, R) t received (shipments + releases)
    consumption: np.ndarray  # (S, M, R)
    shortfall: np.ndarray  # (S, M, R)
    price_ratio: np.ndarray  # (S, M, R)
    loss_usd: np.ndarray  # (S, M, R) U.S. GDP lost (U.S. column; 0 for other regions)
    node_balance: np.ndarray  # (S, M, K, N) in + stock draw - out - unsold (should be 0)
    region_balance: np.ndarray  # (S, M, R)


def run(model: ChainModel, shocks: Shocks, *, reroute: bool = True) -> Trace:
    """Simulate every scenario of ``shocks`` on ``model``."""
    S, M = shocks.demand.shape[:2]
    K, N, R = model.K, model.N, len(model.regions)
    cap = model.capacity
    base_in = np.zeros((K, N))
    for k in range(1, K):
        base_in[k] = model.flows[k - 1].sum(axis=0)
    stock = np.broadcast_to(base_in * model.node_stock_days / DAYS_PER_MONTH, (S, K, N)).copy()
    rstock = np.broadcast_to(model.demand * model.region_stock_days / DAYS_PER_MONTH, (S, R)).copy()
    response = np.zeros(S)  # supply response, share of capacity, set by last month's price
    weights = model.demand / model.demand.sum() if model.demand.sum() > 0 else None
    us = model.regions.index("USA")
    # by-products: the host-tied share of a node's output cannot answer the price
    # (critmin.economics.byproduct)
    untied = np.ones((K, N)) if model.host_tied is None else 1.0 - model.host_tied
    tr = Trace(
        output=np.zeros((S, M, K, N)),
        exports=np.zeros((S, M, K, N)),
        final=np.zeros((S, M, N, R)),
        receipts=np.zeros((S, M, R)),
        consumption=np.zeros((S, M, R)),
        shortfall=np.zeros((S, M, R)),
        price_ratio=np.ones((S, M, R)),
        loss_usd=np.zeros((S, M, R)),
        node_balance=np.zeros((S, M, K, N)),
        region_balance=np.zeros((S, M, R)),
    )
    # per stage: the flows it ships along, their row and column sums, and each origin's flow
    # to itself (domestic: not an export)
    flows = [model.flows[k] if k < K - 1 else model.final for k in range(K)]
    row_sum = [f.sum(axis=1) for f in flows]
    col_sum = [f.sum(axis=0) for f in flows]
    home_col = [np.arange(N) if k < K - 1 else np.asarray(model.region_index) for k in range(K)]
    home_flow = [flows[k][np.arange(N), home_col[k]] for k in range(K)]
    for t in range(M):
        received = np.zeros((S, N))
        for k in range(K):
            avail_cap = cap[k] * shocks.avail[:, t, k]  # (S, N)
            before = stock[:, k].copy()
            if k == 0:
                produced = avail_cap
            else:
                target = np.minimum(avail_cap, base_in[k])
                draw = np.clip(target - received, 0.0, np.maximum(stock[:, k], 0.0))
                produced = np.minimum(avail_cap, received + draw)
                stock[:, k] += received - produced
            ratio = np.divide(produced, cap[k], out=np.zeros_like(produced), where=cap[k] > 0)
            allow = shocks.ship[:, t, k] if k < K - 1 else shocks.ship_final[:, t]
            last = k == K - 1
            # every shipment allowed in full this month and stage: no (S, N, D) product needed
            free = bool((allow == 1.0).all())
            if free:
                # shipped = flows x ratio, never formed: its sums are a product and a scale
                shipped = None
                ship_in = np.einsum("sn,nd->sd", ratio, flows[k])  # (S, D)
                ship_out = ratio * row_sum[k]  # (S, N)
                home_out = ratio * home_flow[k]
                unsold: np.ndarray | float = 0.0
            else:
                shipped = flows[k][None] * ratio[:, :, None] * allow  # (S, N, D)
                ship_in = shipped.sum(axis=1)
                ship_out = shipped.sum(axis=2)
                home_out = shipped[:, np.arange(N), home_col[k]]
                unsold = ratio * row_sum[k] - ship_out  # blocked at the origin
            produced_total = produced
            extra_in = None
            extra_rows = np.empty(0, dtype=np.int64)
            extra_r = None
            if reroute:
                # every kind of lost supply is sought elsewhere: blocked shipments and output
                # that fell (outages, missing inputs) alike
                need = np.clip(col_sum[k][None] - ship_in, 0.0, None)  # (S, D)
                # only scenarios that lost something reroute (each scenario is independent)
                rows = np.flatnonzero(need.max(axis=1) > 0) if need.size else extra_rows
                if rows.size:
                    # undisrupted suppliers answer last month's price, within their spare
                    # capacity (critmin.economics.market), limited by input stock for processing
                    room = (
                        (cap[k] * untied[k])[None] * response[rows, None] * shocks.avail[rows, t, k]
                    )
                    if k > 0:
                        room = np.clip(room, 0.0, np.maximum(stock[rows, k], 0.0))
                    produced_total = produced.copy()
                    extra_rows = rows
                    extra_in = np.zeros_like(ship_in)
                    ship_out = ship_out.copy()
                    home_out = home_out.copy()
                    if free:
                        # every supplier may ship everywhere: the weights do not depend on the
                        # destination, so the extra flow is an outer product (never formed
                        # before the last stage): extra[s, n, d] = coef[s, n] * need[s, d]
                        need_r = need[rows]
                        rsum = room.sum(axis=1, keepdims=True)
                        share = np.divide(room, rsum, out=np.zeros_like(room), where=rsum > 0)
                        per_origin = share * need_r.sum(axis=1, keepdims=True)
                        scale = np.divide(
                            room, per_origin, out=np.ones_like(room), where=per_origin > room
                        )
                        coef = share * np.minimum(scale, 1.0)  # (s, N)
                        made = coef * need_r.sum(axis=1, keepdims=True)
                        extra_in[rows] = need_r * coef.sum(axis=1, keepdims=True)
                        home_out[rows] += coef * need_r[:, home_col[k]]
                        extra_r = coef[:, :, None] * need_r[:, None, :] if last else None
                    else:
                        ok = allow[rows] >= 1.0 - 1e-12  # suppliers allowed
                        weight = room[:, :, None] * ok  # (s, N, D)
                        wsum = weight.sum(axis=1, keepdims=True)
                        want = np.divide(weight, wsum, out=np.zeros_like(weight), where=wsum > 0)
                        want = want * need[rows, None, :]
                        per_origin = want.sum(axis=2)
                        scale = np.divide(
                            room, per_origin, out=np.ones_like(room), where=per_origin > room
                        )
                        extra_r = want * np.minimum(scale, 1.0)[:, :, None]
                        made = extra_r.sum(axis=2)
                        extra_in[rows] = extra_r.sum(axis=1)
                        home_out[rows] += extra_r[:, np.arange(N), home_col[k]]
                    if k > 0:
                        stock[rows, k] -= made
                    produced_total[rows] += made
                    ship_in = ship_in + extra_in
                    ship_out[rows] += made
            tr.output[:, t, k] = produced_total
            tr.exports[:, t, k] = ship_out - home_out
            tr.node_balance[:, t, k] = (
                received + (before - stock[:, k]) - (ship_out + unsold)
                if k > 0
                else produced_total - (ship_out + unsold)
            )
            if not last:
                received = ship_in
            else:
                out_flow = flows[k][None] * ratio[:, :, None] if shipped is None else shipped
                if extra_r is not None:
                    out_flow = out_flow.copy() if shipped is not None else out_flow
                    out_flow[extra_rows] += extra_r
                tr.final[:, t] = out_flow
                received_r = ship_in + shocks.release[:, t]
                # what buyers would have had without the suppliers' response: the scarcity
                # that keeps the response going while the disruption lasts
                notional_r = received_r if extra_in is None else received_r - extra_in
        demand = model.demand * shocks.demand[:, t]
        rbefore = rstock.copy()
        draw_r = np.clip(demand - received_r, 0.0, rstock)
        consumed = np.minimum(demand, received_r + draw_r)
        rstock += received_r - consumed
        tr.receipts[:, t] = received_r
        tr.consumption[:, t] = consumed
        tr.shortfall[:, t] = demand - consumed
        tr.region_balance[:, t] = received_r + (rbefore - rstock) - consumed
        tr.price_ratio[:, t] = clearing_price(received_r, demand, model.elasticity, model.price_cap)
        if weights is not None:
            notional = clearing_price(notional_r, demand, model.elasticity, model.price_cap)
            # a row-wise sum, not a BLAS product: a draw's bits do not depend on its chunk
            paid = (notional * weights).sum(axis=1)
            response = supply_response(paid, model.supply_elasticity, model.spare)
        if model.exposure is not None:
            base_us = model.demand[us]
            short = np.divide(tr.shortfall[:, t, us], base_us, out=np.zeros(S), where=base_us > 0)
            tr.loss_usd[:, t, us] = model.exposure.gdp_lost(short)
    return tr


class BalanceError(AssertionError):
    """A node or region does not balance; the message names it and the month."""


def check_balance(model: ChainModel, trace: Trace, *, tol: float = BALANCE_TOL) -> None:
    """Every stage node and region balances every month (in - out - stock change = 0)."""
    scale = max(float(model.capacity.max()), 1.0)
    for name, arr, labels in (
        ("node", trace.node_balance, None),
        ("region", trace.region_balance, model.regions),
    ):
        bad = np.abs(arr) > tol * scale
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            if labels is None:
                s, m, k, n = idx
                where = f"{model.stages[k]} in {model.countries[n]}"
            else:
                s, m, r = idx
                where = f"region {labels[r]}"
            raise BalanceError(
                f"{model.mineral}: {name} {where} does not balance in month {m + 1} of "
                f"scenario {s}: off by {float(arr[idx]):.6g} t"
            )
