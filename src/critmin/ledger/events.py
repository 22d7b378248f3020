"""Event payloads, one pydantic model per event type, and the stored event envelope.

Fields marked ``confidential`` (``json_schema_extra``) are hidden in the public transactions
view; the marker travels with the model, so the OpenAPI description shows it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from critmin.ledger.vocabulary import (
    AcquisitionKind,
    ContractKind,
    EventType,
    LoanKind,
    MotionKind,
    PriceSource,
    Trigger,
    Vote,
)


def _grams(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.000001"))


def _cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"))


_T = {"le": Decimal("1e12"), "max_digits": 19, "decimal_places": 6}
_USD = {"le": Decimal("1e13"), "max_digits": 16, "decimal_places": 2}
#: Tonnes, to the gram (stored with six decimals); strictly positive.
Quantity = Annotated[Decimal, Field(gt=0, **_T), AfterValidator(_grams)]
#: Tonnes, to the gram; zero allowed.
QuantityOrZero = Annotated[Decimal, Field(ge=0, **_T), AfterValidator(_grams)]
#: U.S. dollars, to the cent (stored with two decimals).
Money = Annotated[Decimal, Field(ge=0, **_USD), AfterValidator(_cents)]
PositiveMoney = Annotated[Decimal, Field(gt=0, **_USD), AfterValidator(_cents)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
MineralId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3")]
Text = Annotated[str, Field(min_length=1, max_length=500)]
NoteText = Annotated[str, Field(max_length=2000)]


def confidential(**kwargs: Any) -> Any:
    """A field hidden from the public transactions view."""
    return Field(json_schema_extra={"confidential": True}, **kwargs)


class Payload(BaseModel):
    """Base of every event payload: frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Genesis(Payload):
    appropriation_usd: PositiveMoney
    threshold_usd: Money = Decimal("25000000")


class SeatFilled(Payload):
    """A seat filled for a term: by the founding appointment (before the board's first motion,
    each seat once) or by a passed ``fill_seat`` resolution naming the same seat, member and
    term."""

    seat: Annotated[int, Field(ge=1, le=7)]
    member: Ident
    term_start: date
    term_end: date
    resolution_id: Ident | None = None


class AcceptContribution(Payload):
    kind: Literal[MotionKind.ACCEPT_CONTRIBUTION] = MotionKind.ACCEPT_CONTRIBUTION
    contribution_id: Ident


class RejectContribution(Payload):
    kind: Literal[MotionKind.REJECT_CONTRIBUTION] = MotionKind.REJECT_CONTRIBUTION
    contribution_id: Ident


class DeclareSupplyShock(Payload):
    kind: Literal[MotionKind.DECLARE_SUPPLY_SHOCK] = MotionKind.DECLARE_SUPPLY_SHOCK
    minerals: Annotated[list[MineralId], Field(min_length=1, max_length=50)]
    description: Text
    ends: date | None = None


class SetPriceBand(Payload):
    kind: Literal[MotionKind.SET_PRICE_BAND] = MotionKind.SET_PRICE_BAND
    mineral: MineralId
    floor_usd_per_t: Money
    ceiling_usd_per_t: PositiveMoney


class SetThreshold(Payload):
    kind: Literal[MotionKind.SET_THRESHOLD] = MotionKind.SET_THRESHOLD
    threshold_usd: Money


class AuthoriseAcquisition(Payload):
    kind: Literal[MotionKind.AUTHORISE_ACQUISITION] = MotionKind.AUTHORISE_ACQUISITION
    mineral: MineralId
    max_usd: PositiveMoney
    above_market: bool = False


class AuthoriseRelease(Payload):
    kind: Literal[MotionKind.AUTHORISE_RELEASE] = MotionKind.AUTHORISE_RELEASE
    mineral: MineralId
    max_usd: PositiveMoney


class FillSeat(Payload):
    kind: Literal[MotionKind.FILL_SEAT] = MotionKind.FILL_SEAT
    seat: Annotated[int, Field(ge=1, le=7)]
    member: Ident
    term_start: date
    term_end: date


class DesignatePriceSource(Payload):
    kind: Literal[MotionKind.DESIGNATE_PRICE_SOURCE] = MotionKind.DESIGNATE_PRICE_SOURCE
    source: PriceSource


class General(Payload):
    kind: Literal[MotionKind.GENERAL] = MotionKind.GENERAL
    text: Text


Motion = Annotated[
    AcceptContribution
    | RejectContribution
    | DeclareSupplyShock
    | SetPriceBand
    | SetThreshold
    | AuthoriseAcquisition
    | AuthoriseRelease
    | FillSeat
    | DesignatePriceSource
    | General,
    Field(discriminator="kind"),
]


class MotionProposed(Payload):
    motion_id: Ident
    motion: Motion
    proposer: Ident


class VoteCast(Payload):
    motion_id: Ident
    member: Ident
    vote: Vote


class MotionClosed(Payload):
    """The tally is computed by the ledger when the motion is closed, and checked on replay."""

    motion_id: Ident
    passed: bool
    yes: int
    no: int
    abstain: int
    recused: int


class ContributionProposed(Payload):
    contribution_id: Ident
    partner: Country
    amount_usd: PositiveMoney
    earmark: Annotated[list[MineralId], Field(max_length=50, default_factory=list)]
    conditions: NoteText = ""


class PriceRecorded(Payload):
    mineral: MineralId
    form: Text | None = Field(
        default=None,
        description="the reserve form the price is for (reserve_forms: e.g. ndpr_oxide, "
        "chemical, metal), USD per t in the basis acquisitions use; may be omitted only for a "
        "mineral with one reserve form",
    )
    usd_per_t: PositiveMoney
    as_of: date
    source: Text


class Acquisition(Payload):
    lot_id: Ident
    kind: AcquisitionKind = AcquisitionKind.PHYSICAL
    mineral: MineralId
    form: Text = Field(
        description="a reserve form of the mineral (reserve_forms: e.g. ndpr_oxide, "
        "chemical, metal); an unknown form is refused, naming the known ones"
    )
    quantity_t: Quantity = Field(
        description="tonnes in the chain's reference basis, as the reserve plan counts them: "
        "t of the form (NdPr oxide, metal), t of contained element for lithium chemical, "
        "tungsten concentrate and manganese ore (docs/reserve.md, The ledger)"
    )
    grade: NoteText = ""
    location: Ident = confidential()
    price_usd_per_t: PositiveMoney = Field(
        description="USD per t in the same basis as --quantity-t; checked against the form's "
        "market price as the plan prices it"
    )
    seller: Text = confidential()
    seller_country: Country
    intermediary: NoteText = confidential(default="")
    domestic_producer: bool = False
    resolution_id: Ident | None = None
    market_usd_per_t: Money | None = Field(
        default=None, description="market price the ledger found at the time (filled in)"
    )


class Release(Payload):
    release_id: Ident
    lot_id: Ident
    quantity_t: Quantity
    price_usd_per_t: PositiveMoney
    buyer: Text = confidential()
    buyer_country: Country
    trigger: Trigger
    shock_id: Ident | None = None
    resolution_id: Ident | None = None
    market_usd_per_t: Money | None = Field(
        default=None, description="market price the ledger found at the time (filled in)"
    )


class Loan(Payload):
    loan_id: Ident
    kind: LoanKind = LoanKind.LOAN
    lot_id: Ident
    quantity_t: Quantity
    counterparty: Text = confidential()
    counterparty_country: Country
    return_date: date
    fee_usd: Money = Decimal(0)
    resolution_id: Ident | None = None


class LoanReturned(Payload):
    loan_id: Ident
    quantity_t: Quantity
    lot_id: Ident | None = Field(default=None, description="lot to return into (default: origin)")


class Transfer(Payload):
    lot_id: Ident
    quantity_t: Quantity
    to_lot_id: Ident
    to_location: Ident = confidential()
    resolution_id: Ident | None = None


class WriteDown(Payload):
    lot_id: Ident
    quantity_t: QuantityOrZero = Decimal(0)
    value_usd: Money = Decimal(0)
    reason: Text


class ContractSigned(Payload):
    contract_id: Ident
    kind: ContractKind
    counterparty: Text = confidential()
    counterparty_country: Country
    mineral: MineralId
    volume_t: Quantity
    price_usd_per_t: PositiveMoney
    start: date
    end: date
    resolution_id: Ident | None = None


class Checkpoint(Payload):
    """The board's signature (Ed25519) over the head of the chain at ``seq``; published in the
    public view. The anchor file written beside it carries every event hash up to ``seq``."""

    seq: Annotated[int, Field(ge=1)]
    head: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    hashes_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    public_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.GENESIS: Genesis,
    EventType.SEAT_FILLED: SeatFilled,
    EventType.MOTION_PROPOSED: MotionProposed,
    EventType.VOTE_CAST: VoteCast,
    EventType.MOTION_CLOSED: MotionClosed,
    EventType.CONTRIBUTION_PROPOSED: ContributionProposed,
    EventType.PRICE_RECORDED: PriceRecorded,
    EventType.ACQUISITION: Acquisition,
    EventType.RELEASE: Release,
    EventType.LOAN: Loan,
    EventType.LOAN_RETURNED: LoanReturned,
    EventType.TRANSFER: Transfer,
    EventType.WRITE_DOWN: WriteDown,
    EventType.CONTRACT_SIGNED: ContractSigned,
    EventType.CHECKPOINT: Checkpoint,
}

TYPES: dict[type[Payload], EventType] = {model: t for t, model in PAYLOADS.items()}


def event_type(payload: Payload) -> EventType:
    return TYPES[type(payload)]


def confidential_fields(model: type[Payload]) -> frozenset[str]:
    """The fields of ``model`` hidden from the public view."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("confidential")
    )


@dataclass(frozen=True)
class Event:
    """One stored event: the envelope and its typed payload."""

    seq: int
    event_id: str
    key: str
    type: EventType
    payload: Payload
    actor: str
    recorded_at: str
    prev_hash: str
    hash: str

    @property
    def day(self) -> date:
        """The UTC date the event was recorded (rules about terms and dates use it)."""
        return date.fromisoformat(self.recorded_at[:10])

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.event_id,
            "idempotency_key": self.key,
            "type": self.type.value,
            "actor": self.actor,
            "recorded_at": self.recorded_at,
            "hash": self.hash,
        }
