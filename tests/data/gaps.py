"""Parametrize a per-mineral check over the issue's list: a mineral with a known data gap is a
strict expected failure carrying its reason, so filling the gap turns it into a normal test."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest


def per_mineral(minerals: Iterable[str], gaps: Mapping[str, str]) -> list[Any]:
    """One pytest param per mineral; those in ``gaps`` marked strict xfail with their reason."""
    return [
        pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=gaps[m])) if m in gaps else m
        for m in minerals
    ]
