"""Projections (holdings, funds, contracts, board state) and the rules that keep them sound.

``apply`` folds one event into the state. Every handler checks first and changes second, so a
refused event leaves the state as it was. The same code runs when a command is appended and
when the log is replayed; replay therefore rebuilds the projections exactly, and re-checks the
invariants that need no outside data (stock, funds, resolutions, quorum).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from critmin.ledger import events as ev
from critmin.ledger.errors import NotFound, Refused
from critmin.ledger.vocabulary import (
    AcquisitionKind,
    ContractKind,
    EventType,
    FundKind,
    FundStatus,
    LoanKind,
    LoanStatus,
    MotionKind,
    MotionStatus,
    PriceSource,
    Projection,
    Rule,
    Trigger,
    Vote,
)

ZERO = Decimal(0)
CENT = Decimal("0.01")
GRAM = Decimal("0.000001")
ARITHMETIC = Context(prec=40, rounding=ROUND_HALF_EVEN)
SEATS = 7
QUORUM = 4
GENESIS_HASH = "0" * 64
APPROPRIATION = "appropriation"
PROCEEDS = "proceeds"
SETTINGS = "reserve"
#: Fund ids the ledger keeps for its own funds; a partner's contribution may not take one.
RESERVED_FUND_IDS = frozenset({APPROPRIATION, PROCEEDS, "reserve", "ledger", "genesis"})
#: The longest loan or swap the ledger accepts, in days (two years).
MAX_LOAN_DAYS = 730
#: A sale more than this fraction below the market price needs a board resolution.
BELOW_MARKET_TOLERANCE = Decimal("0.10")


def usd(x: Decimal) -> Decimal:
    return x.quantize(CENT)


def tonnes(x: Decimal) -> Decimal:
    return x.quantize(GRAM)


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lot(Entity):
    lot_id: str
    kind: AcquisitionKind
    mineral: str
    form: str
    grade: str
    location: str
    quantity_t: Decimal
    cost_usd: Decimal
    written_down_usd: Decimal = ZERO


class Fund(Entity):
    fund_id: str
    kind: FundKind
    partner: str | None = None
    amount_usd: Decimal
    spent_usd: Decimal = ZERO
    status: FundStatus
    earmark: list[str] = Field(default_factory=list)
    conditions: str = ""
    resolution_id: str | None = None

    @property
    def available(self) -> Decimal:
        return self.amount_usd - self.spent_usd if self.status is FundStatus.ACCEPTED else ZERO


class Seat(Entity):
    seat: int
    member: str
    term_start: date
    term_end: date


class MotionState(Entity):
    motion_id: str
    motion: ev.Motion
    proposer: str
    proposed_on: date
    status: MotionStatus = MotionStatus.OPEN
    votes: dict[str, Vote] = Field(default_factory=dict)


class Resolution(Entity):
    resolution_id: str
    motion: ev.Motion
    passed_on: date
    used_by: str | None = None


class PriceBand(Entity):
    mineral: str
    floor_usd_per_t: Decimal
    ceiling_usd_per_t: Decimal
    resolution_id: str


class Shock(Entity):
    shock_id: str
    minerals: list[str]
    description: str
    declared_on: date
    ends: date | None

    def active(self, mineral: str, day: date) -> bool:
        return (
            mineral in self.minerals
            and self.declared_on <= day
            and (self.ends is None or day <= self.ends)
        )


class LoanState(Entity):
    loan_id: str
    kind: LoanKind
    lot_id: str
    mineral: str
    form: str = ""
    lot_kind: AcquisitionKind = AcquisitionKind.PHYSICAL
    quantity_t: Decimal
    outstanding_t: Decimal
    cost_usd: Decimal
    counterparty: str
    counterparty_country: str
    return_date: date
    status: LoanStatus = LoanStatus.OUTSTANDING


class Price(Entity):
    mineral: str
    usd_per_t: Decimal
    form: str | None = None
    as_of: date
    source: str


class Contract(Entity):
    contract_id: str
    kind: ContractKind
    counterparty: str
    counterparty_country: str
    mineral: str
    volume_t: Decimal
    price_usd_per_t: Decimal
    start: date
    end: date
    resolution_id: str | None


class CheckpointState(Entity):
    seq: int
    head: str
    hashes_digest: str
    public_key: str
    signature: str


class Settings(Entity):
    appropriation_usd: Decimal
    threshold_usd: Decimal
    price_source: PriceSource = PriceSource.BUNDLED
    realised_gain_usd: Decimal = ZERO
    written_down_usd: Decimal = ZERO


E = TypeVar("E", bound=Entity)


def price_key(mineral: str, form: str) -> str:
    """The projection key of an entered price of one form (``mineral/form``)."""
    return f"{mineral}/{form}"


class State:
    """Every projection, keyed by kind and id; ``touched`` lists what the last event changed."""

    def __init__(self) -> None:
        self.tables: dict[Projection, dict[str, Entity]] = {p: {} for p in Projection}
        self.seq = 0
        self.head = GENESIS_HASH
        self.touched: set[tuple[Projection, str]] = set()

    def get(self, kind: Projection, key: str, model: type[E]) -> E | None:
        found = self.tables[kind].get(key)
        return found if isinstance(found, model) else None

    def need(self, kind: Projection, key: str, model: type[E], field: str) -> E:
        found = self.get(kind, key, model)
        if found is None:
            raise NotFound(f"no {kind.value} {key!r}", field)
        return found

    def all(self, kind: Projection, model: type[E]) -> Iterator[E]:
        for item in self.tables[kind].values():
            if isinstance(item, model):
                yield item

    def put(self, kind: Projection, key: str, entity: Entity) -> None:
        self.tables[kind][key] = entity
        self.touched.add((kind, key))

    @property
    def settings(self) -> Settings:
        found = self.get(Projection.SETTINGS, SETTINGS, Settings)
        if found is None:
            raise Refused(
                "the ledger has no genesis event yet (run `critmin ledger init`)",
                rule=Rule.LEDGER_STARTED,
            )
        return found

    def row(self, kind: Projection, key: str) -> str:
        """The stored form of one projected entity (canonical JSON)."""
        return canonical(self.tables[kind][key].model_dump(mode="json"))

    def rows(self) -> dict[tuple[str, str], str]:
        return {
            (kind.value, key): self.row(kind, key)
            for kind, table in self.tables.items()
            for key in table
        }

    # -- rules shared by several handlers -------------------------------------------------

    def seat_of(self, member: str, day: date) -> Seat | None:
        """The seat ``member`` holds in term on ``day`` (seats are keyed by number, so a
        member whose seat was refilled holds it no more)."""
        for seat in self.all(Projection.SEAT, Seat):
            if seat.member == member and seat.term_start <= day <= seat.term_end:
                return seat
        return None

    def active_member(self, member: str, day: date, field: str) -> Seat:
        seat = self.seat_of(member, day)
        if seat is None:
            raise Refused(
                f"{member!r} holds no board seat in term on {day}",
                field,
                status=403,
                rule=Rule.BOARD_SEAT_HOLDER,
            )
        return seat

    def founding(self) -> bool:
        """The founding appointment lasts until the board's first motion."""
        return not self.tables[Projection.MOTION]

    def entered_price(self, mineral: str, form: str) -> Price | None:
        """The latest price an analyst entered for ``form`` of ``mineral``; a price entered
        without a form (allowed for a mineral with one reserve form, and recorded so before
        forms were named) stands for every form of the mineral."""
        found = self.get(Projection.PRICE, price_key(mineral, form), Price)
        return found if found is not None else self.get(Projection.PRICE, mineral, Price)

    def market(self, mineral: str, form: str, bundled: Decimal | None) -> Decimal | None:
        """The price of ``form`` the checks use: from the source the board designated."""
        if self.settings.price_source is PriceSource.ANALYST:
            entered = self.entered_price(mineral, form)
            if entered is not None:
                return entered.usd_per_t
        return bundled

    def use_resolution(
        self,
        resolution_id: str | None,
        kinds: tuple[MotionKind, ...],
        mineral: str,
        amount: Decimal,
        why: str,
        *,
        above_market: bool = False,
    ) -> Resolution:
        if resolution_id is None:
            raise Refused(
                f"{why}: a board resolution is required",
                "resolution_id",
                rule=Rule.RESOLUTION_REQUIRED,
            )
        res = self.need(Projection.RESOLUTION, resolution_id, Resolution, "resolution_id")
        m = res.motion
        rule = Rule.RESOLUTION_MATCHES
        if m.kind not in kinds or not isinstance(m, ev.AuthoriseAcquisition | ev.AuthoriseRelease):
            raise Refused(
                f"resolution {resolution_id!r} is a {m.kind.value}", "resolution_id", rule=rule
            )
        if m.mineral != mineral:
            raise Refused(
                f"resolution {resolution_id!r} covers {m.mineral}, not {mineral}",
                "resolution_id",
                rule=rule,
            )
        if amount > m.max_usd:
            raise Refused(
                f"resolution {resolution_id!r} allows up to {m.max_usd} USD, not {amount}",
                "resolution_id",
                rule=rule,
            )
        if above_market and not (isinstance(m, ev.AuthoriseAcquisition) and m.above_market):
            raise Refused(
                f"resolution {resolution_id!r} does not allow paying above market",
                "resolution_id",
                rule=rule,
            )
        if res.used_by is not None:
            raise Refused(
                f"resolution {resolution_id!r} was already used by {res.used_by}",
                "resolution_id",
                rule=rule,
            )
        return res

    def authorise_outflow(
        self, resolution_id: str | None, mineral: str, value: Decimal, what: str, event_id: str
    ) -> None:
        """Value leaving the reserve (book value, or proceeds if higher) above the threshold
        needs an ``authorise_release`` resolution, used once."""
        if value <= self.settings.threshold_usd:
            return
        res = self.use_resolution(
            resolution_id,
            (MotionKind.AUTHORISE_RELEASE,),
            mineral,
            value,
            f"{what}: value leaving the reserve {value} USD exceeds the threshold "
            f"{self.settings.threshold_usd} USD",
        )
        res.used_by = event_id
        self.put(Projection.RESOLUTION, res.resolution_id, res)

    def allocate(self, mineral: str, cost: Decimal, field: str) -> list[tuple[Fund, Decimal]]:
        """Which accepted funds pay ``cost``: funds earmarked for the mineral first, then
        unrestricted ones, each in the order it was created."""
        funds = list(self.all(Projection.FUND, Fund))
        order = [f for f in funds if mineral in f.earmark] + [f for f in funds if not f.earmark]
        plan: list[tuple[Fund, Decimal]] = []
        left = cost
        for fund in order:
            if left <= 0:
                break
            take = min(fund.available, left)
            if take > 0:
                plan.append((fund, take))
                left -= take
        if left > 0:
            have = cost - left
            raise Refused(
                f"costs {cost} USD but accepted funds usable for {mineral} hold {have} USD",
                field,
                rule=Rule.FUNDS_AVAILABLE,
            )
        return plan

    def lot_share(self, lot: Lot, quantity: Decimal, field: str) -> Decimal:
        """The cost basis of ``quantity`` taken from ``lot``; refuses negative stock."""
        if quantity > lot.quantity_t:
            raise Refused(
                f"lot {lot.lot_id!r} holds {lot.quantity_t} t; cannot take {quantity} t",
                field,
                rule=Rule.STOCK_NON_NEGATIVE,
            )
        if quantity == lot.quantity_t:
            return lot.cost_usd
        return usd(lot.cost_usd * quantity / lot.quantity_t)

    def credit_proceeds(self, amount: Decimal) -> None:
        fund = self.get(Projection.FUND, PROCEEDS, Fund)
        if fund is not None and fund.kind is not FundKind.PROCEEDS:
            raise Refused(
                f"fund {PROCEEDS!r} is not the ledger's own proceeds fund",
                "fund_id",
                rule=Rule.PROCEEDS_TO_OWN_FUND,
            )
        if fund is None:
            fund = Fund(
                fund_id=PROCEEDS,
                kind=FundKind.PROCEEDS,
                amount_usd=ZERO,
                status=FundStatus.ACCEPTED,
            )
        fund.amount_usd = usd(fund.amount_usd + amount)
        self.put(Projection.FUND, PROCEEDS, fund)


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


Handler = Callable[[State, Any, ev.Event], None]
HANDLERS: dict[EventType, Handler] = {}


def handles(t: EventType) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[t] = fn
        return fn

    return register


def apply(state: State, event: ev.Event) -> set[tuple[Projection, str]]:
    """Fold ``event`` into ``state``; raise Refused (state unchanged) if it breaks a rule."""
    if event.seq != state.seq + 1:
        raise Refused(f"event {event.seq} follows {state.seq}", "seq")
    state.touched = set()
    with localcontext(ARITHMETIC):
        HANDLERS[event.type](state, event.payload, event)
    state.seq = event.seq
    state.head = event.hash
    return state.touched


def replay(events: Iterator[ev.Event] | list[ev.Event]) -> State:
    state = State()
    for event in events:
        apply(state, event)
    return state


# -- handlers ---------------------------------------------------------------------------


@handles(EventType.GENESIS)
def _genesis(state: State, p: ev.Genesis, e: ev.Event) -> None:
    if state.seq != 0:
        raise Refused("the ledger already has its genesis event", "appropriation_usd")
    state.put(
        Projection.SETTINGS,
        SETTINGS,
        Settings(appropriation_usd=p.appropriation_usd, threshold_usd=p.threshold_usd),
    )
    state.put(
        Projection.FUND,
        APPROPRIATION,
        Fund(
            fund_id=APPROPRIATION,
            kind=FundKind.APPROPRIATION,
            amount_usd=p.appropriation_usd,
            status=FundStatus.ACCEPTED,
        ),
    )


def _started(state: State) -> None:
    if state.seq == 0:
        raise Refused(
            "the ledger has no genesis event yet (run `critmin ledger init`)",
            rule=Rule.LEDGER_STARTED,
        )


@handles(EventType.SEAT_FILLED)
def _seat(state: State, p: ev.SeatFilled, e: ev.Event) -> None:
    _started(state)
    if p.term_end < p.term_start:
        raise Refused("term ends before it starts", "term_end", 422, Rule.DATES_IN_ORDER)
    for seat in state.all(Projection.SEAT, Seat):
        overlap = seat.term_start <= p.term_end and p.term_start <= seat.term_end
        if seat.member == p.member and seat.seat != p.seat and overlap:
            raise Refused(
                f"{p.member!r} already holds seat {seat.seat}",
                "member",
                rule=Rule.ONE_SEAT_PER_MEMBER,
            )
    resolution = None
    founding = state.founding() and str(p.seat) not in state.tables[Projection.SEAT]
    if not founding or p.resolution_id is not None:
        state.active_member(e.actor, e.day, "actor")
        if p.resolution_id is None:
            raise Refused(
                "after the founding appointment a seat is filled only by a board resolution",
                "resolution_id",
                status=403,
                rule=Rule.SEAT_BY_RESOLUTION,
            )
        resolution = state.need(Projection.RESOLUTION, p.resolution_id, Resolution, "resolution_id")
        m = resolution.motion
        wanted = (p.seat, p.member, p.term_start, p.term_end)
        if not isinstance(m, ev.FillSeat) or (m.seat, m.member, m.term_start, m.term_end) != wanted:
            raise Refused(
                f"resolution {p.resolution_id!r} does not fill seat {p.seat} with {p.member!r} "
                f"for {p.term_start}..{p.term_end}",
                "resolution_id",
                status=403,
                rule=Rule.SEAT_BY_RESOLUTION,
            )
        if resolution.used_by is not None:
            raise Refused(
                f"resolution {p.resolution_id!r} was already used by {resolution.used_by}",
                "resolution_id",
                rule=Rule.RESOLUTION_MATCHES,
            )
    if resolution is not None:
        resolution.used_by = e.event_id
        state.put(Projection.RESOLUTION, resolution.resolution_id, resolution)
    seat = Seat(seat=p.seat, member=p.member, term_start=p.term_start, term_end=p.term_end)
    state.put(Projection.SEAT, str(p.seat), seat)


@handles(EventType.MOTION_PROPOSED)
def _propose(state: State, p: ev.MotionProposed, e: ev.Event) -> None:
    _started(state)
    if p.proposer != e.actor:
        raise Refused(
            f"{e.actor!r} cannot propose for {p.proposer!r}", "proposer", 403, Rule.VOTE_AS_SELF
        )
    state.active_member(p.proposer, e.day, "proposer")
    if p.motion_id in state.tables[Projection.MOTION]:
        raise Refused(f"motion {p.motion_id!r} exists", "motion_id", rule=Rule.UNIQUE_ID)
    m = p.motion
    if isinstance(m, ev.AcceptContribution | ev.RejectContribution):
        fund = state.need(Projection.FUND, m.contribution_id, Fund, "motion.contribution_id")
        if fund.status is not FundStatus.PENDING:
            raise Refused(
                f"contribution {m.contribution_id!r} is {fund.status.value}",
                "motion.contribution_id",
            )
    if isinstance(m, ev.SetPriceBand) and m.floor_usd_per_t > m.ceiling_usd_per_t:
        raise Refused(
            "the floor is above the ceiling", "motion.floor_usd_per_t", 422, Rule.DATES_IN_ORDER
        )
    if isinstance(m, ev.FillSeat) and m.term_end < m.term_start:
        raise Refused("term ends before it starts", "motion.term_end", 422, Rule.DATES_IN_ORDER)
    state.put(
        Projection.MOTION,
        p.motion_id,
        MotionState(motion_id=p.motion_id, motion=m, proposer=p.proposer, proposed_on=e.day),
    )


def _open_motion(state: State, motion_id: str) -> MotionState:
    motion = state.need(Projection.MOTION, motion_id, MotionState, "motion_id")
    if motion.status is not MotionStatus.OPEN:
        raise Refused(
            f"motion {motion_id!r} is {motion.status.value}", "motion_id", rule=Rule.MOTION_OPEN
        )
    return motion


@handles(EventType.VOTE_CAST)
def _vote(state: State, p: ev.VoteCast, e: ev.Event) -> None:
    motion = _open_motion(state, p.motion_id)
    if p.member != e.actor:
        raise Refused(f"{e.actor!r} cannot vote for {p.member!r}", "member", 403, Rule.VOTE_AS_SELF)
    state.active_member(p.member, e.day, "member")
    if p.member in motion.votes:
        raise Refused(
            f"{p.member!r} already voted on {p.motion_id!r}", "member", rule=Rule.ONE_VOTE
        )
    motion.votes[p.member] = p.vote
    state.put(Projection.MOTION, p.motion_id, motion)


def tally(motion: MotionState, state: State, day: date) -> ev.MotionClosed:
    """Quorum: four members voting yes, no or abstain (recused members do not count).
    Passed: quorum and a majority of the votes cast (yes > no; abstentions are not cast).
    Counted at close: only the votes of members who still hold a seat in term on ``day``."""
    seated = {m: v for m, v in motion.votes.items() if state.seat_of(m, day) is not None}
    counts = {v: sum(1 for x in seated.values() if x is v) for v in Vote}
    present = counts[Vote.YES] + counts[Vote.NO] + counts[Vote.ABSTAIN]
    return ev.MotionClosed(
        motion_id=motion.motion_id,
        passed=present >= QUORUM and counts[Vote.YES] > counts[Vote.NO],
        yes=counts[Vote.YES],
        no=counts[Vote.NO],
        abstain=counts[Vote.ABSTAIN],
        recused=counts[Vote.RECUSED],
    )


@handles(EventType.MOTION_CLOSED)
def _close(state: State, p: ev.MotionClosed, e: ev.Event) -> None:
    motion = _open_motion(state, p.motion_id)
    state.active_member(e.actor, e.day, "actor")
    if tally(motion, state, e.day) != p:
        raise Refused(
            f"recorded tally {p} does not match the votes", "motion_id", rule=Rule.TALLY_AT_CLOSE
        )
    m = motion.motion
    fund = None
    if isinstance(m, ev.AcceptContribution | ev.RejectContribution) and p.passed:
        fund = state.need(Projection.FUND, m.contribution_id, Fund, "motion_id")
        if fund.status is not FundStatus.PENDING:
            raise Refused(
                f"contribution {m.contribution_id!r} is already {fund.status.value}", "motion_id"
            )
    motion.status = MotionStatus.PASSED if p.passed else MotionStatus.FAILED
    state.put(Projection.MOTION, p.motion_id, motion)
    if not p.passed:
        return
    rid = p.motion_id
    state.put(Projection.RESOLUTION, rid, Resolution(resolution_id=rid, motion=m, passed_on=e.day))
    if fund is not None:
        accept = isinstance(m, ev.AcceptContribution)
        fund.status = FundStatus.ACCEPTED if accept else FundStatus.REJECTED
        fund.resolution_id = rid
        state.put(Projection.FUND, fund.fund_id, fund)
    elif isinstance(m, ev.DeclareSupplyShock):
        shock = Shock(
            shock_id=rid,
            minerals=m.minerals,
            description=m.description,
            declared_on=e.day,
            ends=m.ends,
        )
        state.put(Projection.SHOCK, rid, shock)
    elif isinstance(m, ev.SetPriceBand):
        band = PriceBand(
            mineral=m.mineral,
            floor_usd_per_t=m.floor_usd_per_t,
            ceiling_usd_per_t=m.ceiling_usd_per_t,
            resolution_id=rid,
        )
        state.put(Projection.PRICE_BAND, m.mineral, band)
    elif isinstance(m, ev.SetThreshold):
        settings = state.settings
        settings.threshold_usd = m.threshold_usd
        state.put(Projection.SETTINGS, SETTINGS, settings)
    elif isinstance(m, ev.DesignatePriceSource):
        settings = state.settings
        settings.price_source = m.source
        state.put(Projection.SETTINGS, SETTINGS, settings)


@handles(EventType.CONTRIBUTION_PROPOSED)
def _contribution(state: State, p: ev.ContributionProposed, e: ev.Event) -> None:
    _started(state)
    if p.contribution_id.lower() in RESERVED_FUND_IDS:
        raise Refused(
            f"{p.contribution_id!r} is reserved for the ledger's own funds",
            "contribution_id",
            422,
            Rule.RESERVED_FUND_ID,
        )
    if p.contribution_id in state.tables[Projection.FUND]:
        raise Refused(f"fund {p.contribution_id!r} exists", "contribution_id", rule=Rule.UNIQUE_ID)
    fund = Fund(
        fund_id=p.contribution_id,
        kind=FundKind.CONTRIBUTION,
        partner=p.partner,
        amount_usd=p.amount_usd,
        status=FundStatus.PENDING,
        earmark=list(p.earmark),
        conditions=p.conditions,
    )
    state.put(Projection.FUND, p.contribution_id, fund)


@handles(EventType.PRICE_RECORDED)
def _price(state: State, p: ev.PriceRecorded, e: ev.Event) -> None:
    _started(state)
    if p.as_of > e.day:
        raise Refused(
            f"as_of {p.as_of} is in the future (today is {e.day})",
            "as_of",
            422,
            Rule.PRICE_NOT_FUTURE,
        )
    key = p.mineral if p.form is None else price_key(p.mineral, p.form)
    old = state.get(Projection.PRICE, key, Price)
    if old is None or p.as_of >= old.as_of:
        state.put(Projection.PRICE, key, Price(**p.model_dump()))


@handles(EventType.ACQUISITION)
def _acquire(state: State, p: ev.Acquisition, e: ev.Event) -> None:
    settings = state.settings
    cost = usd(p.quantity_t * p.price_usd_per_t)
    lot = state.get(Projection.LOT, p.lot_id, Lot)
    if lot is not None and (lot.mineral, lot.form, lot.kind, lot.location) != (
        p.mineral,
        p.form,
        p.kind,
        p.location,
    ):
        raise Refused(
            f"lot {p.lot_id!r} holds {lot.kind.value} {lot.mineral} ({lot.form}) "
            f"at {lot.location}; this acquisition differs",
            "lot_id",
            rule=Rule.SAME_FORM,
        )
    # no market price from the designated source: treated as above market (needs a resolution)
    above = p.market_usd_per_t is None or p.price_usd_per_t > p.market_usd_per_t
    if above and not p.domestic_producer and p.market_usd_per_t is not None:
        raise Refused(
            f"price is above the market ({p.market_usd_per_t} USD/t); only a "
            "domestic producer may be paid above market",
            "price_usd_per_t",
            rule=Rule.ABOVE_MARKET,
        )
    resolution = None
    if above or cost > settings.threshold_usd:
        why = "above market" if above else f"cost {cost} USD exceeds the threshold"
        kinds = (MotionKind.AUTHORISE_ACQUISITION,)
        resolution = state.use_resolution(
            p.resolution_id, kinds, p.mineral, cost, why, above_market=above
        )
    plan = state.allocate(p.mineral, cost, "quantity_t")
    for fund, take in plan:
        fund.spent_usd = usd(fund.spent_usd + take)
        state.put(Projection.FUND, fund.fund_id, fund)
    if resolution is not None:
        resolution.used_by = e.event_id
        state.put(Projection.RESOLUTION, resolution.resolution_id, resolution)
    if lot is None:
        lot = Lot(
            lot_id=p.lot_id,
            kind=p.kind,
            mineral=p.mineral,
            form=p.form,
            grade=p.grade,
            location=p.location,
            quantity_t=ZERO,
            cost_usd=ZERO,
        )
    lot.quantity_t = tonnes(lot.quantity_t + p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd + cost)
    state.put(Projection.LOT, p.lot_id, lot)


@handles(EventType.RELEASE)
def _release(state: State, p: ev.Release, e: ev.Event) -> None:
    settings = state.settings
    trigger_rule = Rule.RELEASE_TRIGGER
    lot = state.need(Projection.LOT, p.lot_id, Lot, "lot_id")
    if p.trigger is Trigger.SUPPLY_SHOCK:
        if p.shock_id is None:
            raise Refused(
                "a release for a supply shock cites the shock", "shock_id", rule=trigger_rule
            )
        shock = state.need(Projection.SHOCK, p.shock_id, Shock, "shock_id")
        if not shock.active(lot.mineral, e.day):
            raise Refused(
                f"shock {p.shock_id!r} does not cover {lot.mineral} on {e.day}",
                "shock_id",
                rule=trigger_rule,
            )
    else:
        band = state.get(Projection.PRICE_BAND, lot.mineral, PriceBand)
        if band is None:
            raise Refused(
                f"the board has set no price band for {lot.mineral}", "trigger", rule=trigger_rule
            )
        if p.market_usd_per_t is None or p.market_usd_per_t <= band.ceiling_usd_per_t:
            raise Refused(
                f"market price {p.market_usd_per_t} USD/t (source: "
                f"{settings.price_source.value}) is not above the band's "
                f"ceiling {band.ceiling_usd_per_t} USD/t",
                "trigger",
                rule=trigger_rule,
            )
    cost_out = state.lot_share(lot, p.quantity_t, "quantity_t")
    proceeds = usd(p.quantity_t * p.price_usd_per_t)
    cheap = p.market_usd_per_t is None or p.price_usd_per_t < p.market_usd_per_t * (
        1 - BELOW_MARKET_TOLERANCE
    )
    value_out = max(cost_out, proceeds)
    if cheap and value_out <= settings.threshold_usd:
        if p.resolution_id is None:
            raise Refused(
                f"price {p.price_usd_per_t} USD/t is more than {BELOW_MARKET_TOLERANCE:.0%} "
                f"below the market ({p.market_usd_per_t} USD/t): a board resolution is required",
                "resolution_id",
                rule=Rule.SALE_BELOW_MARKET,
            )
        res = state.use_resolution(
            p.resolution_id, (MotionKind.AUTHORISE_RELEASE,), lot.mineral, value_out, "sale"
        )
        res.used_by = e.event_id
        state.put(Projection.RESOLUTION, res.resolution_id, res)
    state.authorise_outflow(p.resolution_id, lot.mineral, value_out, "sale", e.event_id)
    lot.quantity_t = tonnes(lot.quantity_t - p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd - cost_out)
    state.put(Projection.LOT, lot.lot_id, lot)
    state.credit_proceeds(proceeds)
    settings.realised_gain_usd = usd(settings.realised_gain_usd + proceeds - cost_out)
    state.put(Projection.SETTINGS, SETTINGS, settings)


@handles(EventType.LOAN)
def _loan(state: State, p: ev.Loan, e: ev.Event) -> None:
    settings = state.settings
    lot = state.need(Projection.LOT, p.lot_id, Lot, "lot_id")
    if p.loan_id in state.tables[Projection.LOAN]:
        raise Refused(f"loan {p.loan_id!r} exists", "loan_id", rule=Rule.UNIQUE_ID)
    if p.return_date <= e.day:
        raise Refused(
            "the return date must be after today", "return_date", 422, Rule.DATES_IN_ORDER
        )
    if (p.return_date - e.day).days > MAX_LOAN_DAYS:
        raise Refused(
            f"a loan or swap runs at most {MAX_LOAN_DAYS} days; {p.return_date} is "
            f"{(p.return_date - e.day).days} days away",
            "return_date",
            422,
            Rule.MAX_LOAN_TERM,
        )
    cost_out = state.lot_share(lot, p.quantity_t, "quantity_t")
    state.authorise_outflow(p.resolution_id, lot.mineral, cost_out, "loan", e.event_id)
    lot.quantity_t = tonnes(lot.quantity_t - p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd - cost_out)
    state.put(Projection.LOT, lot.lot_id, lot)
    loan = LoanState(
        loan_id=p.loan_id,
        kind=p.kind,
        lot_id=p.lot_id,
        mineral=lot.mineral,
        form=lot.form,
        lot_kind=lot.kind,
        quantity_t=p.quantity_t,
        outstanding_t=p.quantity_t,
        cost_usd=cost_out,
        counterparty=p.counterparty,
        counterparty_country=p.counterparty_country,
        return_date=p.return_date,
    )
    state.put(Projection.LOAN, p.loan_id, loan)
    if p.fee_usd > 0:
        state.credit_proceeds(p.fee_usd)
        settings.realised_gain_usd = usd(settings.realised_gain_usd + p.fee_usd)
        state.put(Projection.SETTINGS, SETTINGS, settings)


@handles(EventType.LOAN_RETURNED)
def _loan_returned(state: State, p: ev.LoanReturned, e: ev.Event) -> None:
    loan = state.need(Projection.LOAN, p.loan_id, LoanState, "loan_id")
    if p.quantity_t > loan.outstanding_t:
        raise Refused(
            f"loan {p.loan_id!r} has {loan.outstanding_t} t outstanding",
            "quantity_t",
            rule=Rule.STOCK_NON_NEGATIVE,
        )
    lot = state.need(Projection.LOT, p.lot_id or loan.lot_id, Lot, "lot_id")
    if (lot.mineral, lot.form, lot.kind) != (loan.mineral, loan.form, loan.lot_kind):
        raise Refused(
            f"lot {lot.lot_id!r} holds {lot.kind.value} {lot.mineral} ({lot.form}), not "
            f"{loan.lot_kind.value} {loan.mineral} ({loan.form})",
            "lot_id",
            rule=Rule.SAME_FORM,
        )
    back = (
        loan.cost_usd
        if p.quantity_t == loan.outstanding_t
        else usd(loan.cost_usd * p.quantity_t / loan.outstanding_t)
    )
    loan.outstanding_t = tonnes(loan.outstanding_t - p.quantity_t)
    loan.cost_usd = usd(loan.cost_usd - back)
    if loan.outstanding_t == 0:
        loan.status = LoanStatus.RETURNED
    lot.quantity_t = tonnes(lot.quantity_t + p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd + back)
    state.put(Projection.LOAN, loan.loan_id, loan)
    state.put(Projection.LOT, lot.lot_id, lot)


@handles(EventType.TRANSFER)
def _transfer(state: State, p: ev.Transfer, e: ev.Event) -> None:
    lot = state.need(Projection.LOT, p.lot_id, Lot, "lot_id")
    if p.to_lot_id == p.lot_id:
        raise Refused("a transfer goes to another lot", "to_lot_id", 422, Rule.SAME_FORM)
    target = state.get(Projection.LOT, p.to_lot_id, Lot)
    if target is not None and (target.mineral, target.form, target.kind, target.location) != (
        lot.mineral,
        lot.form,
        lot.kind,
        p.to_location,
    ):
        raise Refused(
            f"lot {p.to_lot_id!r} holds {target.kind.value} {target.mineral} ({target.form}) "
            f"at {target.location}",
            "to_lot_id",
            rule=Rule.SAME_FORM,
        )
    moved = state.lot_share(lot, p.quantity_t, "quantity_t")
    state.authorise_outflow(p.resolution_id, lot.mineral, moved, "transfer", e.event_id)
    if target is None:
        target = Lot(
            lot_id=p.to_lot_id,
            kind=lot.kind,
            mineral=lot.mineral,
            form=lot.form,
            grade=lot.grade,
            location=p.to_location,
            quantity_t=ZERO,
            cost_usd=ZERO,
        )
    lot.quantity_t = tonnes(lot.quantity_t - p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd - moved)
    target.quantity_t = tonnes(target.quantity_t + p.quantity_t)
    target.cost_usd = usd(target.cost_usd + moved)
    state.put(Projection.LOT, lot.lot_id, lot)
    state.put(Projection.LOT, target.lot_id, target)


@handles(EventType.WRITE_DOWN)
def _write_down(state: State, p: ev.WriteDown, e: ev.Event) -> None:
    settings = state.settings
    lot = state.need(Projection.LOT, p.lot_id, Lot, "lot_id")
    if p.quantity_t == 0 and p.value_usd == 0:
        raise Refused("a write-down reduces the quantity or the value", "quantity_t", 422)
    lost = state.lot_share(lot, p.quantity_t, "quantity_t") if p.quantity_t else ZERO
    if p.value_usd > lot.cost_usd - lost:
        raise Refused(f"lot {lot.lot_id!r} carries {lot.cost_usd - lost} USD", "value_usd")
    loss = usd(lost + p.value_usd)
    lot.quantity_t = tonnes(lot.quantity_t - p.quantity_t)
    lot.cost_usd = usd(lot.cost_usd - loss)
    lot.written_down_usd = usd(lot.written_down_usd + loss)
    settings.written_down_usd = usd(settings.written_down_usd + loss)
    state.put(Projection.LOT, lot.lot_id, lot)
    state.put(Projection.SETTINGS, SETTINGS, settings)


@handles(EventType.CONTRACT_SIGNED)
def _contract(state: State, p: ev.ContractSigned, e: ev.Event) -> None:
    settings = state.settings
    if p.contract_id in state.tables[Projection.CONTRACT]:
        raise Refused(f"contract {p.contract_id!r} exists", "contract_id", rule=Rule.UNIQUE_ID)
    if p.end < p.start:
        raise Refused("the contract ends before it starts", "end", 422, Rule.DATES_IN_ORDER)
    value = usd(p.volume_t * p.price_usd_per_t)
    if value > settings.threshold_usd:
        why = f"contract value {value} USD exceeds the threshold"
        res = state.use_resolution(
            p.resolution_id, (MotionKind.AUTHORISE_ACQUISITION,), p.mineral, value, why
        )
        res.used_by = e.event_id
        state.put(Projection.RESOLUTION, res.resolution_id, res)
    state.put(Projection.CONTRACT, p.contract_id, Contract(**p.model_dump()))


@handles(EventType.CHECKPOINT)
def _checkpoint(state: State, p: ev.Checkpoint, e: ev.Event) -> None:
    """A checkpoint covers the head it was appended after (signature checked on admission)."""
    _started(state)
    if (p.seq, p.head) != (state.seq, state.head):
        raise Refused(
            f"checkpoint signs event {p.seq} ({p.head[:12]}...) but the head is event "
            f"{state.seq} ({state.head[:12]}...)",
            "head",
            rule=Rule.CHECKPOINT_HEAD,
        )
    state.put(Projection.CHECKPOINT, "latest", CheckpointState(**p.model_dump()))
