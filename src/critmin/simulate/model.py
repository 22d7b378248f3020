"""ChainModel: one mineral's chain as arrays the engine propagates shocks through.

Built once from the SupplyChain, in the chain's reference basis (tonnes of the first stage's
basis, e.g. t REO): every stage is assumed to pass the same content on (no losses), so a
stage's capacity is its country shares times the world total. Flows between stages, and from
the last stage to the consuming regions, follow bilateral trade: a prior from CEPII BACI
(exports by value of the HS codes mapped to the mineral and stage, 2021-2024) plus an equal
home-market weight, scaled to the stage's supply and the next stage's need by iterative
proportional fitting (RAS). Where BACI has no code for a stage the prior is the home weight
plus a pooled world market, and the model says so in ``assumptions``.

Small producers can be pooled (:func:`pool_model`, ``build_model(pool_below=...)``): at every
stage, the countries whose share of the stage's output is below the threshold are merged into
that stage's "other countries" node (``OTH``), after the flows are fitted, so the baseline
flows are the same sums; a country pooled at every stage leaves the model. The consuming
regions' own countries (CHN, USA), the U.S. recycling node and any country a scenario names
(``keep``) are never pooled. The simulation's default threshold is :data:`POOL_BELOW`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.data.build import BACI_PARTNER_MIN
from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset
from critmin.economics.byproduct import host_tied
from critmin.economics.io import Exposure
from critmin.economics.io import exposure as io_exposure
from critmin.economics.parameters import market_parameter
from critmin.economics.price import (
    ReferencePrice,
    base_year,
    chain_price,
    parents_of_dataset,
    reference_prices,
    year_at_base,
)
from critmin.economics.storage import DEFAULT_STOCK_RULE
from critmin.schema.vocabulary import (
    BACI_SOURCE,
    BEA_BRIDGE_SOURCE,
    BEA_SOURCE,
    MARKET_PARAMETER_NAMES,
    MONTHS_PER_YEAR,
    OTHER_COUNTRIES,
    REGIONS,
    USGS_SOURCE,
    WORLD_MARKET,
)
from critmin.simulate.hubs import hub_candidates, hub_origins, route_through_hubs
from critmin.simulate.intermediaries import (
    import_forms,
    import_source_shares,
    name_intermediaries,
    unnamed_sources,
)

TRADE_YEARS = (2021, 2024)
POOLED_WEIGHT = 1e-3
#: Default pooling threshold of a simulation (critmin.simulate.runner.RunConfig): countries
#: with less than 1% of a stage's output are merged into that stage's "other countries" node.
#: At this threshold headline results move less than the tolerance of
#: tests/simulate/test_pooling.py (docs/scaling.md).
POOL_BELOW = 0.01
#: Countries never pooled: the consuming regions' own countries (home-market flows and the
#: U.S. import routing rest on them).
NEVER_POOLED = frozenset({"CHN", "USA"})
#: The chain model's node through which the U.S. buys a stage before the last one (its
#: ``us_stage``): it takes the U.S. purchases of that stage's form from the stage's
#: producers, passes them on unchanged at every later stage (no capacity of its own to lose,
#: no input stock, no answer to the price) and delivers them to the U.S. region.
US_BUYER = "USA-buyer"


@per_dataset
def _reference_prices(ds: Dataset) -> dict[int | None, dict[str, ReferencePrice]]:
    """Reference prices by ``as_of`` (filled by reference_prices_of)."""
    return {}


def reference_prices_of(chain: SupplyChain) -> dict[str, ReferencePrice]:
    """The reference price of every mineral (one definition: critmin.economics.price), once
    per dataset and ``as_of``."""
    by_as_of = _reference_prices(chain.dataset)
    prices = by_as_of.get(chain.as_of)
    if prices is None:
        prices = by_as_of[chain.as_of] = reference_prices(
            chain.dataset["prices"], shock_years_of(chain)
        )
    return prices


def shock_years_of(chain: SupplyChain) -> dict[str, int]:
    """Per mineral, the year of the first library event naming it (SupplyChain.shock_years):
    the base year is the year before."""
    return chain.shock_years()


def region_of(country: str) -> str:
    """The consuming region a country belongs to (CHN, USA, or ROW for every other); the
    U.S. buyer and recycling nodes are the U.S.'s."""
    if country in (US_BUYER, SECONDARY_NODE):
        return "USA"
    return country if country in ("CHN", "USA") else "ROW"


def ras(prior: np.ndarray, rows: np.ndarray, cols: np.ndarray, iters: int = 5000) -> np.ndarray:
    """Scale ``prior`` so its row sums are ``rows`` and column sums ``cols`` (RAS / IPF)."""
    x = prior.astype(float).copy()
    for i in range(iters):
        r = x.sum(axis=1)
        x *= np.divide(rows, r, out=np.zeros_like(rows), where=r > 0)[:, None]
        c = x.sum(axis=0)
        x *= np.divide(cols, c, out=np.zeros_like(cols), where=c > 0)[None, :]
        if i % 10 == 9 and np.allclose(x.sum(axis=1), rows, rtol=1e-12, atol=1e-9):
            break
    return x


def delivered(final: np.ndarray) -> np.ndarray:
    """(R,) each region's demand, t per month: what the baseline flows deliver to it, the sum
    the engine forms (critmin.simulate.engine.run). The routing meets demand by construction
    (RAS fits the column sums) but only to a few ulps (3.6 eps at most on the bundled chains);
    a region delivered one ulp above a demand carried separately cleared at 1 - 8e-16 in every
    undisrupted month, a negative terms-of-trade transfer (about -1e-7 USD/yr, copper)."""
    out: np.ndarray = final.sum(axis=0)
    return out


def _ship_exactly(row: np.ndarray, target: float) -> None:
    """Make ``row.sum()`` equal ``target`` bit for bit (in place): the rounding left after
    scaling goes to the largest flow; what one ulp of it cannot reach (a step that jumps over
    the target) then goes one ulp at a time to the next largest, whose ulps are finer."""
    s = float(row.sum())
    if s == target:
        return
    big = int(np.argmax(row))
    row[big] += target - s
    for i in np.argsort(row)[::-1]:
        if row[i] <= 0:
            break
        went: bool | None = None
        for _ in range(64):
            s = float(row.sum())
            if s == target:
                return
            up = target > s
            if went is not None and up != went:
                break
            went = up
            row[i] = np.nextafter(row[i], np.inf if up else -np.inf)
    raise ArithmeticError(f"cannot make a row of flows sum to {target!r}")


def close_flows(flows: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capacity, flows, final): the baseline flows closed so that every plant ships what it
    receives, bit for bit, and the capacities are what each node ships. The fit meets one
    stage's column sums (a plant's input) to a few ulps but the next stage's row sums (its
    output) only to RAS's tolerance (relative 1e-12, absolute 1e-9 t/month: 4.8e-9 t a month
    at China's lithium cells plant); the engine's plant makes at most what it receives, so a
    region received a few ulps less than its demand every month: the consumers' stock filled
    the gap until an outage emptied it, and the months after recorded it as a shortfall
    priced at up to 1 + 1.7e-12 (9 chains). Going down the stages, each plant's row of
    outgoing flows is scaled to its incoming column sum (every stage passes the same content
    on, the model's assumption) and the rounding left goes to its largest flow
    (:func:`_ship_exactly`); the last stage's column sums are then the regions' demand
    (:func:`delivered`). A plant that receives nothing or ships nothing keeps its row (none
    on the bundled chains)."""
    flows = flows.copy()
    final = final.copy()
    K = flows.shape[0] + 1
    for k in range(1, K):
        out = flows[k] if k < K - 1 else final
        inflow = flows[k - 1].sum(axis=0)
        ships = out.sum(axis=1)
        for n in np.flatnonzero((inflow > 0) & (ships > 0) & (inflow != ships)):
            out[n] *= inflow[n] / ships[n]
            _ship_exactly(out[n], float(inflow[n]))
    cap = np.zeros((K, final.shape[0]))
    for k in range(K - 1):
        cap[k] = flows[k].sum(axis=1)
    cap[-1] = final.sum(axis=1)
    return cap, flows, final


@dataclass(frozen=True)
class ChainModel:
    """Arrays for one mineral: K stages, N countries (union of producers), R regions."""

    mineral: str
    stages: tuple[str, ...]
    countries: tuple[str, ...]
    capacity: np.ndarray  # (K, N) t per month at baseline
    flows: np.ndarray  # (K-1, N, N) t per month from stage k producers to stage k+1
    final: np.ndarray  # (N, R) t per month from last-stage producers to regions
    demand: np.ndarray  # (R,) t per month
    content: np.ndarray  # (K, N, N): share of c's stage-k output originating in mine country o
    #: supplier_stock_days: input stock of each processing-stage node, days; one figure for
    #: every plant, or an array that broadcasts to (K, N) (per stage: a diagnosis, the data
    #: carry one figure)
    node_stock_days: float | np.ndarray
    region_stock_days: float  # commercial_stock_days: consumer stock of each consuming region
    elasticity: float
    spare: float
    price_cap: float
    price_usd_t: float  # reference price (critmin.economics.price), chain basis
    unit: str
    world_t_per_year: float
    regions: tuple[str, ...] = REGIONS
    sectors: tuple[str, ...] = ("all",)
    sector_share: np.ndarray = field(default_factory=lambda: np.ones((len(REGIONS), 1)))
    assumptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    region_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    supply_elasticity: float = 0.0
    exposure: Exposure | None = None  # U.S. industries fed and their GDP at risk
    us_domestic_share: float = 0.0  # share of U.S. demand met by U.S. producers at baseline
    #: (K, N) share of each node's output tied to a host's output (by-products); None = none
    host_tied: np.ndarray | None = None
    #: USGS import sources named out of OTH (critmin.simulate.intermediaries): never pooled
    #: back into it, or pooling would undo the U.S. routing they carry
    named: tuple[str, ...] = ()
    #: re-export hubs (critmin.simulate.hubs): (hub, origin, share of the hub's throughput
    #: from the origin's last-stage plants); the hub inherits the origin's last-stage
    #: outages and export controls in that share (critmin.simulate.shocks)
    hub_feed: tuple[tuple[str, str, float], ...] = ()
    #: the mineral's base year (SupplyChain.base_year) and, per stage, the year its world
    #: production was read in (SupplyChain.production_years); 0 / () = not recorded
    base_year: int = 0
    production_years: tuple[int, ...] = ()
    #: how consuming regions release commercial stock in a shortage (critmin.economics.storage:
    #: ``myopic``, ``storage``, the competitive-storage policy, or ``storage_path``, that
    #: policy along the approval paths the scenario declares)
    stock_rule: str = DEFAULT_STOCK_RULE
    #: the stage whose output the U.S. region buys (data-src/manual/us_demand_stages.csv;
    #: "" = the last stage). Before the last stage the U.S. purchases go to the node
    #: :data:`US_BUYER`, which passes them on unchanged through the later stages
    us_stage: str = ""
    #: one world price (market_parameters ``world_market`` = 1, an exchange-traded metal):
    #: engine step 4 clears the consuming regions jointly (critmin.simulate.kernel); False:
    #: each region clears on what it receives
    world_market: bool = False

    @property
    def us_stage_index(self) -> int:
        """Index of the stage whose output the U.S. region buys."""
        return self.stages.index(self.us_stage) if self.us_stage else self.K - 1

    @property
    def input_stocked(self) -> np.ndarray:
        """(N,) 1 for a node that holds input stock (supplier_stock_days), 0 for the U.S.
        buyer node: it is no plant, and the U.S. consumers' stock is the region's
        (commercial_stock_days)."""
        return np.array([0.0 if c == US_BUYER else 1.0 for c in self.countries])

    @property
    def loss_per_t(self) -> float:
        """U.S. GDP lost per tonne short (USD), at a 50% shortfall: the linear loss the reserve
        model prices shortfall at (0 without a price or a bridge to the BEA tables)."""
        if self.exposure is None or not np.isfinite(self.price_usd_t):
            return 0.0
        return self.price_usd_t * self.exposure.leverage(0.5)

    @property
    def K(self) -> int:
        return len(self.stages)

    @property
    def N(self) -> int:
        return len(self.countries)

    def country_index(self, iso3: str) -> int | None:
        return self.countries.index(iso3) if iso3 in self.countries else None


def _price(chain: SupplyChain, mineral: str) -> tuple[float, str]:
    """The mineral's reference price in its chain's basis (critmin.economics.price.chain_price:
    the USGS reference price x its ``price_to_basis_factor``) and the reference price's note."""
    ref = reference_prices_of(chain).get(mineral)
    price = chain_price(ref, chain.dataset["market_parameters"], mineral)
    return price, "no USGS price" if ref is None else ref.note


@per_dataset
def trade_by_stage(ds: Dataset) -> dict[tuple[str, str], pd.DataFrame]:
    """BACI rows of the trade years, split by (mineral, stage) once per dataset."""
    trade = ds["trade"]
    trade = trade[trade["year"].between(*TRADE_YEARS)]
    return {
        (str(m), str(st)): g for (m, st), g in trade.groupby(["mineral", "stage"], observed=True)
    }


def _trade_prior(
    chain: SupplyChain, mineral: str, stage: str, origins: list[str], dests: list[str]
) -> np.ndarray | None:
    rows = trade_by_stage(chain.dataset).get((mineral, stage))
    if rows is None:
        return None
    if rows.empty:
        return None
    value = rows.groupby(["exporter", "importer"], as_index=False).agg(v=("value_kusd", "sum"))
    prior = np.zeros((len(origins), len(dests)))
    oi = {c: i for i, c in enumerate(origins)}
    di = {c: i for i, c in enumerate(dests)}
    for exp, imp, v in zip(value["exporter"], value["importer"], value["v"], strict=True):
        # an exporter that is not a producer at this stage trades for the rest of the world
        o = oi.get(str(exp), oi.get(OTHER_COUNTRIES))
        d = di.get(str(imp), di.get(region_of(str(imp))))
        if o is not None and d is not None:
            prior[o, d] += float(v)
    tot = prior.sum(axis=1, keepdims=True)
    out: np.ndarray = np.divide(prior, tot, out=np.zeros_like(prior), where=tot > 0)
    return out


def _route(
    supply: np.ndarray,
    need: np.ndarray,
    prior: np.ndarray | None,
    home: np.ndarray,
) -> np.ndarray:
    """Baseline flows: normalised trade prior + equal home weight + a small pooled market."""
    base = home.astype(float)
    if prior is not None:
        base = base + prior
    pooled = np.outer(supply > 0, need > 0) * POOLED_WEIGHT
    return ras(base + pooled, supply, need)


def build_model(
    chain: SupplyChain,
    mineral: str,
    stages: list[str] | None = None,
    *,
    pool_below: float = 0.0,
    keep: Collection[str] = (),
) -> ChainModel:
    """The chain of ``mineral`` over its stages with data (base-year production per stage:
    SupplyChain.production_years); with ``pool_below`` > 0 its small producers are pooled
    (:func:`pool_model`)."""
    model = _build_model(chain, mineral, stages)
    return pool_model(model, pool_below, keep) if pool_below > 0 else model


def traced_content(
    flows: np.ndarray,
    stages: int,
    nodes: int,
    fed: Sequence[tuple[int, int, float]] = (),
) -> np.ndarray:
    """(stage, node, origin) each node's input by mine-stage origin, traced through the
    baseline flows; mine-stage countries are their own origin, except a node ``fed`` at the
    first stage by others ((node, origin, share): a re-export hub of a one-stage chain,
    critmin.simulate.hubs), whose origin is theirs."""
    content = np.zeros((stages, nodes, nodes))
    content[0] = np.eye(nodes)
    if stages > 0:
        for h in {h for h, _, _ in fed}:
            content[0, h] = 0.0
        for h, o, share in fed:
            content[0, h, o] += share
    for k in range(1, stages):
        inflow = flows[k - 1]
        tot = inflow.sum(axis=0)
        share_in = np.divide(inflow, tot[None, :], out=np.zeros_like(inflow), where=tot > 0)
        content[k] = share_in.T @ content[k - 1]
    return content


def _first_stage_feed(
    model: ChainModel, index_of: Callable[[str], int]
) -> list[tuple[int, int, float]]:
    """A one-stage chain's hub feed by node index (``index_of`` maps a country to its node)."""
    if model.K != 1:
        return []
    return [(index_of(h), index_of(o), v) for h, o, v in model.hub_feed]


def pool_model(model: ChainModel, below: float, keep: Collection[str] = ()) -> ChainModel:
    """``model`` with, at every stage, the countries below ``below`` of the stage's output
    (not in ``keep``, :data:`NEVER_POOLED`, the named import sources, a country feeding at
    least ``below`` of a re-export hub's imports, whose outages the hub inherits, the U.S.
    buyer node and the suppliers it buys from, or the recycling node)
    merged into the stage's "other countries" node: capacities and flows are summed
    (baseline flows keep their totals), traced content is recomputed from the pooled flows,
    and a country pooled at every stage leaves the country axis."""
    K, N = model.K, model.N
    names = list(model.countries)
    origins = {origin for _, origin, weight in model.hub_feed if weight >= below}
    # the U.S. buyer and the suppliers it buys from (USGS import sources at its stage)
    buyers = set()
    if US_BUYER in names:
        fed = model.flows[model.us_stage_index][:, names.index(US_BUYER)]
        buyers = {US_BUYER, *(names[n] for n in np.flatnonzero(fed > 0))}
    fixed = {
        *NEVER_POOLED,
        *keep,
        *model.named,
        *origins,
        *buyers,
        SECONDARY_NODE,
        OTHER_COUNTRIES,
    }
    total = model.capacity.sum(axis=1, keepdims=True)
    share = np.divide(model.capacity, total, out=np.zeros_like(model.capacity), where=total > 0)
    movable = np.array([c not in fixed for c in names])
    small = (share > 0) & (share < below) & movable[None, :]  # (K, N)
    if not small.any():
        return model
    # the new axis: every country that keeps output somewhere, plus OTH
    stays = sorted(
        {c for n, c in enumerate(names) if ((model.capacity[:, n] > 0) & ~small[:, n]).any()}
        | {OTHER_COUNTRIES}
    )
    if SECONDARY_NODE in stays:  # the recycling node stays last (critmin.simulate.model)
        stays = [c for c in stays if c != SECONDARY_NODE] + [SECONDARY_NODE]
    index = {c: i for i, c in enumerate(stays)}
    oth = index[OTHER_COUNTRIES]
    # per stage, where each old node goes
    to = np.array(
        [[oth if small[k, n] else index.get(names[n], oth) for n in range(N)] for k in range(K)]
    )
    M = len(stays)
    summed = np.zeros((K, M))
    for k in range(K):
        np.add.at(summed[k], to[k], model.capacity[k])
    flows = np.zeros((max(K - 1, 0), M, M))
    for k in range(K - 1):
        np.add.at(flows[k], (to[k][:, None], to[k + 1][None, :]), model.flows[k])
    final = np.zeros((M, len(model.regions)))
    np.add.at(final, to[K - 1], model.final)
    # the sums of pooled flows round apart again: close them (a plant ships what it receives)
    cap, flows, final = close_flows(flows, final)
    tied = None
    if model.host_tied is not None:  # the pooled node's tied share, weighted by capacity
        tied_t = np.zeros((K, M))
        for k in range(K):
            np.add.at(tied_t[k], to[k], model.host_tied[k] * model.capacity[k])
        tied = np.divide(tied_t, summed, out=np.zeros_like(summed), where=summed > 0)
    content = traced_content(flows, K, M, _first_stage_feed(model, lambda c: index.get(c, oth)))
    region = np.array(
        [
            REGIONS.index("USA") if c == SECONDARY_NODE else REGIONS.index(region_of(c))
            for c in stays
        ]
    )
    pooled = "; ".join(
        f"{model.stages[k]}: {', '.join(names[n] for n in np.flatnonzero(small[k]))}"
        for k in range(K)
        if small[k].any()
    )
    note = (
        f"countries below {below:.1%} of a stage's output pooled into {OTHER_COUNTRIES} "
        f"(assumption; results move within the tolerance of tests/simulate/test_pooling.py): "
        f"{pooled}"
    )
    return replace(
        model,
        countries=tuple(stays),
        capacity=cap,
        flows=flows,
        final=final,
        demand=delivered(final),
        content=content,
        region_index=region,
        host_tied=tied,
        assumptions=(*model.assumptions, note),
    )


def _build_model(chain: SupplyChain, mineral: str, stages: list[str] | None = None) -> ChainModel:
    """The chain of ``mineral`` over its stages with data (base-year production per stage)."""
    if mineral not in chain.production.mineral.values:
        raise KeyError(f"no production data for {mineral}")
    shares = chain.base_shares([mineral]).sel(mineral=mineral)
    year_of = {str(s): int(y) for s, y in zip(shares.stage.values, shares.year.values, strict=True)}
    have = [str(s) for s in shares.stage.values if bool(shares.sel(stage=s).notnull().any())]
    use = [s for s in (stages or have) if s in have]
    if not use:
        raise KeyError(f"no production data for {mineral}")
    assumptions: list[str] = [_years_note(chain.base_year(mineral), use, year_of)]
    sources: set[str] = set()

    # reference world total: the first stage reported in tonnes, base year
    world, unit = float("nan"), "t"
    read = chain.model_production()  # the U.S. tables' source where it reports
    prod = read.production.sel(mineral=mineral)
    for s in use:
        year = year_of[s]
        u = str(read.unit.sel(mineral=mineral, stage=s, year=year).item())
        if u == "t":
            world = float(prod.sel(stage=s, year=year).sum())
            basis = str(read.basis.sel(mineral=mineral, stage=s, year=year).item())
            unit = f"t ({basis})"
            sources.add(str(read.source.sel(mineral=mineral, stage=s, year=year).item()))
            break
    if not np.isfinite(world) or world <= 0:
        world, unit = 1.0, "index (world output = 1 per year)"
        assumptions.append("no stage in tonnes: quantities are an index, world output = 1/yr")

    positive = (shares.sel(stage=use) > 0).any("stage")
    countries = sorted(str(c) for c in shares.country.values[positive.values])
    K, N, R = len(use), len(countries), len(REGIONS)
    cap = np.zeros((K, N))
    for k, s in enumerate(use):
        col = shares.sel(stage=s).to_series().reindex(countries).fillna(0.0).to_numpy()
        cap[k] = col * world / MONTHS_PER_YEAR
        year = year_of[s]
        sources.add(str(read.source.sel(mineral=mineral, stage=s, year=year).item()))
    if K > 1:
        assumptions.append("every stage passes the same content on (no yield losses)")

    # demand by region
    ds = chain.dataset
    d_usa, note_usa = _us_share(chain, mineral, world)
    dem = ds["demand_shares"]
    row = dem[(dem["mineral"] == mineral) & (dem["region"] == "CHN")]
    if len(row):
        d_chn = float(row.iloc[0]["share"])
        sources.add(str(row.iloc[0]["source_id"]))
    else:
        d_chn = (
            float(cap[-1][countries.index("CHN")] / cap[-1].sum()) if "CHN" in countries else 0.0
        )
        assumptions.append(
            "China's consumption share unknown: taken as its share of the last stage's output"
        )
    if note_usa:
        assumptions.append(note_usa)
    if d_usa + d_chn > 1.0:
        # U.S. demand is data (USGS); China's share is the one to give way
        assumptions.append(
            f"China's consumption share cut from {d_chn:.3f} to {max(0.0, 1.0 - d_usa):.3f} so "
            "that the U.S. demand USGS reports fits in world output"
        )
        d_chn = max(0.0, 1.0 - d_usa)
    shares_r = np.array([d_chn, d_usa, max(0.0, 1.0 - d_chn - d_usa)])
    demand = shares_r * world / MONTHS_PER_YEAR
    # recycled U.S. supply displaces U.S. purchases of primary output (critmin.simulate.model.
    # add_secondary); the rest of the world, the residual region, takes the primary it frees
    secondary = secondary_supply(chain, mineral, float(demand[REGIONS.index("USA")]))
    demand[REGIONS.index("USA")] -= secondary
    demand[REGIONS.index("ROW")] += secondary

    # the stage whose form U.S. demand buys (data-src/manual/us_demand_stages.csv); before
    # the last one, through the U.S. buyer node (US_BUYER), which later stages' producers make
    # room for: each passes on the same content, so they make U.S. demand less
    j, stage_note, stage_source = us_stage_of(chain, mineral, use)
    buyer = j < K - 1
    us = REGIONS.index("USA")
    if stage_note:
        assumptions.append(stage_note)
    if stage_source:
        sources.add(stage_source)
    if buyer:
        d_us = float(demand[us])
        countries = [*countries, US_BUYER]
        N += 1
        cap = np.concatenate([cap, np.zeros((K, 1))], axis=1)
        for k in range(j + 1, K):
            made = float(cap[k, :-1].sum())
            cap[k, :-1] *= max(made - d_us, 0.0) / made if made > 0 else 0.0
            cap[k, -1] = d_us
    idx_region = np.array([REGIONS.index(region_of(c)) for c in countries])
    flows = np.zeros((max(K - 1, 0), N, N))
    for k in range(K - 1):
        # at the U.S. stage, the trade to the U.S. is the buyer's
        dests = [*countries[:-1], "USA"] if buyer and k == j else countries
        prior = _trade_prior(chain, mineral, use[k], countries, dests)
        if prior is None:
            assumptions.append(f"no BACI code for {use[k]}: home market plus pooled world market")
        else:
            sources.add(BACI_SOURCE)
        if buyer and k > j:
            # the buyer passes its purchases on; the other producers trade as before
            flows[k, :-1, :-1] = _route(
                cap[k, :-1],
                cap[k + 1, :-1],
                None if prior is None else prior[:-1, :-1],
                np.eye(N - 1),
            )
            flows[k, -1, -1] = cap[k, -1]
        else:
            flows[k] = _route(cap[k], cap[k + 1], prior, np.eye(N))
    prior_f = _trade_prior(chain, mineral, use[-1], countries, list(REGIONS))
    if prior_f is None:
        assumptions.append(f"no BACI code for {use[-1]}: home region plus pooled world market")
    else:
        sources.add(BACI_SOURCE)
    home_f = np.zeros((N, R))
    home_f[np.arange(N), idx_region] = 1.0
    if buyer:
        need = demand.copy()
        need[us] = 0.0
        final = np.zeros((N, R))
        final[:-1] = _route(
            cap[-1, :-1], need, None if prior_f is None else prior_f[:-1], home_f[:-1]
        )
        final[-1, us] = cap[-1, -1]
    else:
        final = _route(cap[-1], demand, prior_f, home_f)
    hubs = {} if buyer else _reexport_hubs(chain, mineral, countries, use, cap[-1])
    us_sources, via = _us_import_shares(chain, mineral, countries, use[j], hubs, cap[j])
    named_nodes: tuple[str, ...] = ()
    hub_feed: tuple[tuple[str, str, float], ...] = ()
    if us_sources is not None and buyer:
        at = chain.us_nir_base([mineral])
        nir = None if at.net_exporter[0] or np.isnan(at[0]) else float(np.clip(at[0], 0.0, 1.0))
        flows[j] = _route_us_imports(
            flows[j], cap[j], cap[j + 1], us_sources, countries, nir, us_col=N - 1
        )
        sources.add(USGS_SOURCE)
        assumptions.append(
            f"U.S. imports routed by the USGS import-source shares (2021-24) at the {use[j]} "
            "stage, where U.S. demand buys"
        )
        idle = [c for c, v in zip(countries, flows[j].sum(axis=1), strict=True) if v <= 0]
        countries, flows, idx_region, named = _name_at_us_stage(
            chain, mineral, countries, flows, idx_region, j, use[j], demand[us]
        )
        assumptions += named
        # the new nodes, and the nodes of earlier stages named at this one
        now = flows[j].sum(axis=1)
        named_nodes = tuple(c for c in idle if now[countries.index(c)] > 0) + tuple(countries[N:])
        if named:
            N = len(countries)
            cap = np.concatenate([cap, np.zeros((K, N - cap.shape[1]))], axis=1)
            final = np.concatenate([final, np.zeros((N - final.shape[0], R))], axis=0)
    elif us_sources is not None:
        at = chain.us_nir_base([mineral])
        # a net exporter's gross imports are not in a net figure: its routing stays the prior's
        nir = None if at.net_exporter[0] or np.isnan(at[0]) else float(np.clip(at[0], 0.0, 1.0))
        final = _route_us_imports(final, cap[-1], demand, us_sources, countries, nir)
        sources.add(USGS_SOURCE)
        assumptions.append("U.S. imports routed by the USGS import-source shares (2021-24)")
        us_col = REGIONS.index("USA")
        before = len(countries)
        countries, flows, final, idx_region, hub_notes, hub_feed = route_through_hubs(
            countries,
            flows,
            final,
            idx_region,
            via,
            us_sources,
            hubs,
            us_col,
            lambda c: REGIONS.index(region_of(c)),
        )
        if hub_notes:
            sources.add(BACI_SOURCE)
            assumptions += hub_notes
            named_nodes = tuple(via)
            N = len(countries)
            cap = np.concatenate([cap, np.zeros((K, N - before))], axis=1)
        home_us = final[countries.index("USA"), us_col] if "USA" in countries else 0.0
        unnamed = unnamed_sources(
            ds["import_sources"],
            mineral,
            countries,
            max(demand[us_col] - home_us, 0.0),
            base_year(mineral, shock_years_of(chain)),
            use[-1],
            import_forms(ds),
            [c for c, v in zip(countries, final.sum(axis=1), strict=True) if v > 0],
        )
        before = len(countries)
        idle = [c for c, v in zip(countries, final.sum(axis=1), strict=True) if v <= 0]
        countries, flows, final, idx_region, named = name_intermediaries(
            countries,
            flows,
            final,
            idx_region,
            unnamed,
            us_col,
            lambda c: REGIONS.index(region_of(c)),
        )
        assumptions += named
        # the new nodes, and the nodes of earlier stages named at the last one
        named_nodes += tuple(c for c in idle if final[countries.index(c)].sum() > 0)
        named_nodes += tuple(countries[before:])
        if named:
            K, N = cap.shape[0], len(countries)
            cap = np.concatenate([cap, np.zeros((K, N - cap.shape[1]))], axis=1)
    us_in = flows[j][:, countries.index(US_BUYER)] if buyer else final[:, us]
    us_home = (
        float(us_in[countries.index("USA")] / demand[us])
        if "USA" in countries and demand[us] > 0
        else 0.0
    )
    # what leaves a node is what the baseline ships, and a plant ships what it receives:
    # capacities from the flows, closed exactly (close_flows)
    cap, flows, final = close_flows(flows, final)

    # traced origin content: mine-stage countries are their own origin
    feed_at_0: list[tuple[int, int, float]] = []
    if K == 1 and hub_feed:
        # a one-stage chain's hubs make nothing: they ship their origins' output (their
        # content) and cannot answer the price from capacity of their own
        feed_at_0 = [(countries.index(h), countries.index(o), v) for h, o, v in hub_feed]
    content = traced_content(flows, K, N, feed_at_0)

    params = ds["market_parameters"]
    values: dict[str, float] = {}
    for name in MARKET_PARAMETER_NAMES:
        p = market_parameter(params, mineral, name)
        values[name] = p.value
        sources.add(p.source_id)
        if p.assumption:
            assumptions.append(f"{name} = {p.value:g} (critmin default)")
    market = market_parameter(params, mineral, WORLD_MARKET)
    if market.value == 1.0:
        sources.add(market.source_id)
        assumptions.append(
            "one world price (world_market): the consuming regions clear jointly, the "
            "shortfall shared in proportion to demand"
        )
    sectors, sector_share, sector_notes, sector_sources = _sectors(chain, mineral)
    assumptions += sector_notes
    sources |= sector_sources
    # in the chain's basis: x its price_to_basis_factor (read above with its source)
    price, price_note = _price(chain, mineral)
    exposure = None
    if not np.isfinite(price):
        assumptions.append("no USGS price: losses in dollars are not computed")
    else:
        sources.add(USGS_SOURCE)
        assumptions.append(f"reference price: {price_note}")
        us_t_year = float(demand[REGIONS.index("USA")] + secondary) * MONTHS_PER_YEAR
        exposure = io_exposure(
            ds,
            mineral,
            parents_of_dataset(ds),
            value_usd=us_t_year * price,
            substitution=values["substitution_elasticity"],
        )
        if exposure is None:
            assumptions.append("no bridge to the BEA tables or no U.S. demand: no GDP figure")
        else:
            sources |= {BEA_SOURCE, BEA_BRIDGE_SOURCE}
    if secondary > 0:
        countries, cap, flows, final, content, idx_region, demand = add_secondary(
            countries, cap, flows, final, content, idx_region, demand, secondary
        )
        us_home *= (demand[us] - secondary) / demand[us]
        assumptions.append(
            f"U.S. recycled supply {secondary * MONTHS_PER_YEAR:,.0f} t/yr enters as the domestic "
            f"node {SECONDARY_NODE} (own feed, no foreign input) and displaces U.S. purchases "
            "of primary output one for one"
        )
        if chain.secondary is not None:
            sources |= {str(x) for x in chain.secondary.attrs.get("sources", ())}
    tied, tied_notes, tied_sources = host_tied(chain, mineral, use, countries)
    assumptions += tied_notes
    sources |= tied_sources
    if feed_at_0:
        tied = np.zeros((K, len(countries))) if tied is None else tied
        for h in {h for h, _, _ in feed_at_0}:
            tied[0, h] = 1.0
    return ChainModel(
        mineral=mineral,
        stages=tuple(use),
        countries=tuple(countries),
        capacity=cap,
        flows=flows,
        final=final,
        demand=delivered(final),
        content=content,
        node_stock_days=values["supplier_stock_days"],
        region_stock_days=values["commercial_stock_days"],
        elasticity=values["price_elasticity_demand"],
        spare=values["spare_capacity"],
        price_cap=values["price_cap_ratio"],
        price_usd_t=price,
        supply_elasticity=values["supply_elasticity"],
        exposure=exposure,
        us_domestic_share=us_home,
        unit=unit,
        world_t_per_year=world,
        assumptions=tuple(assumptions),
        sources=tuple(sorted(sources)),
        region_index=idx_region,
        sectors=sectors,
        sector_share=sector_share,
        host_tied=tied,
        named=named_nodes,
        hub_feed=hub_feed,
        base_year=chain.base_year(mineral),
        production_years=tuple(year_of[s] for s in use),
        us_stage=use[j],
        world_market=market.value == 1.0,
    )


def _years_note(base: int, stages: list[str], year_of: dict[str, int]) -> str:
    """The note naming the year the model's inputs are read in."""
    off = [
        f"{s} {year_of[s]} ("
        + ("latest year with data before it" if year_of[s] < base else "no data up to it")
        + ")"
        for s in stages
        if year_of[s] != base
    ]
    return (
        f"base year {base} (critmin.chain.SupplyChain.base_year): world production by stage "
        "and country, U.S. demand, net import reliance, import sources and price are read in it"
        + (f"; production of {'; '.join(off)}" if off else "")
    )


#: The chain model's node for U.S. secondary (recycled) supply.
SECONDARY_NODE = "USA-recycled"


def secondary_supply(chain: SupplyChain, mineral: str, us_demand: float) -> float:
    """U.S. recycled supply of ``mineral`` in t per month (``chain.secondary``, t/yr), at most
    the U.S. demand ``us_demand`` (t per month): recycling cannot displace more than the U.S.
    buys. 0 without a secondary supply attached."""
    sec = chain.secondary
    if sec is None or mineral not in sec.mineral.values:
        return 0.0
    value = float(sec.sel(mineral=mineral))
    if not np.isfinite(value) or value <= 0:
        return 0.0
    return min(value / MONTHS_PER_YEAR, us_demand)


def add_secondary(
    countries: list[str],
    cap: np.ndarray,
    flows: np.ndarray,
    final: np.ndarray,
    content: np.ndarray,
    idx_region: np.ndarray,
    demand: np.ndarray,
    secondary: float,
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append the U.S. secondary-supply node: ``secondary`` t/month of collected end-of-life
    material at the first stage (the engine's stage without input), passed through its own
    column at every later stage (recycled material is processed in the U.S. and needs no
    foreign input), delivered to the U.S. region. It is its own origin of content. The U.S.
    demand grows back by ``secondary``, which primary routing had left to it."""
    K, N = cap.shape
    us = REGIONS.index("USA")
    cap = np.concatenate([cap, np.full((K, 1), secondary)], axis=1)
    grown = np.zeros((flows.shape[0], N + 1, N + 1))
    grown[:, :N, :N] = flows
    grown[:, N, N] = secondary
    out_final = np.concatenate([final, np.zeros((1, final.shape[1]))], axis=0)
    out_final[N, us] = secondary
    out_content = np.zeros((K, N + 1, N + 1))
    out_content[:, :N, :N] = content
    out_content[:, N, N] = 1.0
    demand = demand.copy()
    demand[us] += secondary
    return (
        [*countries, SECONDARY_NODE],
        cap,
        grown,
        out_final,
        out_content,
        np.append(idx_region, us),
        demand,
    )


def _sectors(
    chain: SupplyChain, mineral: str
) -> tuple[tuple[str, ...], np.ndarray, list[str], set[str]]:
    """End-use shares per region: the region's own (USA), else world (WLD), else U.S. shares;
    with none at all, one sector 'all'. Shortfall is split over sectors in these shares."""
    uses = chain.dataset["end_uses"]
    rows = uses[uses["mineral"] == mineral]
    if rows.empty:
        return (
            ("all",),
            np.ones((len(REGIONS), 1)),
            ["no end-use shares: shortfall is not split by sector"],
            set(),
        )
    latest = rows.sort_values("year").groupby("region").tail(10_000)
    by_region = {str(r): g.groupby("sector")["share"].sum() for r, g in latest.groupby("region")}
    sectors = tuple(sorted({str(s) for g in by_region.values() for s in g.index}))
    share = np.zeros((len(REGIONS), len(sectors)))
    notes: list[str] = []
    for i, region in enumerate(REGIONS):
        pick = by_region.get(region) if region == "USA" else by_region.get("WLD")
        if pick is None:
            fallback = "WLD" if "WLD" in by_region else "USA"
            pick = by_region[fallback]
            notes.append(f"{region} end-use shares taken from {fallback}")
        col = pick.reindex(sectors).fillna(0.0).to_numpy()
        share[i] = col / col.sum() if col.sum() > 0 else 1.0 / len(sectors)
    return sectors, share, notes, {str(s) for s in rows["source_id"]}


def us_demand_t(chain: SupplyChain, mineral: str) -> tuple[float | None, str]:
    """U.S. demand (t/yr) as USGS reports it, with a note: apparent consumption in the
    mineral's pre-shock base year (the price's: critmin.economics.price), else production +
    imports - exports there (flagged); None without either.

    Not the latest year: the MCS 2026 figures for 2025 are estimates, and for minerals under a
    2025 control or tariff they carry the stock-building of the shock itself (rare earths
    27,000 t REO in 2025e against 9,010 t in 2024; imports of compounds 21,000 against 8,120 t).
    """
    want = base_year(mineral, shock_years_of(chain))
    rows = chain.us_consumption(mineral)
    if rows.empty:
        derived = _net_supply(chain.dataset["us_supply"], mineral, want)
        if derived is None:
            return None, ""
        return derived, (
            "USGS withholds U.S. consumption: demand = production + imports - exports (flagged)"
        )
    year = year_at_base({int(y) for y in rows["year"]}, want)
    at = rows[rows["year"] == year]
    apparent = at[at["detail"].str.contains("pparent")]
    pick = apparent if len(apparent) else at
    note = "" if year == want else f"U.S. consumption of {year} (base year {want} not reported)"
    return float(pick["value"].max()), note


def us_stage_of(chain: SupplyChain, mineral: str, stages: Sequence[str]) -> tuple[int, str, str]:
    """The index in ``stages`` (the model's, with data) of the stage whose form U.S. demand
    buys: the row of ``us_demand_stages`` (data-src/manual/us_demand_stages.csv: the form USGS's
    U.S. consumption and import sources count), else the last stage; with a note and the
    row's source. A declared stage without production data leaves U.S. demand at the last
    stage, and the note says so."""
    table = chain.dataset["us_demand_stages"]
    row = table[table["mineral"] == mineral]
    last = len(stages) - 1
    if row.empty:
        return last, "", ""
    stage, source = str(row.iloc[0]["stage"]), str(row.iloc[0]["source_id"])
    if stage not in stages:
        return (
            last,
            (
                f"U.S. demand declared at the {stage} stage, which has no production data: "
                f"delivered at the {stages[last]} stage"
            ),
            "",
        )
    j = list(stages).index(stage)
    if j == last:
        return last, "", source
    return (
        j,
        (
            f"U.S. demand buys the {stage} stage's form, the form USGS's U.S. consumption and "
            f"import sources count (data-src/manual/us_demand_stages.csv): the U.S. region is "
            f"supplied through the node {US_BUYER}, which passes it on through the later stages; "
            "their producers serve the other regions"
        ),
        source,
    )


def _us_share(chain: SupplyChain, mineral: str, world: float) -> tuple[float, str]:
    """U.S. share of world consumption: U.S. demand (``us_demand_t``) / world output; an
    element without a figure of its own takes its parent's share."""
    if world <= 1.0:
        return 0.0, "no USGS apparent consumption: U.S. demand share taken as 0"
    tonnes, note = us_demand_t(chain, mineral)
    if tonnes is not None:
        return tonnes / world, note
    parent = parents_of_dataset(chain.dataset).get(mineral)
    if parent:
        parent_world = _first_stage_world(chain, parent)
        share, note = _us_share(chain, parent, parent_world) if parent_world > 1.0 else (0.0, "")
        if share > 0:
            # the element's U.S. demand = the parent's U.S. demand x the element's share of
            # the parent's world output: the U.S. takes the same share of each element
            return share, (
                f"U.S. demand of {mineral} = U.S. {parent} demand x {mineral}'s share of "
                f"world {parent} output (estimated: USGS publishes no element consumption)"
                + (f"; {note}" if note else "")
            )
    return 0.0, "no USGS apparent consumption: U.S. demand share taken as 0"


def _first_stage_world(chain: SupplyChain, mineral: str) -> float:
    """World output (t) of the first stage reported in tonnes, in its base-year production
    year (SupplyChain.production_years; 0 if none)."""
    if mineral not in chain.production.mineral.values:
        return 0.0
    shares = chain.base_shares([mineral]).sel(mineral=mineral)
    read = chain.model_production()
    prod = read.production.sel(mineral=mineral)
    for s in shares.stage.values:
        if not bool(shares.sel(stage=s).notnull().any()):
            continue
        year = int(shares.year.sel(stage=s))
        if str(read.unit.sel(mineral=mineral, stage=s, year=year).item()) == "t":
            return float(prod.sel(stage=s, year=year).sum())
    return 0.0


def _net_supply(us: pd.DataFrame, mineral: str, want: int) -> float | None:
    """Production + imports - exports (t, in the base year ``want`` or the latest year before
    it with imports), where USGS withholds consumption; None without imports."""
    rows = us[(us["mineral"] == mineral) & (us["unit"] == "t") & us["value"].notna()]
    imports = rows[rows["statistic"] == "imports"]
    if imports.empty:
        return None
    year = year_at_base({int(y) for y in imports["year"]}, want)
    at = rows[rows["year"] == year]

    def total(stat: str) -> float:
        # the largest form reported (forms overlap: ores, concentrates, metal)
        v = at.loc[at["statistic"] == stat, "value"]
        return float(v.max()) if len(v) else 0.0

    net = total("production") + total("imports") - total("exports")
    return net if net > 0 else None


def _us_import_shares(
    chain: SupplyChain,
    mineral: str,
    countries: list[str],
    last_stage: str,
    hubs: dict[str, dict[str, float]] | None = None,
    cap_last: np.ndarray | None = None,
) -> tuple[dict[str, float] | None, dict[str, dict[str, float]]]:
    """USGS import-source shares of the mineral (critmin.simulate.intermediaries.
    import_source_shares, base year), mapped to the model's countries (a source that is not a
    producer in the model counts as OTH; a re-export hub's share goes to its origins in its
    ``hubs`` mix, critmin.simulate.hubs). USGS's "other countries" are the countries it does
    not list: where the chain has no OTH output at the last stage (``cap_last``, the last
    stage's output by country), that share goes to the last stage's producers USGS does not
    list and BACI shows shipping the U.S. the form (at least 1% of U.S. imports of it, the
    trade years), in proportion to those shipments. Without such producers it is left out,
    as before, and the listed sources scaled up (indium's Korea at 37% of modelled U.S.
    imports against USGS's 25%). Also returns, per hub, the share routed to
    each origin on its behalf."""
    want = base_year(mineral, shock_years_of(chain))
    raw = import_source_shares(
        chain.dataset["import_sources"], mineral, want, last_stage, import_forms(chain.dataset)
    )
    if not raw:
        return None, {}
    hubs = hubs or {}
    out: dict[str, float] = {}
    via: dict[str, dict[str, float]] = {}
    made = (
        dict(zip(countries, cap_last, strict=True))
        if cap_last is not None
        else dict.fromkeys(countries, 1.0)
    )
    unlisted = {
        c: v
        for c, v in made.items()
        if v > 0 and c not in raw and c not in ("USA", OTHER_COUNTRIES)
    }
    # the unlisted producers that BACI shows shipping the U.S. the form (the BACI partner
    # rule, critmin.data.build), weighted by those shipments: without that evidence the share
    # stays out (gallium has no BACI code: by output, Russia would take 29% of U.S. imports)
    rows = trade_by_stage(chain.dataset).get((mineral, last_stage))
    seen: dict[str, float] = {}
    if unlisted and rows is not None and not rows.empty:
        to_us = rows[rows["importer"] == "USA"].groupby("exporter")["quantity_t"].sum()
        if to_us.sum() > 0:
            of_us = to_us / to_us.sum()
            seen = {
                c: float(of_us.get(c, 0.0))
                for c in unlisted
                if float(of_us.get(c, 0.0)) >= BACI_PARTNER_MIN
            }
    unlisted = seen
    for c, share in raw.items():
        if c == OTHER_COUNTRIES and made.get(c, 0.0) <= 0 and unlisted:
            scale = sum(unlisted.values())
            for p, v in unlisted.items():
                out[p] = out.get(p, 0.0) + share * v / scale
            continue
        if c in hubs:
            for origin, part in hubs[c].items():
                out[origin] = out.get(origin, 0.0) + share * part
                via.setdefault(c, {})[origin] = share * part
            continue
        # a source with no output at the stage (one not in the chain, or a node of an
        # earlier stage only: sulfur's Mexico) ships it through OTH, as USGS's tables count it
        key = c if made.get(c, 0.0) > 0 else OTHER_COUNTRIES
        if key not in countries or key == "USA":
            continue
        out[key] = out.get(key, 0.0) + share
    total = sum(out.values())
    if total <= 0:
        return None, {}
    scaled = {h: {o: v / total for o, v in m.items()} for h, m in via.items()}
    return {k: v / total for k, v in out.items()}, scaled


def _name_at_us_stage(
    chain: SupplyChain,
    mineral: str,
    countries: list[str],
    flows: np.ndarray,
    idx_region: np.ndarray,
    j: int,
    stage: str,
    us_demand: float,
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """The USGS import sources of the U.S. stage ``j`` that are not countries of the chain,
    named out of OTH's deliveries to the U.S. buyer node there
    (critmin.simulate.intermediaries.name_intermediaries on the flows out of stage ``j``):
    Norway's cobalt and nickel refinery, in OTH in the production data. They make nothing at
    the stages after ``j``."""
    b = countries.index(US_BUYER)
    home = flows[j][countries.index("USA"), b] if "USA" in countries else 0.0
    ds = chain.dataset
    unnamed = unnamed_sources(
        ds["import_sources"],
        mineral,
        countries,
        max(us_demand - home, 0.0),
        base_year(mineral, shock_years_of(chain)),
        stage,
        import_forms(ds),
        [c for c, v in zip(countries, flows[j].sum(axis=1), strict=True) if v > 0],
    )
    before = len(countries)
    grown, upstream, out, idx, notes = name_intermediaries(
        countries,
        flows[:j],
        flows[j],
        idx_region,
        unnamed,
        b,
        lambda c: REGIONS.index(region_of(c)),
    )
    if not notes:
        return countries, flows, idx_region, []
    n = len(grown)
    new = np.zeros((flows.shape[0], n, n))
    new[:j] = upstream
    new[j, :, :before] = out
    new[j + 1 :, :before, :before] = flows[j + 1 :]
    notes = [note.replace("at the last stage", f"at the {stage} stage") for note in notes]
    return grown, new, idx, notes


def _reexport_hubs(
    chain: SupplyChain, mineral: str, countries: list[str], stages: list[str], cap_last: np.ndarray
) -> dict[str, dict[str, float]]:
    """The USGS import sources of ``mineral`` with no output at the chain's last stage that
    ship the U.S. its form (CEPII BACI, the trade years; critmin.simulate.hubs.hub_candidates),
    with their origin mix over the last stage's producers (critmin.simulate.hubs.hub_origins).
    In a one-stage chain a hub's feed is the form itself: it must import what it exports
    (critmin.simulate.hubs.hub_candidates ``same_form``)."""
    rows = trade_by_stage(chain.dataset).get((mineral, stages[-1]))
    if rows is None or rows.empty:
        return {}
    want = base_year(mineral, shock_years_of(chain))
    usgs = import_source_shares(
        chain.dataset["import_sources"], mineral, want, stages[-1], import_forms(chain.dataset)
    )
    producers = [c for c, v in zip(countries, cap_last, strict=True) if v > 0]
    candidates = hub_candidates(
        rows, [c for c in usgs if c != OTHER_COUNTRIES], producers, same_form=len(stages) == 1
    )
    if not candidates:
        return {}
    other = OTHER_COUNTRIES if OTHER_COUNTRIES in producers else None
    return hub_origins(rows, candidates, [c for c in producers if c != other], other)


def _route_us_imports(
    final: np.ndarray,
    supply: np.ndarray,
    demand: np.ndarray,
    shares: dict[str, float],
    countries: list[str],
    nir: float | None = None,
    us_col: int | None = None,
) -> np.ndarray:
    """Refit the flows so that U.S. imports (U.S. demand less U.S. producers' home deliveries)
    come from the USGS import sources in their shares, other regions' purchases adjusting.
    With USGS's net import reliance ``nir``, U.S. producers deliver ``demand x (1 - nir)`` at
    home (at most their output): the routing's trade prior alone sent U.S. phosphate rock to
    China while the U.S. imported Peru's. ``final`` is (supplier, destination), the U.S. the
    destination ``us_col`` (the U.S. region by default; the U.S. buyer node where U.S. demand
    buys an earlier stage, ``demand`` then the next stage's need by node)."""
    us = REGIONS.index("USA") if us_col is None else us_col
    home = final[countries.index("USA"), us] if "USA" in countries else 0.0
    if nir is not None and "USA" in countries:
        home = min(float(supply[countries.index("USA")]), demand[us] * (1.0 - nir))
    imports = max(demand[us] - home, 0.0)
    prior = final.copy()
    col = np.zeros(len(countries))
    for c, share in shares.items():
        col[countries.index(c)] = share * imports
    # no source ships more than its output: the excess goes to the others in their shares
    room = supply * 0.95
    if "USA" in countries:
        room[countries.index("USA")] = 0.0
    for _ in range(10):
        over = np.clip(col - room, 0.0, None)
        if over.sum() <= 1e-12 * max(imports, 1.0):
            break
        col -= over
        free = (col > 0) & (col < room)
        weight = np.where(free, col, 0.0)
        if weight.sum() <= 0:
            weight = np.where(room > col, room - col, 0.0)
        if weight.sum() <= 0:
            break
        col += over.sum() * weight / weight.sum()
    if "USA" in countries:
        col[countries.index("USA")] = home
    prior[:, us] = col
    # fix the U.S. column; fit the other regions to what is left of each supplier
    rest = [r for r in range(final.shape[1]) if r != us]
    left = np.clip(supply - col, 0.0, None)
    need = demand[rest]
    fitted = ras(prior[:, rest] + 1e-9 * np.outer(left > 0, need > 0), left, need)
    out = prior.copy()
    out[:, rest] = fitted
    return out


def origin_content(model: ChainModel, stage: str, country: str, origin: str) -> float:
    """Share of ``country``'s output at ``stage`` that was mined in ``origin`` (baseline flows):
    e.g. the Chinese-origin content of Japan's magnets."""
    k = model.stages.index(stage)
    c, o = model.country_index(country), model.country_index(origin)
    if c is None or o is None:
        return 0.0
    return float(model.content[k, c, o])
