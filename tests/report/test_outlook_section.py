"""The review's outlook section: shares, HHI and allied share by year with bands, and the
comparison with the IEA projections saying where and why it differs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.report.outlook import OutlookView, outlook_view
from critmin.report.review import write_review


@pytest.fixture(scope="module")
def view(bundled: SupplyChain) -> OutlookView:
    return outlook_view(bundled, draws=200, seed=3)


def test_rows_hold_every_stage_with_ordered_bands(view: OutlookView, bundled: SupplyChain) -> None:
    assert view.years[-1] == 2040
    chains = set(bundled.dataset["chains"]["mineral"])
    assert {r["mineral"] for r in view.rows} <= chains
    assert any(r["mineral"] == "rare_earths" and r["stage"] == "refining" for r in view.rows)
    for r in view.rows:
        assert r["years"][-1] == 2040
        assert 2030 in r["years"]
        for metric in ("china_share", "allied_share"):
            lo, hi = r[f"{metric}_band"]
            assert 0.0 <= lo <= r[metric][-1] + 1e-12 <= hi + 2e-12 <= 1.0 + 2e-12
        assert r["hhi_band"][0] <= r["hhi"][-1] + 1e-9 <= r["hhi_band"][1] + 2e-9
        assert r["capacity"][1] >= r["capacity"][0] - 1e-9  # projects only add capacity


def test_comparison_says_where_and_why(view: OutlookView, bundled: SupplyChain) -> None:
    refs = bundled.dataset["outlook_references"]
    assert len(view.compare) == len(refs)
    projects = bundled.dataset["projects"]
    for c in view.compare:
        assert c["why"].startswith("critmin ")
        ours, ref = c["critmin_p50"], float(c["reference"].split()[-1])
        if np.isfinite(ours):
            assert f"{(ours - ref) * 100:+.1f} points" in c["why"]
            assert ("agrees" in c["why"]) == bool(c["agrees"])
    ree = next(c for c in view.compare if c["mineral"] == "rare_earths")
    here = projects[(projects["mineral"] == "rare_earths") & (projects["stage"] == "refining")]
    sized = re.search(r"adds (\d+) projects?", ree["why"])
    unsized = re.search(r"\((\d+) more declared without a capacity", ree["why"])
    assert sized is not None
    # every declared project is either in the run or named as left out
    assert int(sized.group(1)) + (int(unsized.group(1)) if unsized else 0) == len(here)
    assert "magnet REE" in ree["why"]  # the basis differs from the IEA's all-REE figure


def test_charts_use_calendar_years_and_percent(view: OutlookView) -> None:
    assert len(view.charts) == len({r["mineral"] for r in view.rows})
    for svg in view.charts:
        assert ">2040<" in svg
        assert ">100%<" in svg
        assert "period" not in svg
    assert any("IEA: China" in svg for svg in view.charts)


def test_review_page_has_the_outlook_section(bundled: SupplyChain, tmp_path: Path) -> None:
    lines = write_review(bundled, tmp_path, disruptions=False, outlook_draws=100, seed=1)
    html = (tmp_path / "index.html").read_text()
    assert 'id="outlook"' in html
    assert 'href="#outlook"' in html
    section = html[html.index('id="outlook"') : html.index('id="sources"')]
    assert "Against the IEA Global Critical Minerals Outlook 2025" in section
    assert re.search(r"<td>\d+%</td>", section)  # shares in %
    assert 'href="#src-IEA_GCMO_2025_RM"' in section
    assert 'id="src-IEA_GCMO_2025_RM"' in html  # the source is listed
    assert any("outlook vs IEA" in line for line in lines)
