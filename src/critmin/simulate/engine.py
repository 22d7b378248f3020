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
    """Monthly results, leading axis = scenario (views of month-major arrays: copy one with
    ``numpy.ascontiguousarray`` where a C-ordered array is needed)."""

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
    """Simulate every scenario of ``shocks`` on ``model``.

    Arrays are (scenario, country) per stage and month. What the engine skips, it skips
    exactly: the flows' sums are formed from what was lost (``1 - ratio`` of the nodes whose
    output fell, never a dense product), shipments no event restricts this month are never
    multiplied by an allowance of 1, and a scenario whose suppliers do not answer (no supply
    response) adds exact zeros when rerouting, so it is not selected out. Row sums use
    ``einsum`` (numpy's ``sum(axis=1)`` over a short axis is ~30x slower). Against the plain
    per-scenario reference (tests/simulate/reference.py) results agree to rounding (relative
    1e-12, tests/simulate/test_engine.py).
    """
    S, M = shocks.demand.shape[:2]
    K, N, R = model.K, model.N, len(model.regions)
    cap = model.capacity
    # a node without capacity produces nothing: divide by 1 there, not by 0
    safe_cap = np.where(cap > 0, cap, 1.0)
    base_in = np.zeros((K, N))
    for k in range(1, K):
        base_in[k] = model.flows[k - 1].sum(axis=0)
    # input stock per stage, (K, S, N): each stage's block is contiguous
    stock = np.empty((K, S, N))
    stock[:] = (base_in * model.node_stock_days / DAYS_PER_MONTH)[:, None, :]
    rstock = np.broadcast_to(model.demand * model.region_stock_days / DAYS_PER_MONTH, (S, R)).copy()
    response = np.zeros(S)  # supply response, share of capacity, set by last month's price
    weights = model.demand / model.demand.sum() if model.demand.sum() > 0 else None
    us = model.regions.index("USA")
    # by-products: the host-tied share of a node's output cannot answer the price
    # (critmin.economics.byproduct)
    untied = np.ones((K, N)) if model.host_tied is None else 1.0 - model.host_tied
    # written month by month in (month, [stage,] scenario, ...) order, so that each write is
    # one contiguous block; the Trace holds (scenario, month, ...) views of them
    output = np.empty((M, K, S, N))
    exports = np.empty((M, K, S, N))
    node_balance = np.empty((M, K, S, N))
    final = np.empty((M, S, N, R))
    receipts = np.empty((M, S, R))
    consumption = np.empty((M, S, R))
    shortfall = np.empty((M, S, R))
    price_ratio = np.empty((M, S, R))
    region_balance = np.empty((M, S, R))
    # per stage: the flows it ships along, their row and column sums, and each origin's flow
    # to itself (domestic: not an export)
    flows = [model.flows[k] if k < K - 1 else model.final for k in range(K)]
    row_sum = [f.sum(axis=1) for f in flows]
    col_sum = [f.sum(axis=0) for f in flows]
    home_col = [np.arange(N) if k < K - 1 else np.asarray(model.region_index) for k in range(K)]
    home_flow = [flows[k][np.arange(N), home_col[k]] for k in range(K)]
    supplying = [cap[k] > 0 for k in range(K)]
    # the months each restricted lane lets less than everything through, per stage
    lanes: list[list[tuple[int, np.ndarray, np.ndarray]]] = [[] for _ in range(K)]
    for (k, o), lane in sorted(shocks.lanes.items()):
        lanes[k].append((o, lane, (lane != 1.0).any(axis=(0, 2))))
    received_r = notional_r = np.zeros((S, R))
    for t in range(M):
        received = np.zeros((S, N))
        answering = reroute and bool(response.any())
        for k in range(K):
            last = k == K - 1
            D = R if last else N
            avail = shocks.avail[:, t, k]  # (S, N)
            avail_cap = cap[k] * avail
            if k == 0:
                produced = avail_cap
            else:
                st = stock[k]
                before = st.copy()
                target = np.minimum(avail_cap, base_in[k])
                target -= received
                draw = np.clip(target, 0.0, np.maximum(st, 0.0))
                draw += received
                produced = np.minimum(avail_cap, draw)
                st += received - produced
            ratio = produced / safe_cap[k]
            # this month's restricted lanes out of this stage
            restricted = [(o, lane[:, t]) for o, lane, on in lanes[k] if on[t]]
            shipped: np.ndarray | None = None
            unsold: np.ndarray | float = 0.0
            ship_out = ratio * row_sum[k]  # (S, N)
            home_out = ratio * home_flow[k]
            if not restricted:
                # every shipment allowed in full: what arrives is the baseline less what the
                # nodes whose output fell did not make
                fell = np.flatnonzero(supplying[k] & (ratio < 1.0).any(axis=0))
                if fell.size:
                    need = np.einsum("sn,nd->sd", 1.0 - ratio[:, fell], flows[k][fell])
                    ship_in = col_sum[k] - need
                else:
                    need = None
                    ship_in = np.broadcast_to(col_sum[k], (S, D))
            else:
                allow = np.ones((S, N, D))
                for o, a in restricted:
                    allow[:, o] = a
                shipped = flows[k][None] * ratio[:, :, None] * allow  # (S, N, D)
                ship_in = shipped.sum(axis=1)
                ship_out = np.einsum("snd->sn", shipped)
                home_out = shipped[:, np.arange(N), home_col[k]]
                unsold = ratio * row_sum[k] - ship_out  # blocked at the origin
                need = np.clip(col_sum[k][None] - ship_in, 0.0, None)
            produced_total = produced
            extra_in: np.ndarray | None = None
            extra_r: np.ndarray | None = None
            if answering and need is not None:
                # every kind of lost supply is sought elsewhere: blocked shipments and output
                # that fell (outages, missing inputs) alike. Undisrupted suppliers answer last
                # month's price, within their spare capacity (critmin.economics.market),
                # limited by input stock for processing; a scenario without a response has
                # no room and adds exact zeros.
                room = (cap[k] * untied[k]) * response[:, None]
                room *= avail
                if k > 0:
                    room = np.clip(room, 0.0, np.maximum(stock[k], 0.0))
                if shipped is None:
                    # every supplier may ship everywhere: supplier n makes
                    # room_n x min(1, need / room) of the need, in proportion to each
                    # destination's need: extra[s, n, d] = coef[s, n] * need[s, d]
                    rsum = np.einsum("sn->s", room)
                    need_sum = np.einsum("sd->s", need)
                    den = np.maximum(rsum, need_sum)
                    den[den <= 0] = 1.0
                    coef = room / den[:, None]  # (S, N)
                    made = coef * need_sum[:, None]
                    extra_in = need * np.einsum("sn->s", coef)[:, None]
                    home_out = home_out + coef * need[:, home_col[k]]
                    extra_r = coef[:, :, None] * need[:, None, :] if last else None
                else:
                    ok = allow >= 1.0 - 1e-12  # suppliers allowed
                    want = room[:, :, None] * ok  # (S, N, D)
                    wsum = want.sum(axis=1, keepdims=True)
                    wsum[wsum <= 0] = np.inf  # nobody may supply: no extra
                    want /= wsum
                    want *= need[:, None, :]
                    per_origin = np.einsum("snd->sn", want)
                    cut = per_origin > room
                    scale = np.ones_like(room)
                    scale[cut] = room[cut] / per_origin[cut]
                    want *= scale[:, :, None]
                    extra_r = want
                    made = np.einsum("snd->sn", extra_r)
                    extra_in = extra_r.sum(axis=1)
                    home_out = home_out + extra_r[:, np.arange(N), home_col[k]]
                if k > 0:
                    stock[k] -= made
                produced_total = produced + made
                ship_in = ship_in + extra_in
                ship_out = ship_out + made
            output[t, k] = produced_total
            np.subtract(ship_out, home_out, out=exports[t, k])
            if k > 0:
                before -= stock[k]
                before += received
                before -= ship_out
                before -= unsold
                node_balance[t, k] = before
            else:
                np.subtract(produced_total, ship_out + unsold, out=node_balance[t, k])
            if not last:
                received = ship_in
            else:
                out_flow = final[t]
                if shipped is None:
                    # one destination at a time: a broadcast over a short last axis is slow
                    for r in range(R):
                        np.multiply(ratio, flows[k][:, r], out=out_flow[:, :, r])
                else:
                    out_flow[:] = shipped
                if extra_r is not None:
                    out_flow += extra_r
                received_r = ship_in + shocks.release[:, t]
                # what buyers would have had without the suppliers' response: the scarcity
                # that keeps the response going while the disruption lasts
                notional_r = received_r if extra_in is None else received_r - extra_in
        demand = model.demand * shocks.demand[:, t]
        rbefore = rstock.copy()
        draw_r = np.clip(demand - received_r, 0.0, rstock)
        consumed = np.minimum(demand, received_r + draw_r)
        rstock += received_r - consumed
        receipts[t] = received_r
        consumption[t] = consumed
        np.subtract(demand, consumed, out=shortfall[t])
        region_balance[t] = received_r + (rbefore - rstock) - consumed
        price_ratio[t] = clearing_price(received_r, demand, model.elasticity, model.price_cap)
        if weights is not None:
            notional = clearing_price(notional_r, demand, model.elasticity, model.price_cap)
            # a row-wise sum, not a BLAS product: a draw's bits do not depend on its chunk
            paid = np.einsum("sr,r->s", notional, weights)
            response = supply_response(paid, model.supply_elasticity, model.spare)
    loss_usd = np.zeros((M, S, R))
    if model.exposure is not None:
        # every month at once (element-wise: the same bits as month by month)
        base_us = model.demand[us]
        short = shortfall[:, :, us] / (base_us if base_us > 0 else np.inf)
        loss_usd[:, :, us] = model.exposure.gdp_lost(short)
    return Trace(
        output=output.transpose(2, 0, 1, 3),
        exports=exports.transpose(2, 0, 1, 3),
        final=final.swapaxes(0, 1),
        receipts=receipts.swapaxes(0, 1),
        consumption=consumption.swapaxes(0, 1),
        shortfall=shortfall.swapaxes(0, 1),
        price_ratio=price_ratio.swapaxes(0, 1),
        loss_usd=loss_usd.swapaxes(0, 1),
        node_balance=node_balance.transpose(2, 0, 1, 3),
        region_balance=region_balance.swapaxes(0, 1),
    )


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
