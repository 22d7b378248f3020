"""The public transactions view the Act requires: what was bought, sold, lent or contracted,
when, how much and at what price, without the fields marked confidential."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from critmin.ledger import events as ev
from critmin.ledger.vocabulary import EventType

PUBLIC_TYPES = frozenset(
    {
        EventType.ACQUISITION,
        EventType.RELEASE,
        EventType.LOAN,
        EventType.LOAN_RETURNED,
        EventType.CONTRACT_SIGNED,
        EventType.CHECKPOINT,
    }
)


def public_record(event: ev.Event) -> dict[str, Any]:
    hidden = ev.confidential_fields(type(event.payload))
    body = event.payload.model_dump(mode="json", exclude=set(hidden))
    return {
        "seq": event.seq,
        "recorded_at": event.recorded_at,
        "type": event.type.value,
        "hash": event.hash,
        **body,
    }


def public_transactions(events: Iterable[ev.Event]) -> list[dict[str, Any]]:
    return [public_record(e) for e in events if e.type in PUBLIC_TYPES]
