"""Valuation of the holdings at market prices (entered prices first, then the bundled price
of each lot's form: critmin.economics.price.form_prices, the reserve plan's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from critmin.economics.price import UnknownForm
from critmin.ledger.reference import Reference
from critmin.ledger.state import Fund, Lot, State, usd
from critmin.ledger.vocabulary import Projection


def valuation(state: State, ref: Reference) -> dict[str, Any]:
    """Per lot: quantity, cost, market price (and where it came from), value, unrealised gain;
    then the totals, the realised gains (reinvested as the proceeds fund) and the funds free."""
    lots = []
    total_cost = total_value = Decimal(0)
    for lot in state.all(Projection.LOT, Lot):
        entered = state.entered_price(lot.mineral, lot.form)
        try:  # the form's price as the plan prices it (critmin.economics.price.form_prices)
            found = ref.market_price(lot.mineral, lot.form)
        except UnknownForm:  # a lot recorded before forms were checked
            found = None
        if entered is not None:
            price, source = entered.usd_per_t, f"entered {entered.as_of} ({entered.source})"
        elif found is not None:
            price, source = found[0], f"bundled price of the form, {found[1]}"
        else:
            price, source = None, "no price"
        value = usd(lot.quantity_t * price) if price is not None else None
        total_cost += lot.cost_usd
        total_value += value if value is not None else lot.cost_usd
        lots.append(
            {
                "lot_id": lot.lot_id,
                "mineral": lot.mineral,
                "form": lot.form,
                "quantity_t": str(lot.quantity_t),
                "cost_usd": str(lot.cost_usd),
                "market_usd_per_t": None if price is None else str(price),
                "price_source": source,
                "market_value_usd": None if value is None else str(value),
                "unrealised_gain_usd": None if value is None else str(value - lot.cost_usd),
            }
        )
    available = sum((f.available for f in state.all(Projection.FUND, Fund)), Decimal(0))
    settings = state.settings
    return {
        "lots": lots,
        "total_cost_usd": str(usd(total_cost)),
        "total_market_value_usd": str(usd(total_value)),
        "realised_gain_usd": str(settings.realised_gain_usd),
        "written_down_usd": str(settings.written_down_usd),
        "funds_available_usd": str(usd(available)),
        "note": "lots without a market price are counted at cost in the total",
    }
