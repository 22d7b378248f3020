"""The sensitivity report's cases for the need split and the conversion routes: shares still
add up, only the scaled parameter moves, and a share never passes 1."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.optimize.sensitivity import minor_share, scaled_conversions, scaled_split


def test_split_scales_the_minor_elements_and_keeps_the_total(bundled: SupplyChain) -> None:
    needs = bundled.dataset["reserve_needs"]
    base = needs.set_index("element")["share"].astype(float)
    minor = minor_share(needs, "rare_earths")
    assert minor == pytest.approx(base.sum() - base.max())
    for f in (0.5, 1.5):
        out = scaled_split(needs, "rare_earths", f).set_index("element")["share"].astype(float)
        assert out.sum() == pytest.approx(base.sum())
        for element in ("dysprosium", "terbium"):
            assert out[element] == pytest.approx(base[element] * f)
        assert minor_share(scaled_split(needs, "rare_earths", f), "rare_earths") == (
            pytest.approx(minor * f)
        )
    # the minor shares never take more than the whole
    capped = scaled_split(needs, "rare_earths", 100.0).set_index("element")["share"]
    assert capped.min() >= 0.0
    assert capped.sum() == pytest.approx(base.sum())


def test_conversion_cases_scale_one_column_of_one_mineral() -> None:
    conv = pd.DataFrame(
        {
            "mineral": ["rare_earths", "rare_earths", "cobalt"],
            "available_share": [0.25, 0.8, 0.5],
            "lead_time_months": [6.0, 3.0, 2.0],
        }
    )
    up = scaled_conversions(conv, "rare_earths", "available_share", 1.5)
    assert up["available_share"].tolist() == pytest.approx([0.375, 1.0, 0.5])  # capped at 1
    assert up["lead_time_months"].tolist() == conv["lead_time_months"].tolist()
    down = scaled_conversions(conv, "rare_earths", "lead_time_months", 0.5)
    assert down["lead_time_months"].tolist() == pytest.approx([3.0, 1.5, 2.0])
