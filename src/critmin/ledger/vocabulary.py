"""The ledger's controlled words: event types, roles, motion kinds, votes, statuses."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What happened; one pydantic payload model per type (see ``events.PAYLOADS``)."""

    GENESIS = "genesis"
    SEAT_FILLED = "seat_filled"
    MOTION_PROPOSED = "motion_proposed"
    VOTE_CAST = "vote_cast"
    MOTION_CLOSED = "motion_closed"
    CONTRIBUTION_PROPOSED = "contribution_proposed"
    PRICE_RECORDED = "price_recorded"
    ACQUISITION = "acquisition"
    RELEASE = "release"
    LOAN = "loan"
    LOAN_RETURNED = "loan_returned"
    TRANSFER = "transfer"
    WRITE_DOWN = "write_down"
    CONTRACT_SIGNED = "contract_signed"
    CHECKPOINT = "checkpoint"


class Role(StrEnum):
    """Who may do what through the API (``public`` needs no token)."""

    BOARD = "board"
    OPERATOR = "operator"
    ANALYST = "analyst"
    PARTNER = "partner"
    PUBLIC = "public"


class MotionKind(StrEnum):
    """What a board resolution does once passed."""

    ACCEPT_CONTRIBUTION = "accept_contribution"
    REJECT_CONTRIBUTION = "reject_contribution"
    DECLARE_SUPPLY_SHOCK = "declare_supply_shock"
    SET_PRICE_BAND = "set_price_band"
    SET_THRESHOLD = "set_threshold"
    AUTHORISE_ACQUISITION = "authorise_acquisition"
    AUTHORISE_RELEASE = "authorise_release"
    FILL_SEAT = "fill_seat"
    DESIGNATE_PRICE_SOURCE = "designate_price_source"
    GENERAL = "general"


class PriceSource(StrEnum):
    """Where the prices the ledger's checks use come from (designated by the board)."""

    BUNDLED = "bundled"  # the bundled reference price (median of the latest year's quotes)
    ANALYST = "analyst"  # the latest price an analyst entered (``PriceRecorded``)


class Rule(StrEnum):
    """The named controls; every refusal by one of them names it."""

    LEDGER_STARTED = "ledger_started"
    BOARD_SEAT_HOLDER = "board_seat_holder"
    SEAT_BY_RESOLUTION = "seat_by_resolution"
    ONE_SEAT_PER_MEMBER = "one_seat_per_member"
    VOTE_AS_SELF = "vote_as_self"
    ONE_VOTE = "one_vote"
    TALLY_AT_CLOSE = "tally_at_close"
    MOTION_OPEN = "motion_open"
    RESERVED_FUND_ID = "reserved_fund_id"
    UNIQUE_ID = "unique_id"
    PROCEEDS_TO_OWN_FUND = "proceeds_to_own_fund"
    PRICE_NOT_FUTURE = "price_not_future"
    PRICE_SOURCE = "price_source"
    ABOVE_MARKET = "above_market"
    SALE_BELOW_MARKET = "sale_below_market"
    RESOLUTION_REQUIRED = "resolution_required"
    RESOLUTION_MATCHES = "resolution_matches"
    FUNDS_AVAILABLE = "funds_available"
    STOCK_NON_NEGATIVE = "stock_non_negative"
    MAX_LOAN_TERM = "max_loan_term"
    SAME_FORM = "same_form"
    RELEASE_TRIGGER = "release_trigger"
    KNOWN_MINERAL = "known_mineral"
    KNOWN_FORM = "known_form"
    NO_FEOC = "no_feoc"
    DATES_IN_ORDER = "dates_in_order"
    CHECKPOINT_HEAD = "checkpoint_head"


class Vote(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"
    RECUSED = "recused"


class MotionStatus(StrEnum):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"


class FundKind(StrEnum):
    APPROPRIATION = "appropriation"
    CONTRIBUTION = "contribution"
    PROCEEDS = "proceeds"


class FundStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class AcquisitionKind(StrEnum):
    PHYSICAL = "physical"
    FINANCIAL = "financial"


class Trigger(StrEnum):
    """Why material may leave the reserve: a declared shock, or a price above the band."""

    SUPPLY_SHOCK = "supply_shock"
    PRICE_ABOVE_BAND = "price_above_band"


class LoanKind(StrEnum):
    LOAN = "loan"
    SWAP = "swap"


class LoanStatus(StrEnum):
    OUTSTANDING = "outstanding"
    RETURNED = "returned"


class ContractKind(StrEnum):
    OFFTAKE = "offtake"
    PRICE_FLOOR = "price_floor"
    STORAGE = "storage"


class Projection(StrEnum):
    """The kinds of projected entity (rows of the ``projections`` table)."""

    LOT = "lot"
    FUND = "fund"
    CONTRACT = "contract"
    SEAT = "seat"
    MOTION = "motion"
    RESOLUTION = "resolution"
    PRICE_BAND = "price_band"
    SHOCK = "shock"
    LOAN = "loan"
    PRICE = "price"
    SETTINGS = "settings"
    CHECKPOINT = "checkpoint"
