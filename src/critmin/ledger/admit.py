"""Admission: check a command against reference data and fill in what the ledger looked up.

Minerals must be bundled ids; sellers, buyers, counterparties and partners from a foreign
entity of concern are refused; an acquisition's form must be a reserve form of its mineral
(reserve_forms); acquisitions and releases record the market price of the form found.
"""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

from critmin.economics.price import UnknownForm
from critmin.ledger import events as ev
from critmin.ledger.anchor import check_signature
from critmin.ledger.errors import Refused
from critmin.ledger.reference import Reference
from critmin.ledger.state import MotionState, State, tally
from critmin.ledger.vocabulary import Projection, Rule

COUNTERPARTIES = {
    ev.Acquisition: "seller_country",
    ev.Release: "buyer_country",
    ev.Loan: "counterparty_country",
    ev.ContractSigned: "counterparty_country",
    ev.ContributionProposed: "partner",
}


def market_price(state: State, ref: Reference, mineral: str, form: str) -> Decimal | None:
    """The price from the source the board designated: the bundled price of the form, as the
    reserve plan prices it (default; USD per t in the chain's reference basis), or the latest
    price an analyst entered for the form (falling back to the bundled one). Raises
    UnknownForm for a form the bundled reserve_forms does not list for the mineral."""
    found = ref.market_price(mineral, form)
    return state.market(mineral, form, None if found is None else found[0])


def price_form(ref: Reference, p: ev.PriceRecorded) -> ev.PriceRecorded:
    """An entered price names a listed form; without one, the mineral's only form (a mineral
    with several forms, e.g. NdPr, Dy and Tb oxide of rare_earths, has no one price)."""
    forms = ref.forms_of(p.mineral)
    if p.form is not None:
        if p.form not in forms:
            raise Refused(
                f"unknown form {p.form!r} for {p.mineral}; known forms: "
                + (", ".join(forms) if forms else "none (reserve_forms lists no form of it)"),
                "form",
                422,
                Rule.KNOWN_FORM,
            )
        return p
    if len(forms) > 1:
        raise Refused(
            f"{p.mineral} has {len(forms)} reserve forms ({', '.join(forms)}): name the form "
            "the price is for",
            "form",
            422,
            Rule.KNOWN_FORM,
        )
    return p.model_copy(update={"form": forms[0]}) if forms else p


def _minerals(payload: ev.Payload) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    mineral = getattr(payload, "mineral", None)
    if isinstance(mineral, str):
        out.append(("mineral", mineral))
    if isinstance(payload, ev.ContributionProposed):
        out += [(f"earmark[{i}]", m) for i, m in enumerate(payload.earmark)]
    if isinstance(payload, ev.MotionProposed):
        motion = payload.motion
        if isinstance(motion, ev.DeclareSupplyShock):
            out += [(f"motion.minerals[{i}]", m) for i, m in enumerate(motion.minerals)]
        inner = getattr(motion, "mineral", None)
        if isinstance(inner, str):
            out.append(("motion.mineral", inner))
    return out


def admit(state: State, ref: Reference, payload: ev.Payload, day: date) -> ev.Payload:
    """The payload to append on ``day``, or Refused naming the field at fault."""
    for field, mineral in _minerals(payload):
        if mineral not in ref.minerals:
            raise Refused(f"unknown mineral {mineral!r}", field, 422, Rule.KNOWN_MINERAL)
    party = COUNTERPARTIES.get(type(payload))
    if party is not None:
        country = getattr(payload, party)
        if country in ref.feoc:
            raise Refused(
                f"{country} is a foreign entity of concern; the reserve does not deal with it",
                party,
                422,
                Rule.NO_FEOC,
            )
    if isinstance(payload, ev.MotionClosed):
        motion = state.need(Projection.MOTION, payload.motion_id, MotionState, "motion_id")
        return tally(motion, state, day)
    if isinstance(payload, ev.Checkpoint):
        check_signature(payload)
    if isinstance(payload, ev.PriceRecorded):
        return price_form(ref, payload)
    if isinstance(payload, ev.Acquisition):
        try:
            market = market_price(state, ref, payload.mineral, payload.form)
        except UnknownForm as exc:
            raise Refused(str(exc), "form", 422, Rule.KNOWN_FORM) from None
        return payload.model_copy(update={"market_usd_per_t": market})
    if isinstance(payload, ev.Release):
        lot = state.tables[Projection.LOT].get(payload.lot_id)
        held, form = getattr(lot, "mineral", None), getattr(lot, "form", None)
        market = None
        if isinstance(held, str) and isinstance(form, str):
            # a lot recorded before forms were checked may hold an unlisted form: no price
            with contextlib.suppress(UnknownForm):
                market = market_price(state, ref, held, form)
        return payload.model_copy(update={"market_usd_per_t": market})
    return payload
