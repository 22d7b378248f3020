"""The reserve plan's parameter sensitivity, for the web page: defined once in the domain
(critmin.optimize.sensitivity) and imported from there."""

from __future__ import annotations

from critmin.optimize.sensitivity import (
    FLAG,
    FORMS,
    MARKET,
    Resimulator,
    _perturbed,
    moved_share,
    parameter_sensitivity,
)

__all__ = [
    "FLAG",
    "FORMS",
    "MARKET",
    "Resimulator",
    "_perturbed",
    "moved_share",
    "parameter_sensitivity",
]
