"""The purchase cap of an element form is a share of its own element's supply outside China,
not of its mineral's (separated Dy and Tb come almost only from China)."""

from __future__ import annotations

import pytest

from critmin.chain import SupplyChain
from critmin.optimize.market_impact import CHINA, ex_china_supply, impact


def test_heavy_rare_earth_cap_uses_the_elements_own_market(bundled: SupplyChain) -> None:
    prod = bundled.dataset["production"]
    for element in ("dysprosium", "terbium"):
        rows = prod[prod["mineral"] == element]
        shares = rows[(rows["stage"] == "refining") & (rows["unit"] == "fraction")]
        year = int(shares["year"].max())
        china = shares[(shares["year"] == year) & (shares["country"] == CHINA)]["value"].sum()
        mined = rows[(rows["stage"] == "mining") & (rows["unit"] == "t")]
        t_year = int(mined["year"][mined["year"] <= year].max())
        world = float(mined[mined["year"] == t_year]["value"].sum())
        supply, note = ex_china_supply(bundled, element, "refining")
        assert supply == pytest.approx(world * (1.0 - china))
        assert "outside China" in note
    # the cap per quarter of Dy oxide is far below that of NdPr oxide (whose market is the
    # rare-earth refining outside China, Lynas and others)
    forms = bundled.dataset["reserve_forms"]
    caps = impact(bundled, forms, 3)["cap_t_per_period"]
    ree, _ = ex_china_supply(bundled, "rare_earths", "refining")
    kappa = float(forms.set_index("form").loc["ndpr_oxide", "purchase_cap_share"])
    assert caps["rare_earths:ndpr_oxide"] == pytest.approx(kappa * ree * 3 / 12)
    assert caps["rare_earths:dy_oxide"] < 0.01 * caps["rare_earths:ndpr_oxide"]
