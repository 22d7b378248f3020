"""The engine's monthly step as one compiled loop (numba): scenario by scenario, month by month.

A scenario's state (input stock per node, regional stock, the supply response) is a few
hundred bytes and stays in cache; each month reads the scenario's shocks once and writes its
trace once, with no array temporaries between the steps of :mod:`critmin.simulate.engine`
(whose docstring is the model; this is the same arithmetic, written per scenario). Scenarios
are independent, so a draw's numbers never depend on the chunk it is in.

Compiled on first use and cached on disk (numba ``cache=True``, next to this file or in
``NUMBA_CACHE_DIR``), so a worker process pays the compilation once per installation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

from critmin.economics.storage_kernel import stored

F = TypeVar("F", bound=Callable[..., Any])


def jit(f: F) -> F:
    """Compiled on first call, cached on disk; releases the GIL (a worker's profiler thread
    keeps running)."""
    return cast(F, njit(cache=True, nogil=True)(f))


def jit_leaf(f: F) -> F:
    """:func:`jit` without numba's reference counting (NRT) in the function: for a helper
    that allocates no array and is called per stage or per scenario-month with many arrays,
    whose reference counting would cost more than its work (with it, the kernel took about
    1.5x the CPU time on cobalt's background scenario, 2,000 draws x 12 months, 2026-12-03).
    ``_nrt`` is numba's own target option (``numba.core.options.TargetOptions``), private:
    not in its type stubs, passed here untyped."""
    private: dict[str, Any] = {"_nrt": False}
    return cast(F, njit(cache=True, nogil=True, **private)(f))


#: A supplier counts as allowed to ship a lane when its allowance is at least 1 - this.
ALLOWED = 1e-12
#: The pooled release reads a chain's gap below this share of its demand as no gap.
GAP_TOL = 1e-9


@jit
def clearing_ratio(available: float, demand: float, inv_elasticity: float, cap: float) -> float:
    """:func:`critmin.economics.market.clearing_price` for one region-month."""
    ratio = available / demand if demand > 0 else 1.0
    price: float = max(ratio, 1e-12) ** inv_elasticity
    return min(max(price, 1.0 / cap), cap)


@jit
def drawn(received: float, demand: float, stock: float) -> float:
    """:func:`critmin.economics.market.stock_draw` for one region-month."""
    return min(max(demand - received, 0.0), max(stock, 0.0))


@jit
def response_share(price: float, elasticity: float, spare: float) -> float:
    """:func:`critmin.economics.market.supply_response` for one scenario-month."""
    lifted: float = max(price, 1.0) ** elasticity - 1.0
    return min(max(lifted, 0.0), max(spare, 0.0))


@jit
def world_pool(
    s: int,
    t: int,
    K: int,
    lane_stage: Any,
    lane_origin: Any,
    lane_vals: Any,
    own_region: Any,
    inpool: Any,
) -> int:
    """The regions a world market's arbitrage joins in scenario ``s``, month ``t`` (written to
    ``inpool``; returns how many): every region but one whose own country (``own_region``:
    the region's index for the node that is the region, CHN or USA, else -1) restricts its
    exports at the pooled stage, the last one (a lane to another region allowed less than in
    full: a ban, or a licence regime's partial approval, whose cap on exports binds). Such a
    region clears on its own receipts; a restriction upstream, or by a country that is not a
    region, leaves the arbitrage whole. (A model of one region pools it alone.)"""
    R = inpool.shape[0]
    for r in range(R):
        inpool[r] = True
    for ell in range(lane_stage.shape[0]):
        if lane_stage[ell] != K - 1:
            continue
        r = own_region[lane_origin[ell]]
        if r < 0:
            continue
        for d in range(R):
            if d != r and lane_vals[ell, s, t, d] < 1.0 - ALLOWED:
                inpool[r] = False
                break
    n = 0
    for r in range(R):
        if inpool[r]:
            n += 1
    return n


@jit
def pool_receipts(
    received_r: Any, demand0: Any, demand_mult: Any, s: int, t: int, inpool: Any, out: Any
) -> tuple[float, float]:
    """A world market's receipts after arbitrage: each pooled region's (``inpool``) demand
    share of the pooled receipts (what it received unchanged when no pooled region has
    demand, and for a region outside the pool). Returns the pooled demand and the pooled
    receipts."""
    R = demand0.shape[0]
    total = 0.0
    got = 0.0
    for r in range(R):
        if inpool[r]:
            total += demand0[r] * demand_mult[s, t, r]
            got += received_r[r]
    for r in range(R):
        if inpool[r] and total > 0:
            out[r] = got * (demand0[r] * demand_mult[s, t, r] / total)
        else:
            out[r] = received_r[r]
    return total, got


@jit
def clear_world(
    s: int,
    t: int,
    demand0: Any,
    demand_mult: Any,
    received_r: Any,
    rstock: Any,
    inpool: Any,
    pooled: bool,
    cover_r: Any,
    gap0_r: Any,
    inv_elasticity: float,
    price_cap: float,
    market_r: Any,
    draw_r: Any,
    receipts: Any,
    consumption: Any,
    shortfall: Any,
    price_ratio: Any,
    region_balance: Any,
) -> float:
    """Step 4 for a world market (``ChainModel.world_market``): the pooled regions
    (``inpool``, :func:`world_pool`) clear jointly. Arbitrage gives each its demand share of
    the pooled receipts (shipments + releases); each draws its stock by the same rule as a
    regional market against that share; what was received and drawn is consumed in
    proportion to demand (a surplus is stocked in the same proportion), and one price clears
    the pooled supply against the pooled demand.

    A region whose own country restricts its exports at the pooled stage that month takes no
    part: an export control forbids exactly the arbitrage that would give its consumers a
    share of the tonnes it withholds and the others a share of its own, so it clears on its
    own receipts by the regional rule (the caller's), and the other regions pool among
    themselves. Under China's antimony export controls of 2024 one market became two: Chinese
    domestic prices down 10.5% and European prices up 57.3% since the restriction took
    effect (Reuters, 20 January 2025, citing Argus: source REUTERS_SB_DEC2024; the domestic
    ingot price down 11.5% and European prices at records by 20 November 2024:
    REUTERS_SB_OCT2024).

    Returns the pooled demand; without demand in the pool (not above 0) writes nothing (the
    regions then clear as regional markets)."""
    R = demand0.shape[0]
    total, shipped = pool_receipts(received_r, demand0, demand_mult, s, t, inpool, market_r)
    if not total > 0:
        return total
    have = 0.0
    for r in range(R):
        if not inpool[r]:
            continue
        dem = demand0[r] * demand_mult[s, t, r]
        rb = rstock[r]
        if pooled:
            keep = (1.0 - cover_r[r]) * gap0_r[r]
            draw_r[r] = min(max(dem - keep - market_r[r], 0.0), max(rb, 0.0))
        else:
            draw_r[r] = drawn(market_r[r], dem, rb)
        have += market_r[r] + draw_r[r]
    used = min(have, total)
    # shipments + releases + the stock drawn, as a regional market clears
    price = clearing_ratio(max(shipped, used), total, inv_elasticity, price_cap)
    for r in range(R):
        if not inpool[r]:
            continue
        dem = demand0[r] * demand_mult[s, t, r]
        w = dem / total
        rb = rstock[r]
        # a market that meets the pooled demand meets every region's exactly (no rounding
        # of the demand shares leaves a few ulps short)
        consumed = dem if have >= total else used * w
        rstock[r] = rb - draw_r[r] + (have - used) * w
        # what the region received after arbitrage: its stock change and what it consumed
        got = consumed + (rstock[r] - rb)
        receipts[s, t, r] = got
        consumption[s, t, r] = consumed
        shortfall[s, t, r] = dem - consumed
        region_balance[s, t, r] = got + (rb - rstock[r]) - consumed
        price_ratio[s, t, r] = price
    return total


@jit_leaf
def ship_stage(
    k: int,
    D: int,  # destinations: the next stage's nodes, or the regions from the last stage
    s: int,
    t: int,
    cap: Any,
    flows: Any,
    row_sum: Any,
    col_sum: Any,
    home_col: Any,
    lane_stage: Any,
    lane_origin: Any,
    lane_vals: Any,
    ratio: Any,  # (N,) each node's output over its capacity
    allow: Any,  # (N, Dmax) out: the lanes' allowances (a restricted stage)
    shipped: Any,  # (N, Dmax) out: what each node ships each destination (a restricted stage)
    ship_in: Any,  # (Dmax,) out: what arrives at each destination
    need: Any,  # (Dmax,) out: what each destination lacks of its baseline
    ship_out: Any,  # (N,) out: what each node ships (a restricted stage)
    home_out: Any,  # (N,) out: what each node ships home (a restricted stage)
    unsold: Any,  # (N,) out: what each node made and may not ship (a restricted stage)
) -> tuple[bool, bool]:
    """Step 2 at stage ``k`` of scenario ``s``, month ``t``: output ships along the baseline
    flows the month allows. Returns whether a lane out of the stage is restricted this month
    and (unrestricted) whether a node's output fell below its capacity."""
    N = ratio.shape[0]
    L = lane_stage.shape[0]
    restricted = False
    for ell in range(L):
        if lane_stage[ell] == k:
            for d in range(D):
                if lane_vals[ell, s, t, d] != 1.0:
                    restricted = True
                    break
    fell = False
    if not restricted:
        # what arrives is the baseline less what the nodes whose output fell did not make
        for d in range(D):
            need[d] = 0.0
        for n in range(N):
            if cap[k, n] > 0 and ratio[n] < 1.0:
                fell = True
                lost = 1.0 - ratio[n]
                for d in range(D):
                    need[d] += lost * flows[k, n, d]
        for d in range(D):
            ship_in[d] = col_sum[k, d] - need[d]
    else:
        for n in range(N):
            for d in range(D):
                allow[n, d] = 1.0
        for ell in range(L):
            if lane_stage[ell] == k:
                o = lane_origin[ell]
                for d in range(D):
                    allow[o, d] = lane_vals[ell, s, t, d]
        for d in range(D):
            ship_in[d] = 0.0
        for n in range(N):
            out = 0.0
            for d in range(D):
                x = flows[k, n, d] * ratio[n] * allow[n, d]
                shipped[n, d] = x
                ship_in[d] += x
                out += x
            ship_out[n] = out
            home_out[n] = shipped[n, home_col[k, n]]
            unsold[n] = ratio[n] * row_sum[k, n] - out
        for d in range(D):
            need[d] = max(col_sum[k, d] - ship_in[d], 0.0)
    return restricted, fell


@jit_leaf
def notional_receipts(
    s: int,
    t: int,
    cap: Any,
    safe_cap: Any,
    flows: Any,
    row_sum: Any,
    col_sum: Any,
    home_col: Any,
    avail: Any,
    lane_stage: Any,
    lane_origin: Any,
    lane_vals: Any,
    received: Any,  # (N,) scratch
    ratio: Any,  # (N,) scratch
    ship_in: Any,  # (Dmax,) scratch
    need: Any,  # (Dmax,) scratch
    allow: Any,  # (N, Dmax) scratch
    shipped: Any,  # (N, Dmax) scratch
    ship_out: Any,  # (N,) scratch
    home_out: Any,  # (N,) scratch
    unsold: Any,  # (N,) scratch
    out: Any,  # (R,) the regions' receipts
) -> None:
    """What reaches each region in scenario ``s``, month ``t``, without any stock and without
    the suppliers' response: every plant makes what its flow input allows (no input stock
    drawn), nobody reroutes, and output ships along the baseline flows the month allows
    (:func:`ship_stage`, step 2). The flow scarcity the suppliers' response answers (the
    month's shocks alone: the same in a month the response or a stock draw covered as in one
    they did not)."""
    K, N = cap.shape
    R = out.shape[0]
    for k in range(K):
        last = k == K - 1
        D = R if last else N
        for n in range(N):
            avail_cap = cap[k, n] * avail[s, t, k, n]
            made = avail_cap if k == 0 else min(avail_cap, received[n])
            ratio[n] = made / safe_cap[k, n]
        ship_stage(
            k,
            D,
            s,
            t,
            cap,
            flows,
            row_sum,
            col_sum,
            home_col,
            lane_stage,
            lane_origin,
            lane_vals,
            ratio,
            allow,
            shipped,
            ship_in,
            need,
            ship_out,
            home_out,
            unsold,
        )
        if last:
            for r in range(R):
                out[r] = ship_in[r]
        else:
            for n in range(N):
                received[n] = ship_in[n]


@jit
def offer_uncovered(
    demand0: Any,  # (R,)
    demand_mult: Any,  # (R,) the month's
    received_r: Any,  # (R,) the second pass's receipts (a world market's: after arbitrage)
    rstock: Any,  # (R,) the consumers' stock at the month's start
    gap0_r: Any,  # (R,) the first pass's gaps
    cover_r: Any,  # (R,) the pooled shares
    gap0: Any,  # (K, N) the plants' first-pass gaps
    base_in: Any,  # (K, N)
    reach: Any,  # (K, N, R)
    held: Any,  # (K, N) the plants' stock at the month's start
    offered: Any,  # (K, N) out
) -> bool:
    """The stock offered to each undisrupted plant's response (a plant without a first-pass
    gap): per region, the pooled release ``x_r = cover_r * gap0_r`` less what the second pass
    delivered and the consumers' stock can still add, up to the undisrupted plants' stock
    reaching the region, shared in proportion to it. True when anything is offered."""
    K, N = base_in.shape
    R = demand0.shape[0]
    offered[:, :] = 0.0
    any_offer = False
    for r in range(R):
        dem = demand0[r] * demand_mult[r]
        if gap0_r[r] <= GAP_TOL * dem:
            continue
        target = dem - (1.0 - cover_r[r]) * gap0_r[r]
        rem = target - received_r[r] - max(rstock[r], 0.0)
        if rem <= GAP_TOL * dem:
            continue
        h = 0.0
        for k in range(1, K):
            for n in range(N):
                if gap0[k, n] <= GAP_TOL * base_in[k, n]:
                    h += reach[k, n, r] * max(held[k, n], 0.0)
        if h <= 0.0:
            continue
        f = min(rem, h) / h
        for k in range(1, K):
            for n in range(N):
                if gap0[k, n] <= GAP_TOL * base_in[k, n]:
                    offered[k, n] += f * reach[k, n, r] * max(held[k, n], 0.0)
        any_offer = True
    return any_offer


@jit
def step_all(
    # model, per stage k: flows (K, N, Dmax) (D = N between stages, R to regions)
    cap: Any,
    safe_cap: Any,
    base_in: Any,
    stock0: Any,
    rstock0: Any,
    room_cap: Any,  # capacity that may answer the price, (K, N)
    flows: Any,
    row_sum: Any,
    col_sum: Any,
    home_col: Any,
    home_flow: Any,
    demand0: Any,  # (R,)
    weights: Any,  # (R,), all zero when there is no demand
    has_weights: bool,
    inv_elasticity: float,
    price_cap: float,
    supply_elasticity: float,
    spare: float,
    reroute: bool,
    world: bool,  # one world price: step 4 clears the regions jointly (clear_world)
    own_region: Any,  # (N,) the region a node's country is (CHN, USA), else -1 (world_pool)
    # shocks
    avail: Any,  # (S, M, K, N)
    demand_mult: Any,  # (S, M, R)
    release: Any,  # (S, M, R)
    lane_stage: Any,  # (L,) stage of each restricted lane
    lane_origin: Any,  # (L,)
    lane_vals: Any,  # (L, S, M, Dmax)
    # the stock release rule (plants' input stock and regions' stock): policy table (U, G, P)
    # and each scenario-month's row (-1: myopic)
    policy: Any,
    policy_row: Any,  # (S, M)
    stock_months_max: float,
    # trace, scenario-major
    output: Any,  # (S, M, K, N)
    exports: Any,
    node_balance: Any,
    final: Any,  # (S, M, N, R)
    receipts: Any,  # (S, M, R)
    consumption: Any,
    shortfall: Any,
    price_ratio: Any,
    region_balance: Any,
) -> None:
    S, M, K, N = avail.shape
    R = demand0.shape[0]
    Dmax = flows.shape[2]
    stock = np.empty((K, N))
    rstock = np.empty(R)
    received = np.empty(N)
    before = np.empty(N)
    produced = np.empty(N)
    ratio = np.empty(N)
    ship_out = np.empty(N)
    home_out = np.empty(N)
    unsold = np.empty(N)
    room = np.empty(N)
    made = np.empty(N)
    spare_in = np.empty(N)
    coef = np.empty(N)
    scale = np.empty(N)
    ship_in = np.empty(Dmax)
    need = np.empty(Dmax)
    extra_in = np.empty(Dmax)
    covered = np.zeros(Dmax, dtype=np.bool_)
    wsum = np.empty(Dmax)
    received_r = np.empty(R)
    offer_r = np.empty(R)
    notional_r = np.empty(R)
    saved = np.empty((K, N))
    gap0 = np.zeros((K, N))
    gap0_r = np.zeros(R)
    cover_r = np.ones(R)
    market_r = np.empty(R)
    draw_w = np.empty(R)
    inpool = np.ones(R, dtype=np.bool_)
    offered = np.zeros((K, N))
    reach = np.zeros((K, N, R))
    lane_allow = np.ones((K, N, Dmax))
    allow = np.empty((N, Dmax))
    shipped = np.empty((N, Dmax))
    want = np.empty((N, Dmax))
    for s in range(S):
        stock[:, :] = stock0
        rstock[:] = rstock0
        response = 0.0
        for t in range(M):
            answering = reroute and response != 0.0
            row = policy_row[s, t]
            # a world market's arbitrage this month: the regions it joins (one left alone by
            # the others' controls joins nothing: every region clears as a regional market)
            world_t = False
            if world:
                joined = world_pool(s, t, K, lane_stage, lane_origin, lane_vals, own_region, inpool)
                world_t = joined > 1 or joined == R
            # the pooled release (critmin.economics.storage): under a policy row, a first pass
            # of the month without stock draws gives each holder's gap at P0; each region's
            # pool (its stock and the plants' input stock, attributed by where the plants'
            # output goes at baseline, months of its demand) is released by one policy against
            # the region's gap, and each holder covers that share of its own first-pass gap (a
            # plant: the mean of the regions' shares weighted by where its output goes)
            pooled = row >= 0
            if pooled:
                saved[:, :] = stock
                offered[:, :] = 0.0
            third = False
            for p in range(3 if pooled else 1):
                probe = pooled and p == 0
                if p == 2:
                    # the third pass: only when the second left part of a region's release
                    # uncovered and an undisrupted plant's response may draw it
                    if not third:
                        break
                    stock[:, :] = saved
                if pooled and p == 1:
                    stock[:, :] = saved
                    # where each node's output can go this month: the baseline flows' shares
                    # along the lanes the month allows, back from the regions through the stages
                    for k in range(K - 1, 0, -1):
                        last = k == K - 1
                        for n in range(N):
                            tot = row_sum[k, n]
                            for r in range(R):
                                v = 0.0
                                if tot > 0.0:
                                    if last:
                                        v = flows[k, n, r] * lane_allow[k, n, r] / tot
                                    else:
                                        for d in range(N):
                                            f = flows[k, n, d] * lane_allow[k, n, d]
                                            if f != 0.0:
                                                v += f / tot * reach[k + 1, d, r]
                                reach[k, n, r] = v
                    # a world market's gap: each region's demand share of the pooled gap
                    if world_t:
                        pool_receipts(received_r, demand0, demand_mult, s, t, inpool, market_r)
                    for r in range(R):
                        dem = demand0[r] * demand_mult[s, t, r]
                        got_r = market_r[r] if world_t else received_r[r]
                        gap0_r[r] = max(dem - got_r, 0.0)
                        held = max(rstock[r], 0.0)
                        for k in range(1, K):
                            for n in range(N):
                                held += reach[k, n, r] * max(stock[k, n], 0.0)
                        cover_r[r] = 1.0
                        # a gap below rounding is no gap (the pool's share is then 1)
                        if gap0_r[r] > GAP_TOL * dem:
                            x = stored(dem - gap0_r[r], dem, held, policy, row, stock_months_max)
                            cover_r[r] = x / gap0_r[r]
                received[:] = 0.0
                received_r[:] = 0.0
                for k in range(K):
                    last = k == K - 1
                    D = R if last else N
                    # 1. production: capacity x availability, drawing on input stock when short
                    for n in range(N):
                        avail_cap = cap[k, n] * avail[s, t, k, n]
                        if k == 0:
                            produced[n] = avail_cap
                        else:
                            st = stock[k, n]
                            before[n] = st
                            # the plant's input stock: nothing drawn in the first pass (its gap
                            # recorded), then the pooled share of that gap (the myopic draw
                            # without a policy row)
                            target = min(avail_cap, base_in[k, n])
                            if probe:
                                gap0[k, n] = max(target - received[n], 0.0)
                                rel = 0.0
                            elif pooled:
                                # the regions' shares, weighted by where its output goes
                                held_back = 0.0
                                weight = 0.0
                                for r in range(R):
                                    held_back += reach[k, n, r] * (1.0 - cover_r[r])
                                    weight += reach[k, n, r]
                                keep = held_back / weight * gap0[k, n] if weight > 0.0 else 0.0
                                rel = min(max(target - keep - received[n], 0.0), max(st, 0.0))
                            else:
                                rel = drawn(received[n], target, st)
                            produced[n] = min(avail_cap, received[n] + rel)
                            stock[k, n] = st + (received[n] - produced[n])
                            # the input its response may use: under the pooled release, the
                            # flow and the released stock production left (no other stock)
                            # (an undisrupted plant: plus the stock offered to it in the
                            # third pass, its share of the region's uncovered release)
                            spare_in[n] = received[n] + rel - produced[n] + offered[k, n]
                        ratio[n] = produced[n] / safe_cap[k, n]
                        ship_out[n] = ratio[n] * row_sum[k, n]
                        home_out[n] = ratio[n] * home_flow[k, n]
                        unsold[n] = 0.0
                    # 2. shipments along the baseline flows
                    restricted, fell = ship_stage(
                        k,
                        D,
                        s,
                        t,
                        cap,
                        flows,
                        row_sum,
                        col_sum,
                        home_col,
                        lane_stage,
                        lane_origin,
                        lane_vals,
                        ratio,
                        allow,
                        shipped,
                        ship_in,
                        need,
                        ship_out,
                        home_out,
                        unsold,
                    )
                    if probe:
                        # the lanes the month allows out of this stage (the pooled reach)
                        for n in range(N):
                            for d in range(D):
                                lane_allow[k, n, d] = allow[n, d] if restricted else 1.0
                    # 3. rerouting: buyers seek what they lost from suppliers that may answer
                    rerouted = answering and (restricted or fell)
                    if rerouted:
                        for n in range(N):
                            r_n = room_cap[k, n] * response * avail[s, t, k, n]
                            if k > 0:
                                held = spare_in[n] if pooled else stock[k, n]
                                r_n = min(max(r_n, 0.0), max(held, 0.0))
                            room[n] = r_n
                        if not restricted:
                            # supplier n makes room_n x min(1, need / room) of the need, in
                            # proportion to each destination's need
                            rsum = 0.0
                            for n in range(N):
                                rsum += room[n]
                            need_sum = 0.0
                            for d in range(D):
                                need_sum += need[d]
                            den = max(rsum, need_sum)
                            if den <= 0:
                                den = 1.0
                            csum = 0.0
                            for n in range(N):
                                coef[n] = room[n] / den
                                made[n] = coef[n] * need_sum
                                csum += coef[n]
                                home_out[n] = home_out[n] + coef[n] * need[home_col[k, n]]
                            # a full cover (the suppliers' room at least the need) delivers
                            # the baseline exactly: the coefficients sum to 1 only to rounding,
                            # and the baseline less the need plus the need is not the baseline
                            full = rsum >= need_sum
                            for d in range(D):
                                extra_in[d] = need[d] if full else need[d] * csum
                                covered[d] = full and need[d] > 0.0
                            if last:
                                for n in range(N):
                                    for d in range(D):
                                        want[n, d] = coef[n] * need[d]
                        else:
                            for d in range(D):
                                wsum[d] = 0.0
                            for n in range(N):
                                for d in range(D):
                                    w = room[n] if allow[n, d] >= 1.0 - ALLOWED else 0.0
                                    want[n, d] = w
                                    wsum[d] += w
                            for d in range(D):
                                if wsum[d] <= 0:
                                    wsum[d] = math.inf  # nobody may supply: no extra
                            for n in range(N):
                                per_origin = 0.0
                                for d in range(D):
                                    w = want[n, d] / wsum[d] * need[d]
                                    want[n, d] = w
                                    per_origin += w
                                scale[n] = room[n] / per_origin if per_origin > room[n] else 1.0
                            # a destination every supplier answers in full (none of them
                            # asked beyond its room) gets its baseline exactly
                            for d in range(D):
                                extra_in[d] = 0.0
                                covered[d] = need[d] > 0.0 and wsum[d] < math.inf
                            for n in range(N):
                                if scale[n] < 1.0:
                                    for d in range(D):
                                        if want[n, d] > 0.0:
                                            covered[d] = False
                            for n in range(N):
                                m = 0.0
                                for d in range(D):
                                    w = want[n, d] * scale[n]
                                    want[n, d] = w
                                    m += w
                                    extra_in[d] += w
                                made[n] = m
                                home_out[n] = home_out[n] + want[n, home_col[k, n]]
                        for n in range(N):
                            if k > 0:
                                stock[k, n] -= made[n]
                            ship_out[n] += made[n]
                        for d in range(D):
                            if covered[d]:
                                ship_in[d] = col_sum[k, d]
                            else:
                                ship_in[d] += extra_in[d]
                    # the trace
                    for n in range(N):
                        total = produced[n] + made[n] if rerouted else produced[n]
                        output[s, t, k, n] = total
                        exports[s, t, k, n] = ship_out[n] - home_out[n]
                        if k > 0:
                            node_balance[s, t, k, n] = (
                                before[n] - stock[k, n] + received[n] - ship_out[n] - unsold[n]
                            )
                        else:
                            node_balance[s, t, k, n] = total - (ship_out[n] + unsold[n])
                    if not last:
                        for n in range(N):
                            received[n] = ship_in[n]
                    else:
                        for n in range(N):
                            for r in range(R):
                                x = shipped[n, r] if restricted else ratio[n] * flows[k, n, r]
                                if rerouted:
                                    x += want[n, r]
                                final[s, t, n, r] = x
                        for r in range(R):
                            received_r[r] = ship_in[r] + release[s, t, r]
                if pooled and p == 1 and answering:
                    # the part of each region's pooled release the holders with a gap did not
                    # cover (the consumers' stock short), offered to the response of the
                    # undisrupted plants (no first-pass gap) in proportion to their stock
                    # reaching the region: stock drawn per region stays within the release
                    # (a world market: against the region's share of the pooled receipts,
                    # what it clears on, as its gap was)
                    if world_t:
                        pool_receipts(received_r, demand0, demand_mult, s, t, inpool, offer_r)
                    else:
                        offer_r[:] = received_r
                    third = offer_uncovered(
                        demand0,
                        demand_mult[s, t],
                        offer_r,
                        rstock,
                        gap0_r,
                        cover_r,
                        gap0,
                        base_in,
                        reach,
                        saved,
                        offered,
                    )
            if has_weights and reroute:
                # the flow scarcity the suppliers answer next month: what would reach the
                # regions without any stock drawn (the plants' input stock included) and
                # without the suppliers' own response at any stage, releases left out
                # (in the passes' scratch: their last stage is done)
                notional_receipts(
                    s,
                    t,
                    cap,
                    safe_cap,
                    flows,
                    row_sum,
                    col_sum,
                    home_col,
                    avail,
                    lane_stage,
                    lane_origin,
                    lane_vals,
                    received,
                    ratio,
                    ship_in,
                    need,
                    allow,
                    shipped,
                    ship_out,
                    home_out,
                    unsold,
                    notional_r,
                )
            # 4. regions draw commercial stock when short (the release rule of
            # critmin.economics.storage: the myopic draw, or the competitive-storage policy)
            # and consume; the market clears on what it received: shipments + releases + the
            # stock drawn (a world market: the regions jointly, at one price)
            world_dem = 0.0
            if world_t:
                world_dem = clear_world(
                    s,
                    t,
                    demand0,
                    demand_mult,
                    received_r,
                    rstock,
                    inpool,
                    pooled,
                    cover_r,
                    gap0_r,
                    inv_elasticity,
                    price_cap,
                    market_r,
                    draw_w,
                    receipts,
                    consumption,
                    shortfall,
                    price_ratio,
                    region_balance,
                )
            cleared = world_dem > 0
            paid = 0.0
            # the regions outside the world clearing (all of them without it)
            for r in range(R):
                if not (cleared and inpool[r]):
                    dem = demand0[r] * demand_mult[s, t, r]
                    rb = rstock[r]
                    if pooled:
                        keep = (1.0 - cover_r[r]) * gap0_r[r]
                        draw_r = min(max(dem - keep - received_r[r], 0.0), max(rb, 0.0))
                    else:
                        draw_r = drawn(received_r[r], dem, rb)
                    consumed = min(dem, received_r[r] + draw_r)
                    rstock[r] = rb + (received_r[r] - consumed)
                    receipts[s, t, r] = received_r[r]
                    consumption[s, t, r] = consumed
                    shortfall[s, t, r] = dem - consumed
                    region_balance[s, t, r] = received_r[r] + (rb - rstock[r]) - consumed
                    # received + draw, written so that a draw closing the gap clears at exactly 1
                    supplied = max(received_r[r], consumed)
                    price_ratio[s, t, r] = clearing_ratio(supplied, dem, inv_elasticity, price_cap)
                    if has_weights and reroute:
                        notional = clearing_ratio(notional_r[r], dem, inv_elasticity, price_cap)
                        paid += notional * weights[r]
            if has_weights and reroute:
                if cleared:
                    # one market: the suppliers answer the world's notional price, the pooled
                    # stock-free receipts against the pooled demand (a region outside the
                    # pool: its own, weighted by its demand as the regional markets' are)
                    world_got = 0.0
                    pooled_w = 0.0
                    whole = True
                    for r in range(R):
                        if inpool[r]:
                            world_got += notional_r[r]
                            pooled_w += weights[r]
                        else:
                            whole = False
                    world_p = clearing_ratio(world_got, world_dem, inv_elasticity, price_cap)
                    paid = world_p if whole else paid + world_p * pooled_w
                response = response_share(paid, supply_elasticity, spare)
