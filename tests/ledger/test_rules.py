"""The ledger's rules, on each backend: invariants, governance, funds, idempotency, replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ledger_world import MEMBERS, MINERAL, SOON, acquisition, release, resolve, seat_board

from critmin.ledger import events as ev
from critmin.ledger.errors import IdempotencyConflict, Refused
from critmin.ledger.public import public_transactions
from critmin.ledger.service import Ledger
from critmin.ledger.state import Fund, Lot, State
from critmin.ledger.valuation import valuation
from critmin.ledger.verify import verify
from critmin.ledger.vocabulary import FundStatus, Projection, Trigger


def state(db: Ledger) -> State:
    return db.read(lambda s: s)


def lot(db: Ledger, lot_id: str = "lot1") -> Lot:
    found = state(db).get(Projection.LOT, lot_id, Lot)
    assert found is not None
    return found


def refused(db: Ledger, payload: ev.Payload, field: str, actor: str = "operator") -> Refused:
    before = db.head()
    with pytest.raises(Refused) as info:
        db.submit(payload, actor)
    assert info.value.field == field, info.value.message
    assert db.head() == before, "a refused command wrote an event"
    return info.value


def test_replay_rebuilds_every_projection_exactly(world: Ledger) -> None:
    db = world
    resolve(
        db,
        "band1",
        ev.SetPriceBand(
            mineral=MINERAL, floor_usd_per_t=Decimal(20000), ceiling_usd_per_t=Decimal(40000)
        ),
    )
    db.submit(
        ev.ContributionProposed(
            contribution_id="jpn1", partner="JPN", amount_usd=Decimal("1e6"), earmark=[MINERAL]
        ),
        "jp",
    )
    resolve(db, "accept1", ev.AcceptContribution(contribution_id="jpn1"))
    db.submit(acquisition("lot2", "5"), "operator")
    db.submit(release(quantity="2"), "operator")
    db.submit(
        ev.Loan(
            loan_id="loan1",
            lot_id="lot1",
            quantity_t=Decimal(1),
            counterparty="Ally",
            counterparty_country="JPN",
            return_date=date.fromisoformat(SOON),
            fee_usd=Decimal(500),
        ),
        "operator",
    )
    db.submit(ev.LoanReturned(loan_id="loan1", quantity_t=Decimal("0.5")), "operator")
    db.submit(
        ev.Transfer(lot_id="lot2", quantity_t=Decimal(1), to_lot_id="lot3", to_location="depot-b"),
        "operator",
    )
    db.submit(
        ev.WriteDown(
            lot_id="lot3", quantity_t=Decimal("0.1"), value_usd=Decimal(100), reason="spillage"
        ),
        "operator",
    )
    resolve(db, "src", ev.DesignatePriceSource(source="analyst"))
    db.submit(
        ev.PriceRecorded(
            mineral=MINERAL, usd_per_t=Decimal(50000), as_of=date(2025, 6, 1), source="LME"
        ),
        "analyst",
    )
    db.submit(
        release(quantity="1", rid="r2").model_copy(
            update={
                "trigger": Trigger.PRICE_ABOVE_BAND,
                "shock_id": None,
                "price_usd_per_t": Decimal(50000),
            }
        ),
        "operator",
    )
    db.submit(
        ev.ContractSigned(
            contract_id="c1",
            kind="offtake",
            counterparty="Mine",
            counterparty_country="CAN",
            mineral=MINERAL,
            volume_t=Decimal(10),
            price_usd_per_t=PRICE_,
            start=date(2025, 1, 1),
            end=date(2030, 1, 1),
        ),
        "operator",
    )
    replayed = db.replay()
    assert replayed.rows() == db.stored_projections()
    assert replayed.rows() == state(db).rows()
    report = verify(db)
    assert report.ok, report.problems
    # the earmarked partner money paid for cobalt first
    jpn = replayed.get(Projection.FUND, "jpn1", Fund)
    assert jpn is not None
    assert jpn.spent_usd == Decimal(150000)
    assert lot(db).quantity_t == Decimal("6.5")  # 10 - 2 - 1 (loan) + 0.5 - 1 (sold above band)
    value = db.read(lambda s: valuation(s, db.reference))
    assert value["realised_gain_usd"] == "36500.00"  # 2 x 8,000 + 500 fee + 20,000
    assert Decimal(value["total_market_value_usd"]) > 0


PRICE_ = Decimal(30000)


def test_public_view_hides_confidential_fields(world: Ledger) -> None:
    world.submit(release(), "operator")
    rows = public_transactions(world.events())
    assert [r["type"] for r in rows] == ["acquisition", "release"]
    for row in rows:
        assert {"seller", "buyer", "location", "intermediary"}.isdisjoint(row)
    assert rows[0]["quantity_t"] == "10.000000"
    assert rows[0]["price_usd_per_t"] == "30000.00"


def test_a_retry_returns_the_first_result_and_writes_nothing(world: Ledger) -> None:
    first = world.submit(release(), "operator", key="k-1")
    head = world.head()
    again = world.submit(release(), "operator", key="k-1")
    assert again.replayed
    assert again.event == first.event
    assert world.head() == head
    assert lot(world).quantity_t == 9
    with pytest.raises(IdempotencyConflict):
        world.submit(release(quantity="2"), "operator", key="k-1")
    assert world.head() == head


def test_no_lot_goes_negative(world: Ledger) -> None:
    refused(world, release(quantity="10.000001"), "quantity_t")
    refused(
        world,
        ev.Transfer(lot_id="lot1", quantity_t=Decimal(11), to_lot_id="x", to_location="y"),
        "quantity_t",
    )
    world.submit(release(quantity="10"), "operator")
    assert lot(world).quantity_t == 0
    assert lot(world).cost_usd == 0


def test_spending_stays_within_accepted_funds_and_earmarks(ledger: Ledger) -> None:
    seat_board(ledger)
    resolve(ledger, "t", ev.SetThreshold(threshold_usd=Decimal("1e13")))
    ledger.submit(
        ev.ContributionProposed(
            contribution_id="kor1", partner="KOR", amount_usd=Decimal("1e9"), earmark=["lithium"]
        ),
        "kr",
    )
    # 2.5e9 appropriation; pending (and lithium-earmarked) money cannot pay for cobalt
    big = acquisition("big", "83334")  # 83,334 t x 30,000 = 2,500,020,000 USD
    refused(ledger, big, "quantity_t")
    resolve(ledger, "acc", ev.AcceptContribution(contribution_id="kor1"))
    refused(ledger, big, "quantity_t")
    ledger.submit(acquisition("ok", "83333"), "operator")
    lithium = acquisition(
        "li", "100000", mineral="lithium", form="chemical", price_usd_per_t="9000"
    )
    ledger.submit(lithium, "operator")
    kor = state(ledger).get(Projection.FUND, "kor1", Fund)
    assert kor is not None
    assert kor.spent_usd == Decimal("9e8")
    assert kor.status is FundStatus.ACCEPTED


def test_resolution_needed_above_threshold_and_above_market(world: Ledger) -> None:
    above = acquisition("big", "1000")  # 30 M USD > 25 M threshold
    refused(world, above, "resolution_id")
    resolve(world, "auth1", ev.AuthoriseAcquisition(mineral=MINERAL, max_usd=Decimal("3e7")))
    world.submit(above.model_copy(update={"resolution_id": "auth1"}), "operator")
    refused(
        world, above.model_copy(update={"lot_id": "b2", "resolution_id": "auth1"}), "resolution_id"
    )  # used once
    dear = acquisition("dear", "1", price_usd_per_t="40000")
    refused(world, dear, "price_usd_per_t")  # above market, not a domestic producer
    domestic = dear.model_copy(update={"domestic_producer": True})
    refused(world, domestic, "resolution_id")
    resolve(
        world,
        "dom",
        ev.AuthoriseAcquisition(mineral=MINERAL, max_usd=Decimal("1e5"), above_market=True),
    )
    world.submit(domestic.model_copy(update={"resolution_id": "dom"}), "operator")


def test_quorum_four_and_majority_of_votes_cast(ledger: Ledger) -> None:
    seat_board(ledger)
    assert resolve(ledger, "m1", ev.General(text="a"), yes=4).passed
    assert not resolve(ledger, "m2", ev.General(text="b"), yes=3).passed
    motion = ev.MotionProposed(motion_id="m3", motion=ev.General(text="c"), proposer=MEMBERS[0])
    ledger.submit(motion, MEMBERS[0])
    for member, vote in zip(
        MEMBERS[:5], ["yes", "yes", "abstain", "recused", "recused"], strict=True
    ):
        ledger.submit(
            ev.VoteCast.model_validate({"motion_id": "m3", "member": member, "vote": vote}), member
        )
    closed = ev.MotionClosed(motion_id="m3", passed=True, yes=9, no=0, abstain=0, recused=0)
    result = ledger.submit(closed, MEMBERS[0]).event.payload
    assert isinstance(result, ev.MotionClosed)
    assert (result.passed, result.yes, result.abstain, result.recused) == (False, 2, 1, 2)
    refused(
        ledger, ev.VoteCast(motion_id="m3", member=MEMBERS[6], vote="yes"), "motion_id", MEMBERS[6]
    )
    refused(ledger, ev.VoteCast(motion_id="m1", member="stranger", vote="yes"), "motion_id")
    ledger.submit(
        ev.MotionProposed(motion_id="m4", motion=ev.General(text="d"), proposer=MEMBERS[1]),
        MEMBERS[1],
    )
    refused(ledger, ev.VoteCast(motion_id="m4", member="stranger", vote="yes"), "member")
    ledger.submit(ev.VoteCast(motion_id="m4", member=MEMBERS[1], vote="yes"), MEMBERS[1])
    refused(ledger, ev.VoteCast(motion_id="m4", member=MEMBERS[1], vote="no"), "member")


def test_feoc_and_unknown_minerals_are_refused(world: Ledger) -> None:
    refused(world, acquisition("x", seller_country="CHN"), "seller_country")
    refused(world, release().model_copy(update={"buyer_country": "RUS"}), "buyer_country")
    feoc = ev.ContributionProposed(contribution_id="c", partner="IRN", amount_usd=Decimal(1))
    refused(world, feoc, "partner")
    refused(world, acquisition("x", mineral="unobtainium"), "mineral")
    earmark = ev.ContributionProposed(
        contribution_id="c", partner="JPN", amount_usd=Decimal(1), earmark=["cobalt", "kryptonite"]
    )
    refused(world, earmark, "earmark[1]")


def test_releases_cite_a_valid_trigger(world: Ledger) -> None:
    refused(world, release().model_copy(update={"shock_id": None}), "shock_id")
    refused(world, release().model_copy(update={"shock_id": "nope"}), "shock_id")
    band = release().model_copy(update={"trigger": Trigger.PRICE_ABOVE_BAND, "shock_id": None})
    refused(world, band, "trigger")  # no band set
    resolve(
        world,
        "b",
        ev.SetPriceBand(
            mineral=MINERAL, floor_usd_per_t=Decimal(1), ceiling_usd_per_t=Decimal(40000)
        ),
    )
    refused(world, band, "trigger")  # market 30,000 is inside the band


def test_contributions_stay_pending_until_the_board_decides(world: Ledger) -> None:
    world.submit(
        ev.ContributionProposed(contribution_id="aus", partner="AUS", amount_usd=Decimal(5)), "au"
    )
    assert not resolve(world, "no", ev.RejectContribution(contribution_id="aus"), yes=3).passed
    fund = state(world).get(Projection.FUND, "aus", Fund)
    assert fund is not None
    assert fund.status is FundStatus.PENDING
    resolve(world, "rej", ev.RejectContribution(contribution_id="aus"))
    fund = state(world).get(Projection.FUND, "aus", Fund)
    assert fund is not None
    assert fund.status is FundStatus.REJECTED
