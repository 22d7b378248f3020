"""A security test per control of issue 11: each attack from the review is refused, names its
rule, and writes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from ledger_world import MEMBERS, MINERAL, acquisition, release, resolve, seat_board

from critmin.ledger import events as ev
from critmin.ledger.errors import Refused
from critmin.ledger.service import Ledger
from critmin.ledger.state import PROCEEDS, Fund, MotionState, State
from critmin.ledger.vocabulary import FundKind, Projection, Rule, Trigger, Vote

TODAY = date.today()


def state(db: Ledger) -> State:
    return db.read(lambda s: s)


def refused(db: Ledger, payload: ev.Payload, rule: Rule, actor: str = "operator") -> Refused:
    before = db.head()
    with pytest.raises(Refused) as info:
        db.submit(payload, actor)
    assert info.value.rule == rule, info.value.message
    assert rule.value in info.value.message
    assert db.head() == before, "a refused command wrote an event"
    return info.value


def seat(n: int, member: str, rid: str | None = None) -> ev.SeatFilled:
    return ev.SeatFilled(
        seat=n,
        member=member,
        term_start=date(2025, 1, 1),
        term_end=date(2035, 1, 1),
        resolution_id=rid,
    )


def fill(n: int, member: str) -> ev.FillSeat:
    return ev.FillSeat.model_validate(seat(n, member).model_dump(exclude={"resolution_id"}))


def test_seats_change_only_by_resolution_and_only_members_act(world: Ledger) -> None:
    # after the founding appointment, a seat cannot simply be taken, by anyone
    refused(world, seat(7, "intruder"), Rule.BOARD_SEAT_HOLDER, actor="intruder")
    refused(world, seat(7, "intruder"), Rule.SEAT_BY_RESOLUTION, actor=MEMBERS[0])
    # a resolution for another seat or member does not do
    resolve(world, "fill", fill(6, "newcomer"))
    refused(world, seat(7, "newcomer", "fill"), Rule.SEAT_BY_RESOLUTION, actor=MEMBERS[0])
    world.submit(seat(6, "newcomer", "fill"), MEMBERS[0])
    # the resolution is spent
    refused(world, seat(6, "newcomer", "fill"), Rule.RESOLUTION_MATCHES, actor=MEMBERS[0])
    # nobody votes or closes for someone else, and an unseated member cannot close
    world.submit(
        ev.MotionProposed(motion_id="m", motion=ev.General(text="x"), proposer=MEMBERS[0]),
        MEMBERS[0],
    )
    refused(world, ev.VoteCast(motion_id="m", member=MEMBERS[1], vote=Vote.YES), Rule.VOTE_AS_SELF)
    closing = ev.MotionClosed(motion_id="m", passed=False, yes=0, no=0, abstain=0, recused=0)
    refused(world, closing, Rule.BOARD_SEAT_HOLDER, actor=MEMBERS[5])  # seat 6 was refilled


def test_reseating_adds_no_votes_to_an_open_motion(ledger: Ledger) -> None:
    seat_board(ledger)
    resolve(ledger, "f", fill(3, "replacement"))
    ledger.submit(
        ev.MotionProposed(motion_id="m", motion=ev.General(text="x"), proposer=MEMBERS[0]),
        MEMBERS[0],
    )
    for member in MEMBERS[:3]:  # members 1-3 vote yes; member 3 then loses the seat
        ledger.submit(ev.VoteCast(motion_id="m", member=member, vote=Vote.YES), member)
    ledger.submit(seat(3, "replacement", "f"), MEMBERS[0])
    ledger.submit(ev.VoteCast(motion_id="m", member="replacement", vote=Vote.YES), "replacement")
    motion = state(ledger).get(Projection.MOTION, "m", MotionState)
    assert motion is not None
    assert len(motion.votes) == 4  # recorded, but member3's no longer counts
    closing = ev.MotionClosed(motion_id="m", passed=False, yes=0, no=0, abstain=0, recused=0)
    closed = ledger.submit(closing, MEMBERS[0]).event.payload
    assert isinstance(closed, ev.MotionClosed)
    assert (closed.yes, closed.passed) == (3, False)  # 3 seated yes votes: no quorum


def test_reserved_fund_ids_and_proceeds_land_in_the_ledgers_fund(world: Ledger) -> None:
    for name in (PROCEEDS, "appropriation", "Proceeds"):
        squat = ev.ContributionProposed(contribution_id=name, partner="JPN", amount_usd=Decimal(1))
        refused(world, squat, Rule.RESERVED_FUND_ID, actor="jp")
    world.submit(release(), "operator")
    fund = state(world).get(Projection.FUND, PROCEEDS, Fund)
    assert fund is not None
    assert fund.kind is FundKind.PROCEEDS
    assert fund.amount_usd == Decimal(38000)


def test_an_operator_price_unlocks_nothing_and_cannot_be_in_the_future(world: Ledger) -> None:
    # the world recorded an operator price of 30,000; the checks use the bundled price
    resolve(
        world,
        "band",
        ev.SetPriceBand(
            mineral=MINERAL, floor_usd_per_t=Decimal(1), ceiling_usd_per_t=Decimal(45000)
        ),
    )
    world.submit(
        ev.PriceRecorded(mineral=MINERAL, usd_per_t=Decimal("1e6"), as_of=TODAY, source="me"),
        "operator",
    )
    above_band = release().model_copy(
        update={"trigger": Trigger.PRICE_ABOVE_BAND, "shock_id": None}
    )
    refused(world, above_band, Rule.RELEASE_TRIGGER)
    dear = acquisition("dear", "1", price_usd_per_t="3000000")
    refused(world, dear, Rule.ABOVE_MARKET)
    future = ev.PriceRecorded(
        mineral=MINERAL, usd_per_t=Decimal(1), as_of=TODAY + timedelta(days=1), source="x"
    )
    refused(world, future, Rule.PRICE_NOT_FUTURE, actor="analyst")
    far = future.model_copy(update={"as_of": date(9999, 12, 31)})
    refused(world, far, Rule.PRICE_NOT_FUTURE, actor="analyst")


def test_value_leaving_the_reserve_is_counted_at_book_value(world: Ledger) -> None:
    resolve(world, "t", ev.SetThreshold(threshold_usd=Decimal(100000)))
    # 10 t at 30,000 = 300,000 book value > 100,000 threshold: sold for almost nothing
    cheap = release(quantity="10").model_copy(update={"price_usd_per_t": Decimal(7)})
    refused(world, cheap, Rule.RESOLUTION_REQUIRED)
    # a small cheap sale under the threshold still needs a resolution (below market)
    small = release(quantity="1").model_copy(update={"price_usd_per_t": Decimal(7)})
    refused(world, small, Rule.SALE_BELOW_MARKET)
    loan = ev.Loan(
        loan_id="L",
        lot_id="lot1",
        quantity_t=Decimal(10),
        counterparty="x",
        counterparty_country="JPN",
        return_date=TODAY + timedelta(days=30),
    )
    refused(world, loan, Rule.RESOLUTION_REQUIRED)
    long = loan.model_copy(update={"quantity_t": Decimal(1), "return_date": date(9999, 1, 1)})
    refused(world, long, Rule.MAX_LOAN_TERM)
    move = ev.Transfer(lot_id="lot1", quantity_t=Decimal(10), to_lot_id="x", to_location="b")
    refused(world, move, Rule.RESOLUTION_REQUIRED)
    resolve(world, "ok", ev.AuthoriseRelease(mineral=MINERAL, max_usd=Decimal(300000)))
    world.submit(move.model_copy(update={"resolution_id": "ok"}), "operator")


def test_forms_must_match_on_return_and_transfer(world: Ledger) -> None:
    # cobalt has one reserve form (metal): the other lot differs in kind (financial)
    world.submit(acquisition("fin", "1", kind="financial"), "operator")
    loan = ev.Loan(
        loan_id="L",
        lot_id="lot1",
        quantity_t=Decimal(1),
        counterparty="x",
        counterparty_country="JPN",
        return_date=TODAY + timedelta(days=30),
    )
    world.submit(loan, "operator")
    back = ev.LoanReturned(loan_id="L", quantity_t=Decimal(1), lot_id="fin")
    refused(world, back, Rule.SAME_FORM)
    move = ev.Transfer(lot_id="lot1", quantity_t=Decimal(1), to_lot_id="fin", to_location="depot-a")
    refused(world, move, Rule.SAME_FORM)


def test_idempotency_keys_belong_to_their_user(world: Ledger) -> None:
    mine = world.submit(release(rid="a"), "alice", key="k1")
    theirs = world.submit(release(rid="b"), "bob", key="k1")  # same key, other user: no clash
    assert not theirs.replayed
    assert mine.event.event_id != theirs.event.event_id
    assert world.submit(release(rid="a"), "alice", key="k1").replayed
