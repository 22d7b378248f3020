"""Table rows as JSON-safe records: numpy scalars as Python numbers, NaN and inf as null."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, ready for ``json.dumps``."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            value = v.item() if hasattr(v, "item") else v
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[str(k)] = value
        out.append(clean)
    return out
