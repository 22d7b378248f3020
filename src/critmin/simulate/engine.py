"""Propagate shocks through a chain, month by month, for every scenario of a chunk at once.

Per month and stage (METHODS §3, DESIGN §3):
1. A node (stage k, country c) can produce capacity x availability. Stage 0 needs no input;
   later stages use what reached them from stage k-1, drawing on their input stock
   (``supplier_stock_days``) when short, by the pooled release of step 4 (the share of its own
   input gap its regions' pools release; the myopic draw of the gap up to the stock under
   ``stock_rule = "myopic"`` or a month with nothing expected); surplus input is stocked.
2. Output is shipped along the baseline flows, each scaled by the node's output ratio and by
   the shock's allowance (export controls, content rules, logistics). What may not leave
   stays unsold at the origin.
3. Rerouting (switchable): buyers seek every tonne they lost (blocked shipments and output
   that fell alike) from suppliers they may still buy from, in proportion to those suppliers'
   supply response: the share of capacity they add at last month's (demand-weighted) price
   under the supply elasticity, bounded by their spare capacity (critmin.economics.market),
   drawn from their input stock. The price they answer is the one the month's flow scarcity
   would set: what would reach the regions without any stock drawn (the plants' input stock
   included) and without their response at any stage, releases left out
   (:func:`critmin.simulate.kernel.notional_receipts`), so the response lasts as long as the
   disruption and is the same every month of a constant one, rather than collapsing the month
   after it worked.
4. Regions consume the last stage's shipments plus releases, draw commercial stock when short
   (the competitive-storage release of critmin.economics.storage, pooled: a first pass of the
   month's steps 1-3 without stock draws gives each holder's gap at P0 and each region's; the
   region's pool, its stock and the plants' input stock attributed to it by where their output
   can go this month, is released by a tabulated policy of the region's gap, the pool in
   months of its demand and the hazard that the disruption ends, ``Shocks.end_hazard``; each
   holder then covers that share of its own first-pass gap, a plant the mean of its regions'
   shares; a plant's response (step 3) uses only its flow and its released stock, and the
   part of a region's release the holders with a gap leave uncovered (the consumers' stock
   short) is offered, in a third pass, to the response of the plants without a gap of their
   own, in proportion to their stock reaching the region
   (:func:`critmin.simulate.kernel.offer_uncovered`);
   with ``stock_rule = "storage_path"`` solved along the gap path the active regimes declare,
   ``Shocks.gap_path``; with
   ``stock_rule = "myopic"`` the gap at the reference price, up to the stock left:
   critmin.economics.market.stock_draw); unmet demand is shortfall. The market clears each
   month on what it received, shipments + releases + stock drawn (one mechanism for a reserve
   release and a commercial draw): the price moves through the demand elasticity on that
   supply against demand, capped at a choke multiple; a regional restriction gives a regional
   premium. The suppliers' response does not answer this price but the stock-free one of
   step 3 (stocks that cover a gap leave this price at rest, not the response).
   A mineral with one world price (``ChainModel.world_market``: an exchange-traded metal,
   market_parameters ``world_market``) clears its regions jointly instead: arbitrage gives
   each region its demand share of the pooled shipments and releases, each draws its stock
   by the same rule against that share, what was received and drawn is consumed in
   proportion to demand, and one price clears the pooled supply against the pooled demand
   (critmin.simulate.kernel.clear_world); ``receipts`` are then what a region received after
   arbitrage, ``final`` the tonnes its lanes delivered. In a month when a region's own country
   (CHN, USA) restricts its exports at the last stage (a ban, or a licence regime's partial
   approval), that region takes no part in the arbitrage: it clears on its own receipts, the
   others pool among themselves (critmin.simulate.kernel.world_pool).
5. Loss: U.S. GDP lost at the month's U.S. shortfall share through the BEA input-output model
   (critmin.economics.io); welfare terms follow from the price path (critmin.economics.welfare).
Conservation holds by construction and is checked (:func:`check_balance`). The monthly step runs
as one compiled loop per scenario (:mod:`critmin.simulate.kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from critmin.economics.storage import (
    OPEN_REGIME_END_HAZARD,
    STOCK_RULES,
    path_release_table,
    release_table,
)
from critmin.schema.vocabulary import DAYS_PER_MONTH
from critmin.simulate.model import ChainModel
from critmin.simulate.shocks import Shocks

BALANCE_TOL = 1e-6


@dataclass
class Trace:
    """Monthly results, leading axis = scenario (C-ordered, scenario-major)."""

    output: np.ndarray  # (S, M, K, N) t produced
    exports: np.ndarray  # (S, M, K, N) t shipped out of the country (or its region, last stage)
    final: np.ndarray  # (S, M, N, R) t shipped to regions (incl. rerouted)
    receipts: np.ndarray  # (S, M, R) t received (shipments + releases; after arbitrage in a
    # world market)
    consumption: np.ndarray  # (S, M, R)
    shortfall: np.ndarray  # (S, M, R)
    price_ratio: np.ndarray  # (S, M, R)
    loss_usd: np.ndarray  # (S, M, R) U.S. GDP lost (U.S. column; 0 for other regions)
    node_balance: np.ndarray  # (S, M, K, N) in + stock draw - out - unsold (should be 0)
    region_balance: np.ndarray  # (S, M, R)


def run(model: ChainModel, shocks: Shocks, *, reroute: bool = True) -> Trace:
    """Simulate every scenario of ``shocks`` on ``model``.

    The monthly step is one compiled loop over scenarios and months
    (:func:`critmin.simulate.kernel.step_all`): it reads each scenario-month's shocks once and
    writes its trace once, holding a scenario's state in cache. What it skips, it skips
    exactly: the flows' sums are formed from what was lost (``1 - ratio`` of the nodes whose
    output fell, never a dense product), a shipment no event restricts this scenario-month is
    never multiplied by an allowance of 1, and a scenario whose suppliers do not answer (no
    supply response, or nothing lost) is not rerouted. Against the plain per-scenario
    reference (tests/simulate/reference.py) results agree to rounding (relative 1e-12,
    tests/simulate/test_engine.py).
    """
    from critmin.simulate.kernel import step_all  # noqa: PLC0415 (numba loads on first run)

    S, M = shocks.demand.shape[:2]
    K, N, R = model.K, model.N, len(model.regions)
    cap = np.ascontiguousarray(model.capacity, dtype=np.float64)
    # a node without capacity produces nothing: divide by 1 there, not by 0
    safe_cap = np.where(cap > 0, cap, 1.0)
    base_in = np.zeros((K, N))
    for k in range(1, K):
        base_in[k] = model.flows[k - 1].sum(axis=0)
    stock0 = np.ascontiguousarray(
        np.broadcast_to(
            base_in * model.node_stock_days / DAYS_PER_MONTH * model.input_stocked[None, :],
            (K, N),
        )
    )
    rstock0 = np.ascontiguousarray(
        np.broadcast_to(model.demand * model.region_stock_days / DAYS_PER_MONTH, (R,)),
        dtype=np.float64,
    )
    # by-products: the host-tied share of a node's output cannot answer the price
    # (critmin.economics.byproduct)
    untied = np.ones((K, N)) if model.host_tied is None else 1.0 - model.host_tied
    total = model.demand.sum()
    weights = model.demand / total if total > 0 else np.zeros(R)
    # per stage: the flows it ships along (N destinations between stages, R to regions),
    # their row and column sums, and each origin's flow to itself (domestic: not an export)
    D = max(N, R)
    flows = np.zeros((K, N, D))
    col_sum = np.zeros((K, D))
    home_col = np.zeros((K, N), dtype=np.int64)
    for k in range(K):
        f = model.flows[k] if k < K - 1 else model.final
        flows[k, :, : f.shape[1]] = f
        col_sum[k, : f.shape[1]] = f.sum(axis=0)
        home_col[k] = np.arange(N) if k < K - 1 else np.asarray(model.region_index)
    row_sum = flows.sum(axis=2)
    home_flow = np.take_along_axis(flows, home_col[:, :, None], axis=2)[:, :, 0]
    # the restricted lanes, stacked (an event touches a few origins)
    keys = sorted(shocks.lanes)
    lane_vals = np.ones((len(keys), S, M, D))
    for i, key in enumerate(keys):
        lane = shocks.lanes[key]
        lane_vals[i, :, :, : lane.shape[2]] = lane
    lane_stage = np.array([k for k, _ in keys], dtype=np.int64)
    lane_origin = np.array([o for _, o in keys], dtype=np.int64)
    # the region each node's country is (CHN, USA; -1 for every other): its export control at
    # the last stage takes its region out of a world market's arbitrage (kernel.world_pool)
    own_region = np.array(
        [model.regions.index(c) if c in model.regions else -1 for c in model.countries],
        dtype=np.int64,
    )
    trace = Trace(
        output=np.empty((S, M, K, N)),
        exports=np.empty((S, M, K, N)),
        final=np.empty((S, M, N, R)),
        receipts=np.empty((S, M, R)),
        consumption=np.empty((S, M, R)),
        shortfall=np.empty((S, M, R)),
        price_ratio=np.empty((S, M, R)),
        loss_usd=np.zeros((S, M, R)),
        node_balance=np.empty((S, M, K, N)),
        region_balance=np.empty((S, M, R)),
    )

    def c64(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    policy, policy_row, months_max = release_policy(model, shocks)

    step_all(
        cap,
        safe_cap,
        base_in,
        stock0,
        rstock0,
        np.ascontiguousarray(cap * untied),
        flows,
        row_sum,
        col_sum,
        home_col,
        home_flow,
        c64(model.demand),
        weights,
        total > 0,
        1.0 / model.elasticity,
        float(model.price_cap),
        float(model.supply_elasticity),
        float(model.spare),
        reroute,
        bool(model.world_market),
        own_region,
        c64(shocks.avail),
        c64(shocks.demand),
        c64(shocks.release),
        lane_stage,
        lane_origin,
        lane_vals,
        policy,
        policy_row,
        months_max,
        trace.output,
        trace.exports,
        trace.node_balance,
        trace.final,
        trace.receipts,
        trace.consumption,
        trace.shortfall,
        trace.price_ratio,
        trace.region_balance,
    )
    if model.exposure is not None:
        # element-wise, so only the scenario-months short are computed (each over the IO
        # model's industries); every other one takes the loss at no shortfall, the same bits
        us = model.regions.index("USA")
        base_us = model.demand[us]
        short = trace.shortfall[:, :, us] / (base_us if base_us > 0 else np.inf)
        hit = short > 0
        loss = np.full(short.shape, model.exposure.gdp_lost(np.zeros(1))[0])
        loss[hit] = model.exposure.gdp_lost(short[hit])
        trace.loss_usd[:, :, us] = loss
    return trace


def release_policy(model: ChainModel, shocks: Shocks) -> tuple[np.ndarray, np.ndarray, float]:
    """The stock release rule the kernel applies (critmin.economics.storage): the policy table
    (one row per distinct end hazard below 1 of the scenario-months and, under ``stock_rule =
    "storage_path"``, for a month whose gap holders expect to move along a declared approval
    path, ``Shocks.gap_path``, per distinct hazard and path), each scenario-month's row (-1:
    the myopic draw, for ``stock_rule = "myopic"``, a month with nothing expected (hazard 1),
    or no stock), and the table's largest stock in months of demand."""
    S, M = shocks.demand.shape[:2]
    rows = np.full((S, M), -1, dtype=np.int64)
    months_max = _months_max(model)
    hazard = shocks.end_hazard
    if model.stock_rule not in STOCK_RULES:
        raise ValueError(f"stock_rule must be one of {STOCK_RULES}, got {model.stock_rule!r}")
    if model.stock_rule == "myopic" or hazard is None or not _stocked(model):
        return np.zeros((1, 2, 2)), rows, months_max
    expected = hazard < 1.0
    if not expected.any():
        return np.zeros((1, 2, 2)), rows, months_max
    # rounded so that the table rows repeat across chunks (cached); a month without a path
    # (or whose path stays at its gap) reads the stationary policy of its hazard
    keys = np.round(hazard[expected], 9)[:, None]
    if model.stock_rule == "storage_path" and shocks.gap_path is not None:
        keys = np.concatenate([keys, np.round(shocks.gap_path[expected], 9)], axis=1)
    levels, index = np.unique(keys, axis=0, return_inverse=True)
    rows[expected] = index.reshape(-1)
    table = np.stack(
        [
            _path_row(float(k[0]), tuple(float(r) for r in k[1:]), *_market(model), months_max)
            for k in levels
        ]
    )
    return table, rows, months_max


def _market(model: ChainModel) -> tuple[float, float]:
    return float(model.elasticity), float(model.price_cap)


def _stocked(model: ChainModel) -> bool:
    """Whether any holder (a consuming region or a processing plant) starts with stock."""
    return model.region_stock_days > 0 or bool(np.any(np.asarray(model.node_stock_days) > 0))


def reach(model: ChainModel) -> np.ndarray:
    """(K, N, R): the share of each node's baseline output that reaches each region through
    the baseline flows (a row sums to 1 for a node that ships, 0 for one that does not): the
    largest pool the policy table must reach (the kernel attributes a plant's input stock to the
    regions the same way, along the lanes each month allows)."""
    K, N, R = model.K, model.N, len(model.regions)
    out = np.zeros((K, N, R))
    for k in range(K - 1, -1, -1):
        f = np.asarray(model.final if k == K - 1 else model.flows[k], dtype=np.float64)
        total = f.sum(axis=1)
        share = np.divide(f, total[:, None], out=np.zeros_like(f), where=total[:, None] > 0)
        out[k] = share if k == K - 1 else share @ out[k + 1]
    return out


def _months_max(model: ChainModel) -> float:
    """The policy table's largest stock, months of demand: twice the largest starting pool of
    a region (its stock and the plants' input stock attributed to it by :func:`reach`, over
    its demand) and a month (the stock may pass its starting level in a surplus; beyond this
    the policy is read at the grid's end, the release still bounded by the gap and the
    stock)."""
    demand = np.asarray(model.demand, dtype=np.float64)
    held = demand * float(model.region_stock_days)
    share = reach(model)
    days = np.broadcast_to(np.asarray(model.node_stock_days, dtype=float), (model.K, model.N))
    for k in range(1, model.K):
        base_in = np.asarray(model.flows[k - 1]).sum(axis=0)
        held = held + (base_in * days[k] * np.asarray(model.input_stocked)) @ share[k]
    cover = np.divide(held, demand, out=np.zeros_like(held), where=demand > 0) / DAYS_PER_MONTH
    return float(np.ceil(2.0 * float(cover.max(initial=0.0)) + 1.0))


@lru_cache(maxsize=1024)
def _row(hazard: float, elasticity: float, price_cap: float, months_max: float) -> np.ndarray:
    """One hazard's policy (gaps x stocks), solved once per process and parameter set."""
    out: np.ndarray = release_table(np.array([hazard]), elasticity, price_cap, months_max)[0]
    return out


@lru_cache(maxsize=4096)
def _path_row(
    hazard: float,
    ratios: tuple[float, ...],
    elasticity: float,
    price_cap: float,
    months_max: float,
) -> np.ndarray:
    """One hazard's policy along a declared gap path (``ratios``: next month's expected gap
    over this month's, and so on; the last for good), from that hazard's stationary policy;
    a path that stays at the month's gap (all ratios 1, or none) is the stationary policy."""
    stationary = _row(hazard, elasticity, price_cap, months_max)
    if all(r == 1.0 for r in ratios):
        return stationary
    return path_release_table(
        stationary, hazard, np.array(ratios), elasticity, price_cap, months_max
    )


def warm(model: ChainModel) -> None:
    """Load the compiled kernel into this process now (from numba's on-disk cache; the first
    run of an installation compiles it) by running one neutral draw-month of ``model``: the
    argument types every run passes. Processes forked afterwards (the local pool's) inherit
    it instead of each loading it again (about 0.4 s of CPU per process). Under the storage
    rule it also solves the open-regime release policy, the one most scenarios read."""
    run(model, Shocks.neutral(model, 1, 1))
    if model.stock_rule != "myopic" and _stocked(model):
        _row(OPEN_REGIME_END_HAZARD, model.elasticity, model.price_cap, _months_max(model))


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
