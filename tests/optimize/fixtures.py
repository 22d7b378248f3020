"""Shared test data for the reserve programme's tests."""

from __future__ import annotations

import pandas as pd

#: An empty candidates table: no offtakes or floors.
NO_AGREEMENTS = pd.DataFrame(
    columns=[
        "id",
        "kind",
        "mineral",
        "counterparty",
        "max_volume_t_per_year",
        "contract_price_usd_per_t",
        "floor_usd_per_t",
        "tenor_years",
        "lead_time_years",
    ]
)
