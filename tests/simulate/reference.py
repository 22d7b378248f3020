"""A plain, one-scenario-at-a-time implementation of the engine, kept to prove the vectorised
engine gives the same numbers. Loops over nodes with Python floats; no broadcasting."""

from __future__ import annotations

import numpy as np

from critmin.schema.vocabulary import DAYS_PER_MONTH
from critmin.simulate.engine import release_policy
from critmin.simulate.kernel import GAP_TOL
from critmin.simulate.model import ChainModel
from critmin.simulate.shocks import Shocks


def run_one(model: ChainModel, shocks: Shocks, s: int, *, reroute: bool = True) -> dict:
    K, N, R = model.K, model.N, len(model.regions)
    M = shocks.demand.shape[1]
    cap = model.capacity
    base_in = [[0.0] * N for _ in range(K)]
    for k in range(1, K):
        for d in range(N):
            base_in[k][d] = sum(model.flows[k - 1][o][d] for o in range(N))
    stocked = model.input_stocked  # the U.S. buyer node holds no input stock
    stock = [
        [base_in[k][c] * model.node_stock_days / DAYS_PER_MONTH * stocked[c] for c in range(N)]
        for k in range(K)
    ]
    rstock = [model.demand[r] * model.region_stock_days / DAYS_PER_MONTH for r in range(R)]
    out = {
        "shortfall": np.zeros((M, R)),
        "price_ratio": np.zeros((M, R)),
        "exports": np.zeros((M, K, N)),
        "receipts": np.zeros((M, R)),
        "output": np.zeros((M, K, N)),
        # the plants' input stock and the regions' stock at the month's end, and the stock
        # each plant's production drew (the pooled share of its gap; the myopic draw)
        "stock": np.zeros((M, K, N)),
        "region_stock": np.zeros((M, R)),
        "released": np.zeros((M, K, N)),
        # the pooled policy's release per region, cover_r x gap0_r (0 without a policy row)
        "pool_release": np.zeros((M, R)),
        # what the pooled policy lets each region consume: its demand less the part of its gap
        # the policy keeps back (the demand without a policy row)
        "pool_target": np.zeros((M, R)),
        # the part of each region's pooled release the third pass offers the undisrupted
        # plants' response (before it is shared by their stock)
        "uncovered": np.zeros((M, R)),
    }
    response = 0.0
    total_demand = sum(model.demand)
    # the stock release rule: the engine's policy table (solved once), read here by hand
    policy, rows, months_max = release_policy(model, shocks)
    received_r = [0.0] * R
    for t in range(M):
        # a world market: the regions the month's arbitrage joins (none: regional clearing)
        joined = _world_pool(model, shocks, s, t)
        # the pooled release: a first pass without stock draws gives each holder's gap;
        # each region's pool (its stock, the plants' stock by where their output goes) is
        # released by one policy (read by hand); each holder covers that share of its own gap
        row = int(rows[s, t])
        pooled = row >= 0
        cover_r = [1.0] * R
        saved = [list(x) for x in stock]
        gap0 = [[0.0] * N for _ in range(K)]
        gap0_r = [0.0] * R
        offered = [[0.0] * N for _ in range(K)]
        reach: list = []
        for p in range(3 if pooled else 1):
            probe = pooled and p == 0
            if p == 2:
                # the third pass, when part of a region's release is left uncovered and an
                # undisrupted plant's response may draw it: that part, shared by their stock
                # (a world market: against each region's share of the pooled receipts)
                got_r = _arbitraged(model, shocks, s, t, received_r, joined)
                left = _offered(model, shocks, s, t, got_r, rstock, gap0_r, cover_r)
                out["uncovered"][t] = left
                offered = _offered_plants(model, left, gap0, base_in, reach, saved)
                if not (reroute and response != 0.0 and any(x > 0 for o in offered for x in o)):
                    break
                stock = [list(x) for x in saved]
            if pooled and p == 1:
                stock = [list(x) for x in saved]
                # where each plant's output can go this month, by hand: the baseline flows'
                # shares along the allowed lanes, back from the regions through the stages
                reach = [[[0.0] * R for _ in range(N)] for _ in range(K)]
                for k in range(K - 1, 0, -1):
                    f = model.final if k == K - 1 else model.flows[k]
                    ok = shocks.ship_final[s, t] if k == K - 1 else shocks.ship[s, t, k]
                    for o in range(N):
                        out_t = float(sum(f[o]))
                        if out_t <= 0:
                            continue
                        for r in range(R):
                            if k == K - 1:
                                reach[k][o][r] = f[o][r] * ok[o][r] / out_t
                            else:
                                reach[k][o][r] = sum(
                                    f[o][d] * ok[o][d] / out_t * reach[k + 1][d][r]
                                    for d in range(N)
                                )
                # a world market: each region's gap is its demand share of the pooled gap
                got_r = _arbitraged(model, shocks, s, t, received_r, joined)
                for r in range(R):
                    demand = model.demand[r] * shocks.demand[s, t, r]
                    gap0_r[r] = max(demand - got_r[r], 0.0)
                    pool = max(rstock[r], 0.0) + sum(
                        reach[k][c][r] * max(stock[k][c], 0.0)
                        for k in range(1, K)
                        for c in range(N)
                    )
                    # a gap below rounding is no gap (the pool's share is then 1)
                    if gap0_r[r] > GAP_TOL * demand:
                        x = _release(demand - gap0_r[r], demand, pool, policy, row, months_max)
                        cover_r[r] = x / gap0_r[r]
                        out["pool_release"][t, r] = x
            received = [0.0] * N
            for k in range(K):
                last = k == K - 1
                D = R if last else N
                produced = [0.0] * N
                spare_in = [0.0] * N  # the input a plant's response may use (pooled release)
                for c in range(N):
                    a = cap[k][c] * shocks.avail[s, t, k, c]
                    if k == 0:
                        produced[c] = a
                    else:
                        target = min(a, base_in[k][c])
                        # the plant's input stock: nothing drawn in the first pass (its gap
                        # recorded), then the pooled share of that gap; the myopic draw without
                        # a policy row
                        if probe:
                            gap0[k][c] = max(target - received[c], 0.0)
                            draw = 0.0
                        elif pooled:
                            weight = sum(reach[k][c])
                            back = sum(reach[k][c][r] * (1.0 - cover_r[r]) for r in range(R))
                            keep = back / weight * gap0[k][c] if weight > 0 else 0.0
                            draw = min(max(target - keep - received[c], 0.0), max(stock[k][c], 0.0))
                        else:
                            draw = min(max(target - received[c], 0.0), max(stock[k][c], 0.0))
                        produced[c] = min(a, received[c] + draw)
                        # the stock released to it: its production's draw, and what the
                        # third pass offers an undisrupted plant's response
                        out["released"][t, k, c] = draw + offered[k][c]
                        stock[k][c] += received[c] - produced[c]
                        spare_in[c] = received[c] + draw - produced[c] + offered[k][c]
                flows = model.final if last else model.flows[k]
                allow = shocks.ship_final[s, t] if last else shocks.ship[s, t, k]
                shipped = [[0.0] * D for _ in range(N)]
                lost = [[0.0] * D for _ in range(N)]
                for o in range(N):
                    ratio = produced[o] / cap[k][o] if cap[k][o] > 0 else 0.0
                    for d in range(D):
                        b = flows[o][d] * ratio
                        shipped[o][d] = b * allow[o][d]
                        lost[o][d] = b - shipped[o][d]
                extra = [[0.0] * D for _ in range(N)]
                if reroute:
                    # a by-product's host-tied output does not answer the price
                    tied = [0.0] * N if model.host_tied is None else list(model.host_tied[k])
                    room = [
                        response * cap[k][o] * (1.0 - tied[o]) * shocks.avail[s, t, k, o]
                        for o in range(N)
                    ]
                    if k > 0:
                        # pooled: the response uses only the flow and the released stock
                        # production left; myopic: any of its stock
                        held = spare_in if pooled else stock[k]
                        room = [min(max(room[o], 0.0), max(held[o], 0.0)) for o in range(N)]
                    for d in range(D):
                        need = max(sum(flows[o][d] - shipped[o][d] for o in range(N)), 0.0)
                        weights = [room[o] if allow[o][d] >= 1.0 - 1e-12 else 0.0 for o in range(N)]
                        total = sum(weights)
                        for o in range(N):
                            extra[o][d] = need * weights[o] / total if total > 0 else 0.0
                    for o in range(N):
                        asked = sum(extra[o])
                        if asked > room[o]:
                            f = room[o] / asked
                            extra[o] = [x * f for x in extra[o]]
                        if k > 0:
                            stock[k][o] -= sum(extra[o])
                home = [model.region_index[o] for o in range(N)] if last else list(range(N))
                for o in range(N):
                    out["output"][t, k, o] = produced[o] + sum(extra[o])
                    out["exports"][t, k, o] = sum(
                        shipped[o][d] + extra[o][d] for d in range(D) if d != home[o]
                    )
                if not last:
                    received = [
                        sum(shipped[o][d] + extra[o][d] for o in range(N)) for d in range(N)
                    ]
                else:
                    received_r = [
                        sum(shipped[o][r] + extra[o][r] for o in range(N)) + shocks.release[s, t, r]
                        for r in range(R)
                    ]
        demands = [model.demand[r] * shocks.demand[s, t, r] for r in range(R)]
        for r in range(R):
            out["pool_target"][t, r] = demands[r] - (1.0 - cover_r[r]) * gap0_r[r]
        world = sum(demands[r] for r in joined) > 0
        if world:
            # one world price among the pooled regions: arbitrage gives each its demand share
            # of their pooled receipts; each draws its stock by the same rule against that
            # share; what was received and drawn is consumed (or stocked) in proportion to
            # demand, at one price
            got_r = _arbitraged(model, shocks, s, t, received_r, joined)
            draws = {}
            for r in joined:
                if pooled:
                    keep = (1.0 - cover_r[r]) * gap0_r[r]
                    draw = min(max(demands[r] - keep - got_r[r], 0.0), max(rstock[r], 0.0))
                else:
                    draw = min(max(demands[r] - got_r[r], 0.0), max(rstock[r], 0.0))
                draws[r] = draw
            total = sum(demands[r] for r in joined)
            arrived = sum(received_r[r] for r in joined)
            have = arrived + sum(draws.values())
            used = min(have, total)
            ratio = max(arrived, used) / total
            price = max(ratio, 1e-12) ** (1.0 / model.elasticity)
            price = min(max(price, 1.0 / model.price_cap), model.price_cap)
            for r in joined:
                share = demands[r] / total
                before = rstock[r]
                rstock[r] = before - draws[r] + (have - used) * share
                consumed = demands[r] if have >= total else used * share
                out["shortfall"][t, r] = demands[r] - consumed
                out["receipts"][t, r] = consumed + rstock[r] - before
                out["price_ratio"][t, r] = price
        for r in range(R):
            if world and r in joined:
                continue
            demand = model.demand[r] * shocks.demand[s, t, r]
            if pooled:
                keep = (1.0 - cover_r[r]) * gap0_r[r]
                draw = min(max(demand - keep - received_r[r], 0.0), max(rstock[r], 0.0))
            else:
                draw = min(max(demand - received_r[r], 0.0), max(rstock[r], 0.0))
            consumed = min(demand, received_r[r] + draw)
            rstock[r] += received_r[r] - consumed
            out["shortfall"][t, r] = demand - consumed
            out["receipts"][t, r] = received_r[r]
            out["region_stock"][t, r] = rstock[r]
            # the market clears on what it received, the stock drawn included
            supplied = received_r[r] + draw if consumed < demand else max(received_r[r], demand)
            ratio = supplied / demand if demand > 0 else 1.0
            price = max(ratio, 1e-12) ** (1.0 / model.elasticity)
            out["price_ratio"][t, r] = min(max(price, 1.0 / model.price_cap), model.price_cap)
        out["stock"][t] = np.array(stock)
        # the suppliers answer the flow scarcity: what would reach the regions without any
        # stock drawn (the plants' included) and without their response at any stage
        notional_r = _notional(model, shocks, s, t)
        notional = []
        for r in range(R):
            demand = model.demand[r] * shocks.demand[s, t, r]
            ratio = notional_r[r] / demand if demand > 0 else 1.0
            price = max(ratio, 1e-12) ** (1.0 / model.elasticity)
            notional.append(min(max(price, 1.0 / model.price_cap), model.price_cap))
        paid = sum(notional[r] * model.demand[r] / total_demand for r in range(R))
        demands = [model.demand[r] * shocks.demand[s, t, r] for r in range(R)]
        if world:
            # one market: the world's notional price, pooled receipts against pooled demand
            # (a region outside the pool answers its own price, by its weight as above)
            ratio = sum(notional_r[r] for r in joined) / sum(demands[r] for r in joined)
            price = min(
                max(max(ratio, 1e-12) ** (1.0 / model.elasticity), 1.0 / model.price_cap),
                model.price_cap,
            )
            paid = sum(
                (price if r in joined else notional[r]) * model.demand[r] / total_demand
                for r in range(R)
            )
        lifted = max(paid, 1.0) ** model.supply_elasticity - 1.0
        response = min(max(lifted, 0.0), model.spare)
    return out


def _world_pool(model: ChainModel, shocks: Shocks, s: int, t: int) -> list[int]:
    """The regions a world market's arbitrage joins this month: all but a region whose own
    country (CHN, USA) ships less than in full to another region at the last stage (an
    export control: a ban or a partial licence approval). Fewer than two left by a control:
    none (each region clears by itself); a regional market: none."""
    if not model.world_market:
        return []
    allowed = shocks.ship_final[s, t]  # (N, R)
    out = []
    for r, region in enumerate(model.regions):
        restricted = any(
            allowed[c][d] < 1.0 - 1e-12
            for c, country in enumerate(model.countries)
            if country == region
            for d in range(len(model.regions))
            if d != r
        )
        if not restricted:
            out.append(r)
    return out if len(out) > 1 or len(out) == len(model.regions) else []


def _arbitraged(
    model: ChainModel, shocks: Shocks, s: int, t: int, received: list, pool: list[int]
) -> list:
    """A world market's receipts after arbitrage (each pooled region's demand share of the
    pooled regions' receipts); a region outside the pool's, and a regional market's, as
    received."""
    demands = [model.demand[r] * shocks.demand[s, t, r] for r in range(len(received))]
    total = sum(demands[r] for r in pool)
    if total <= 0:
        return list(received)
    got = sum(received[r] for r in pool)
    return [got * demands[r] / total if r in pool else received[r] for r in range(len(received))]


def _offered(
    model: ChainModel,
    shocks: Shocks,
    s: int,
    t: int,
    received_r: list[float],
    rstock: list[float],
    gap0_r: list[float],
    cover_r: list[float],
) -> list[float]:
    """Per region, the pooled release ``cover_r * gap0_r`` the second pass left uncovered:
    its target less what arrived and the consumers' stock."""
    left = []
    for r in range(len(model.regions)):
        demand = model.demand[r] * shocks.demand[s, t, r]
        rem = 0.0
        if gap0_r[r] > GAP_TOL * demand:
            target = demand - (1.0 - cover_r[r]) * gap0_r[r]
            rem = target - received_r[r] - max(rstock[r], 0.0)
            if rem <= GAP_TOL * demand:
                rem = 0.0
        left.append(rem)
    return left


def _offered_plants(
    model: ChainModel,
    left: list[float],
    gap0: list[list[float]],
    base_in: list[list[float]],
    reach: list,
    held: list[list[float]],
) -> list[list[float]]:
    """Each undisrupted plant's (no first-pass gap) share of the regions' uncovered release,
    in proportion to its stock reaching each region, up to that stock."""
    K, N = model.K, model.N
    undisrupted = [
        [k > 0 and gap0[k][c] <= GAP_TOL * base_in[k][c] for c in range(N)] for k in range(K)
    ]
    offered = [[0.0] * N for _ in range(K)]
    for r, rem in enumerate(left):
        if rem <= 0.0:
            continue
        h = sum(
            reach[k][c][r] * max(held[k][c], 0.0)
            for k in range(K)
            for c in range(N)
            if undisrupted[k][c]
        )
        if h <= 0.0:
            continue
        f = min(rem, h) / h
        for k in range(K):
            for c in range(N):
                if undisrupted[k][c]:
                    offered[k][c] += f * reach[k][c][r] * max(held[k][c], 0.0)
    return offered


def _notional(model: ChainModel, shocks: Shocks, s: int, t: int) -> list[float]:
    """The month's receipts by region with no stock and no supply response, by hand: each
    plant makes what its flow input allows, output ships along the allowed baseline flows."""
    K, N, R = model.K, model.N, len(model.regions)
    received = [0.0] * N
    arrived = [0.0] * R
    for k in range(K):
        last = k == K - 1
        flows = model.final if last else model.flows[k]
        allow = shocks.ship_final[s, t] if last else shocks.ship[s, t, k]
        D = R if last else N
        into = [0.0] * D
        for o in range(N):
            a = model.capacity[k][o] * shocks.avail[s, t, k, o]
            made = a if k == 0 else min(a, received[o])
            ratio = made / model.capacity[k][o] if model.capacity[k][o] > 0 else 0.0
            for d in range(D):
                into[d] += flows[o][d] * ratio * allow[o][d]
        if last:
            arrived = into
        else:
            received = into
    return arrived


def _release(
    received: float, demand: float, stock: float, policy: np.ndarray, row: int, months_max: float
) -> float:
    """The month's stock release: the gap at P0 up to the stock (myopic, ``row < 0``), or the
    competitive-storage policy ``policy[row]`` at the month's gap share and months of stock,
    interpolated linearly in each, bounded by the gap and the stock."""
    gap = max(demand - received, 0.0)
    myopic = min(gap, max(stock, 0.0))
    if row < 0 or myopic <= 0.0 or demand <= 0.0:
        return myopic
    table = policy[row]
    gaps = np.linspace(0.0, 1.0, table.shape[0])
    stocks = np.linspace(0.0, months_max, table.shape[1])
    g = min(gap / demand, 1.0)
    m = min(max(stock, 0.0) / demand, months_max)
    # along the stock axis at each gap row, then across the gap rows
    by_gap = [float(np.interp(m, stocks, table[i])) for i in range(table.shape[0])]
    share = float(np.interp(g, gaps, by_gap))
    return min(max(share * demand, 0.0), myopic)
