"""Turn a scenario (events, uncertainties, hazards) into per-month factors for a model.

All draws come from the ``numpy.random.Generator`` passed in, in a fixed order (uncertainties,
then hazards), so a chunk's numbers depend only on its seed. With ``events`` (a second
generator) the scenario's event-level draws (uncertainties, occurrence) come from it instead:
passing every chain the same ``events`` stream (:func:`event_stream`) gives common random
numbers across minerals, so a shared event has the same drawn start, duration and severity
in draw s of every chain, while each chain's hazards stay its own.

For S scenarios and M months:
- ``avail`` (S, M, K, N): capacity available (outages, hazards), dense;
- ``lanes``: the shipments an event restricts, kept sparse: per (stage k, origin o) that some
  event touches, an (S, M, D) share of each baseline flow let through (D = N destinations
  between stages, R regions from the last stage, ``k = K - 1``). Every other shipment is
  allowed in full and is never stored (the dense arrays were 20-30% of the engine's time);
- ``demand`` (S, M, R): demand multiplier; ``release`` (S, M, R): t released into a region;
- ``end_hazard`` (S, M): the probability, as stock holders read the scenario, that the month's
  disruption ends the next month (critmin.economics.storage): 1 where no event is active, the
  hazard ``1/d`` of an event of (drawn) duration ``d`` months, the open-regime hazard
  (``OPEN_REGIME_END_HAZARD``) for an open-ended one (an in-force regime without a duration);
  the smallest of the active events'; a hazard outage of drawn duration ``d``, ``1/d``;
- ``gap_path`` (S, M, L) or None: the gap stock holders expect in each of the next L months,
  as a multiple of the month's (critmin.economics.storage), read from the declared paths of the
  active events: the share of the flow they block, ``1 - prod(1 - b_e)`` over the active events
  (a licensing regime ``b = coverage x (1 - approval rate)`` along its approval path, a ban its
  coverage, an outage or a logistics cut its share, a demand surge ``1 - 1/factor``), in month
  ``t + k`` over month ``t``, each event still in force (its end is the hazard's); 1 where
  nothing blocks. L is the longest approval path less one (the rate after it persists); None
  when no licensing regime with a path applies.
``ship`` (S, M, K-1, N, N) and ``ship_final`` (S, M, N, R) give the dense allowances on
demand, for inspection and the per-scenario reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from critmin.economics.storage import OPEN_REGIME_END_HAZARD
from critmin.scenarios.spec import (
    ContentRule,
    DemandSurge,
    Distribution,
    Event,
    ExportControl,
    Hazard,
    Logistics,
    Outage,
    Regime,
    Release,
    Scenario,
    month_index,
)
from critmin.schema.vocabulary import MONTHS_PER_YEAR, OTHER_COUNTRIES, REGIONS
from critmin.simulate.model import US_BUYER, ChainModel


@dataclass
class Shocks:
    avail: np.ndarray
    demand: np.ndarray
    release: np.ndarray
    lanes: dict[tuple[int, int], np.ndarray]
    stages: int  # K
    countries: int  # N
    end_hazard: np.ndarray | None = None  # (S, M); None = 1 everywhere (nothing expected)
    gap_path: np.ndarray | None = None  # (S, M, L); None = the month's gap persists

    @classmethod
    def neutral(cls, model: ChainModel, scenarios: int, months: int) -> Shocks:
        K, N, R = model.K, model.N, len(model.regions)
        return cls(
            avail=np.ones((scenarios, months, K, N)),
            demand=np.ones((scenarios, months, R)),
            release=np.zeros((scenarios, months, R)),
            lanes={},
            stages=K,
            countries=N,
            end_hazard=np.ones((scenarios, months)),
        )

    @property
    def regions(self) -> int:
        return int(self.demand.shape[2])

    def lane(self, k: int, origin: int) -> np.ndarray:
        """The (S, M, D) allowance of shipments from ``origin`` at stage ``k`` (created all
        ones the first time an event touches it), for an event to scale in place."""
        got = self.lanes.get((k, origin))
        if got is None:
            S, M = self.demand.shape[:2]
            width = self.regions if k == self.stages - 1 else self.countries
            got = self.lanes[(k, origin)] = np.ones((S, M, width))
        return got

    @property
    def ship(self) -> np.ndarray:
        """Dense (S, M, K-1, N, N) share of each flow between stages let through."""
        S, M = self.demand.shape[:2]
        K, N = self.stages, self.countries
        out = np.ones((S, M, max(K - 1, 0), N, N))
        for (k, o), lane in self.lanes.items():
            if k < K - 1:
                out[:, :, k, o] = lane
        return out

    @property
    def ship_final(self) -> np.ndarray:
        """Dense (S, M, N, R) share of each flow to a consuming region let through."""
        S, M = self.demand.shape[:2]
        out = np.ones((S, M, self.countries, self.regions))
        for (k, o), lane in self.lanes.items():
            if k == self.stages - 1:
                out[:, :, o] = lane
        return out

    def scenario(self, s: int) -> Shocks:
        """One scenario's factors (leading axis kept, length 1)."""
        one = slice(s, s + 1)
        return Shocks(
            self.avail[one],
            self.demand[one],
            self.release[one],
            {key: lane[one] for key, lane in self.lanes.items()},
            self.stages,
            self.countries,
            None if self.end_hazard is None else self.end_hazard[one],
            None if self.gap_path is None else self.gap_path[one],
        )

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """Every stored array (the lanes in key order)."""
        lanes = tuple(self.lanes[key] for key in sorted(self.lanes))
        hazard = () if self.end_hazard is None else (self.end_hazard,)
        path = () if self.gap_path is None else (self.gap_path,)
        return (self.avail, self.demand, self.release, *lanes, *hazard, *path)


#: Spawn key of the event stream (above any chain index, so it is never a chain's stream).
EVENT_STREAM = 2**32 - 1


def event_stream(block: np.random.SeedSequence) -> np.random.SeedSequence:
    """The event-level stream of a block shared by every chain: the block seed's entropy with
    spawn key ``(EVENT_STREAM, b)``, ``b`` its block index (the last entry of its spawn key:
    ``SeedSequence(seed).spawn(chains)[i].spawn(blocks)[b]`` -> ``(EVENT_STREAM, b)`` for
    every ``i``)."""
    b = block.spawn_key[-1] if block.spawn_key else 0
    return np.random.SeedSequence(block.entropy, spawn_key=(EVENT_STREAM, b))


def _p(x: float | None) -> float:
    if x is None:  # pragma: no cover - the spec requires the distribution's parameters
        raise ValueError("missing distribution parameter")
    return float(x)


def draw(dist: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws from a declared distribution."""
    match dist.dist:
        case "uniform":
            return rng.uniform(_p(dist.low), _p(dist.high), n)
        case "triangular":
            return rng.triangular(_p(dist.low), _p(dist.mode), _p(dist.high), n)
        case "normal":
            return rng.normal(_p(dist.mean), _p(dist.sd), n)
        case "lognormal":
            return rng.lognormal(_p(dist.mean), _p(dist.sd), n)
        case "beta":
            return rng.beta(_p(dist.a), _p(dist.b), n)
        case "choice":
            return rng.choice(np.asarray(dist.values, dtype=float), n)
    raise ValueError(dist.dist)  # pragma: no cover - the spec forbids other names


def named_countries(scenario: Scenario) -> set[str]:
    """Every country a scenario's events or hazards name (never pooled into "other
    countries": an event on a pooled country would have no node to act on)."""
    out: set[str] = set()
    for e in scenario.events.values():
        if isinstance(e, ExportControl | ContentRule | Outage):
            out.add(e.country)
        if isinstance(e, ExportControl) and e.destinations != "all":
            out |= set(e.destinations)
        if isinstance(e, Logistics):
            out |= set(e.between)
    for h in scenario.hazards:
        if h.countries != "all":
            out |= set(h.countries)
        out |= set(h.exclude_countries) | set(h.country_probability)
    return out


def poolable(scenario: Scenario, mineral: str, parents: dict[str, str]) -> bool:
    """Whether small countries of ``mineral``'s chain may be pooled under ``scenario``: not
    when a content rule applies to it (the rule compares each country's traced content with
    a threshold; a pooled node's content is an average that can fall on the other side)."""
    return not any(
        isinstance(e, ContentRule) and applies(e, mineral, parents)
        for e in scenario.events.values()
    )


def _event_minerals(event: Event) -> list[str]:
    return [event.mineral] if isinstance(event, Release) else list(event.minerals)


def applies(event: Event, mineral: str, parents: dict[str, str]) -> bool:
    """An event names the chain's mineral, or an element whose parent chain it is."""
    return any(m == mineral or parents.get(m) == mineral for m in _event_minerals(event))


def _window(
    start: np.ndarray, duration: np.ndarray | None, months: int, first_month: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per scenario: months since the event started (-1 before) and whether it is active
    (``duration`` per scenario, in months; None for an open-ended event)."""
    t = np.arange(months)[None, :] + first_month
    since = t - start[:, None]
    active = since >= 0
    if duration is not None:
        active &= since < duration[:, None]
    return since, active


def _end_hazard(duration: np.ndarray | None) -> np.ndarray | float:
    """Per scenario, the hazard (per month) with which stock holders expect the event's
    shortage to end (critmin.economics.storage): ``1/d`` for an event of (drawn) duration
    ``d`` months; an open-ended one (an in-force regime without a duration) ends at
    ``OPEN_REGIME_END_HAZARD``, whatever its approval path (a regime in force stays in force;
    the approval path moves the gap holders expect while it lasts: ``Shocks.gap_path``)."""
    if duration is None:
        return OPEN_REGIME_END_HAZARD
    out: np.ndarray = 1.0 / np.maximum(duration, 1)[:, None]
    return out


Blocked = Callable[[np.ndarray], np.ndarray]


def _blocked(e: Event, name: str, value: Callable[[str, str, float], np.ndarray]) -> Blocked:
    """The share of its flow an event blocks, as a function of the months since it started
    ((S, X) -> (S, X)), as stock holders read its declaration (``Shocks.gap_path``)."""
    if isinstance(e, ExportControl | ContentRule):
        cover = 1.0
        if isinstance(e, ExportControl):
            cover = np.clip(value(name, "coverage", e.coverage), 0.0, 1.0)[:, None]
        return lambda since: cover * (1.0 - _regime_rate(e, name, since, value))
    if isinstance(e, Outage | Logistics):
        share = np.clip(value(name, "share", e.share), 0.0, 1.0)[:, None]
        return lambda since: np.broadcast_to(share, since.shape)
    if isinstance(e, DemandSurge):
        lift = np.clip(1.0 - 1.0 / value(name, "factor", e.factor), 0.0, 1.0)[:, None]
        return lambda since: np.broadcast_to(lift, since.shape)
    return lambda since: np.zeros(since.shape)


def _gap_path(
    blocking: list[tuple[np.ndarray, np.ndarray, Blocked]], horizon: int
) -> np.ndarray | None:
    """``Shocks.gap_path`` from each event's (active, since, blocked share) over ``horizon``
    months ahead (None when 0)."""
    if horizon <= 0 or not blocking:
        return None
    active, since, _ = blocking[0]
    let_now = np.ones(since.shape)
    let_ahead = np.ones((*since.shape, horizon))
    for active, since, blocked in blocking:
        let_now *= np.where(active, 1.0 - blocked(since), 1.0)
        for k in range(horizon):
            let_ahead[:, :, k] *= np.where(active, 1.0 - blocked(since + k + 1), 1.0)
    now = (1.0 - let_now)[:, :, None]
    safe = np.where(now > 1e-9, now, 1.0)
    out: np.ndarray = np.where(now > 1e-9, (1.0 - let_ahead) / safe, 1.0)
    return out


def _approval(path: list[float], since: np.ndarray, scale: np.ndarray) -> np.ndarray:
    arr = np.asarray(path, dtype=float)
    idx = np.clip(since, 0, len(arr) - 1)
    out: np.ndarray = np.clip(arr[idx] * scale[:, None], 0.0, 1.0)
    return out


def build_shocks(
    scenario: Scenario,
    model: ChainModel,
    parents: dict[str, str],
    scenarios: int,
    months: int,
    rng: np.random.Generator,
    *,
    sample_occurrence: bool = False,
    timing: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    events: np.random.Generator | None = None,
) -> Shocks:
    """Factor arrays for ``scenarios`` draws of ``scenario`` on ``model``'s chain.

    With ``sample_occurrence`` each event happens in a draw with its annual ``probability``
    (for ranking minerals by expected annual loss); otherwise every event happens.
    ``timing`` gives, per event name, whether it happens in each draw and its start (months
    since year 0), so several chains can share one draw of the world; ``events`` draws the
    uncertainties and occurrences (default: ``rng``), see the module.
    """
    shared = rng if events is None else events
    out = Shocks.neutral(model, scenarios, months)
    first = month_index(scenario.start)
    S = scenarios
    # uncertainties: one draw per scenario per target, in declaration order
    drawn: dict[tuple[str, str], np.ndarray] = {}
    for u in scenario.uncertainties:
        event, _, name = u.target.rpartition(".")
        drawn[(event, name)] = draw(u.distribution, shared, S)

    def value(event: str, name: str, default: float) -> np.ndarray:
        return drawn.get((event, name), np.full(S, float(default)))

    occurs = {
        name: (shared.random(S) < e.probability) if sample_occurrence else np.ones(S, dtype=bool)
        for name, e in scenario.events.items()
    }
    stage_of = {s: k for k, s in enumerate(model.stages)}
    region_of_country = model.region_index
    R = len(model.regions)
    blocking: list[tuple[np.ndarray, np.ndarray, Blocked]] = []
    horizon = 0
    for name, declared in scenario.events.items():
        if not applies(declared, model.mineral, parents):
            continue
        shift = np.round(value(name, "start_shift_months", 0)).astype(int)
        start = month_index(declared.start) + shift
        if timing is not None and name in timing:
            happens, start = timing[name]
            occurs[name] = occurs[name] & happens
        e = declared
        # each draw keeps its own duration (an uncertain duration is never averaged)
        duration: np.ndarray | None = None
        if (name, "duration_months") in drawn:
            duration = np.maximum(1, np.round(drawn[(name, "duration_months")])).astype(int)
        elif e.duration_months is not None:
            duration = np.full(S, int(e.duration_months))
        since, active = _window(start, duration, months, first)
        active &= occurs[name][:, None]
        if not isinstance(e, Release) and out.end_hazard is not None:
            ends = _end_hazard(duration)
            out.end_hazard[:] = np.where(active, np.minimum(out.end_hazard, ends), out.end_hazard)
            blocking.append((active, since, _blocked(e, name, value)))
            if isinstance(e, ExportControl | ContentRule) and e.regime is Regime.LICENSING:
                horizon = max(horizon, len(e.approval) - 1)
        if isinstance(e, ExportControl):
            _export_control(out, e, name, model, since, active, value, stage_of, region_of_country)
        elif isinstance(e, ContentRule):
            _content_rule(out, e, name, model, since, active, value, stage_of)
        elif isinstance(e, Outage):
            c = model.country_index(e.country)
            if c is not None and e.stage in stage_of:
                share = np.clip(value(name, "share", e.share), 0.0, 1.0)
                cut = np.where(active, 1.0 - share[:, None], 1.0)
                out.avail[:, :, stage_of[e.stage], c] *= cut
        elif isinstance(e, DemandSurge):
            factor = value(name, "factor", e.factor)
            regions = range(R) if e.regions == "all" else [REGIONS.index(r) for r in e.regions]
            for r in regions:
                # a sector's surge lifts the region's demand by that sector's share of it
                weight = 1.0
                if e.sector != "all":
                    j = model.sectors.index(e.sector) if e.sector in model.sectors else None
                    weight = float(model.sector_share[r, j]) if j is not None else 0.0
                lift = 1.0 + weight * (factor - 1.0)
                out.demand[:, :, r] *= np.where(active, lift[:, None], 1.0)
        elif isinstance(e, Logistics):
            a, b = (model.country_index(c) for c in e.between)
            share = np.clip(value(name, "share", e.share), 0.0, 1.0)
            cut = np.where(active, 1.0 - share[:, None], 1.0)
            buyer = model.country_index(US_BUYER)
            for (x, y), y_name in zip(((a, b), (b, a)), reversed(e.between), strict=True):
                # the U.S. buyer node's purchases travel the lanes into the U.S.
                extra = [buyer] if buyer is not None and y_name == "USA" else []
                if x is None:
                    continue
                for k in range(model.K - 1):
                    for z in ([y] if y is not None else []) + extra:
                        out.lane(k, x)[:, :, z] *= cut
                if y is not None:
                    out.lane(model.K - 1, x)[:, :, region_of_country[y]] *= cut
        elif isinstance(e, Release):
            r = REGIONS.index(e.region)
            tonnes = value(name, "tonnes_per_month", e.tonnes_per_month)
            out.release[:, :, r] += np.where(active, tonnes[:, None], 0.0)
    if out.end_hazard is not None:
        out.gap_path = _gap_path(blocking, horizon)
    for h in scenario.hazards:
        _hazard(out, h, model, rng)
    inherit_hub_outages(out, model)
    return out


def _hub_feed(model: ChainModel) -> list[tuple[int, int, float]]:
    """(hub, origin, share) by node index at the last stage; an origin pooled there into OTH
    (critmin.simulate.model.pool_model) is read as OTH."""
    k = model.K - 1
    out = []
    for hub, origin, share in model.hub_feed:
        h, o = model.country_index(hub), model.country_index(origin)
        if o is None or model.capacity[k, o] <= 0:
            o = model.country_index(OTHER_COUNTRIES)
        if h is not None and o is not None:
            out.append((h, o, share))
    return out


def inherit_hub_outages(out: Shocks, model: ChainModel) -> None:
    """A re-export hub (critmin.simulate.hubs) buys its origins' last-stage output: what an
    origin's plants lose at that stage (events and hazards alike) the hub loses in the share
    of its throughput that origin feeds. The hub's own outages stay (they multiply)."""
    feed = _hub_feed(model)
    if not feed:
        return
    k = model.K - 1
    origin_avail = out.avail[:, :, k, :].copy()
    for h, o, share in feed:
        out.avail[:, :, k, h] *= 1.0 - share * (1.0 - origin_avail[:, :, o])


Value = Callable[[str, str, float], np.ndarray]


def _regime_rate(
    e: ExportControl | ContentRule, name: str, since: np.ndarray, value: Value
) -> np.ndarray:
    """Share of controlled shipments let through each month: 0 under a ban, else the
    approval path (scaled by its drawn ``scale``; a licensing rule without a path approves
    nothing)."""
    if e.regime is Regime.BAN:
        return np.zeros(since.shape)
    return _approval(e.approval or [0.0], since, value(name, "scale", 1.0))


def _export_control(
    out: Shocks,
    e: ExportControl,
    name: str,
    model: ChainModel,
    since: np.ndarray,
    active: np.ndarray,
    value: Value,
    stage_of: dict[str, int],
    region_of_country: np.ndarray,
) -> None:
    o = model.country_index(e.country)
    if o is None:
        return
    rate = _regime_rate(e, name, since, value)
    coverage = np.clip(value(name, "coverage", e.coverage), 0.0, 1.0)[:, None]
    factor = np.where(active, 1.0 - coverage * (1.0 - rate), 1.0)  # (S, M)
    N = model.N
    dest = np.ones(N, dtype=bool)
    dest[o] = False
    if e.destinations != "all":
        # the U.S. buyer node buys for the U.S.: a control naming the U.S. reaches it
        dest = np.array(
            [
                c in e.destinations or (c == US_BUYER and "USA" in e.destinations)
                for c in model.countries
            ]
        )
    dest_r = np.zeros(len(model.regions), dtype=bool)
    home = model.regions.index(model.regions[region_of_country[o]])
    if e.destinations == "all":
        dest_r[:] = True
        dest_r[home] = False
    else:
        for r, region in enumerate(model.regions):
            dest_r[r] = region in e.destinations and r != home
    for s in e.stages:
        k = stage_of.get(s)
        if k is None:
            continue
        mask = dest if k < model.K - 1 else dest_r
        out.lane(k, o)[:, :, mask] *= factor[:, :, None]
        if k == model.K - 1:
            _hub_export_control(out, e, model, o, factor)


def _hub_export_control(
    out: Shocks, e: ExportControl, model: ChainModel, o: int, factor: np.ndarray
) -> None:
    """An origin's last-stage export control reaches the re-export hubs it feeds (their
    purchases are its exports): a hub whose country (or region) the control covers ships
    ``share x (1 - factor)`` less to every destination, ``share`` the origin's part of its
    throughput (critmin.simulate.hubs)."""
    for h, origin, share in _hub_feed(model):
        if origin != o:
            continue
        hub = model.countries[h]
        region = model.regions[int(model.region_index[h])]
        if e.destinations != "all" and hub not in e.destinations and region not in e.destinations:
            continue
        out.lane(model.K - 1, h)[:, :, :] *= 1.0 - share * (1.0 - factor[:, :, None])


def _content_rule(
    out: Shocks,
    e: ContentRule,
    name: str,
    model: ChainModel,
    since: np.ndarray,
    active: np.ndarray,
    value: Value,
    stage_of: dict[str, int],
) -> None:
    ctrl = model.country_index(e.country)
    if ctrl is None:
        return
    rate = _regime_rate(e, name, since, value)
    factor = np.where(active, rate, 1.0)
    # each draw keeps its own threshold: a country is reached in the draws where its traced
    # content is at or above that draw's threshold
    threshold = value(name, "threshold", e.threshold)  # (S,)
    for s in e.stages:
        k = stage_of.get(s)
        if k is None:
            continue
        share = model.content[k, :, ctrl]
        for c in range(model.N):
            if c == ctrl:
                continue
            hit = share[c] >= threshold  # (S,)
            if not hit.any():
                continue
            f = np.where(hit[:, None], factor, 1.0)
            # everything but the home market (the country itself, or its region)
            home = c if k < model.K - 1 else int(model.region_index[c])
            mask = np.ones(model.N if k < model.K - 1 else len(model.regions), dtype=bool)
            mask[home] = False
            out.lane(k, c)[:, :, mask] *= f[:, :, None]


def _hazard(out: Shocks, h: Hazard, model: ChainModel, rng: np.random.Generator) -> None:
    if h.minerals != "all" and model.mineral not in h.minerals:
        return
    S, M, K, N = out.avail.shape
    stages = np.array([h.stages == "all" or s in h.stages for s in model.stages])
    countries = np.array(
        [
            (h.countries == "all" or c in h.countries) and c not in h.exclude_countries
            for c in model.countries
        ]
    )
    # the U.S. buyer node is no plant: it passes on what it bought and has nothing to lose
    countries &= np.array([c != US_BUYER for c in model.countries])
    present = (model.capacity > 0) & stages[:, None] & countries[None, :]
    annual = np.array([h.country_probability.get(c, h.annual_probability) for c in model.countries])
    p_month = (1.0 - (1.0 - annual) ** (1.0 / MONTHS_PER_YEAR))[None, None, :]  # (1, 1, N)
    remaining = np.zeros((S, K, N))
    length = np.ones((S, K, N))
    severity = np.zeros((S, K, N))
    for t in range(M):
        starts = (remaining <= 0) & (rng.random((S, K, N)) < p_month) & present[None]
        n = int(starts.sum())
        if n:
            remaining[starts] = np.maximum(1, np.round(draw(h.duration_months, rng, n)))
            length[starts] = remaining[starts]
            severity[starts] = np.clip(draw(h.severity, rng, n), 0.0, 1.0)
        on = remaining > 0
        out.avail[:, t] *= np.where(on, 1.0 - severity, 1.0)
        if out.end_hazard is not None:
            # an outage of drawn duration d ends at the hazard 1/d
            ends = np.where(on & (severity > 0), 1.0 / length, 1.0).min(axis=(1, 2))
            out.end_hazard[:, t] = np.minimum(out.end_hazard[:, t], ends)
        remaining = np.maximum(remaining - 1, 0)
