"""The reserve plan's parameter sensitivity, for the web page: defined once in the domain
(critmin.optimize.sensitivity) and imported from there."""

from __future__ import annotations

from critmin.optimize.sensitivity import (
    FLAG,
    FORMS,
    MARKET,
    Resimulator,
    moved_share,
    parameter_sensitivity,
    scaled_model,
)

__all__ = [
    "FLAG",
    "FORMS",
    "MARKET",
    "Resimulator",
    "moved_share",
    "parameter_sensitivity",
    "scaled_model",
]
