"""Rare earths and platinum-group metals by element (issue 10, items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data import elements
from critmin.data.load import load
from critmin.metrics.exposure import exposure_table

REPO = Path(__file__).resolve().parents[2]
MAGNET = ["neodymium", "praseodymium", "dysprosium", "terbium"]


@pytest.fixture(scope="module")
def chain() -> SupplyChain:
    return SupplyChain.load()


def china_share(chain: SupplyChain, mineral: str, stage: str, year: int) -> float:
    shares = chain.shares().sel(mineral=mineral, stage=stage, year=year)
    return float(shares.sel(country="CHN"))


@pytest.mark.parametrize("element", ["dysprosium", "terbium"])
def test_china_separates_heavy_rare_earths(chain: SupplyChain, element: str) -> None:
    """The issue's check: China >= 0.95 of Dy and Tb separation in 2024 (element tables)."""
    assert china_share(chain, element, "refining", 2024) >= 0.95


@pytest.mark.parametrize("element", ["neodymium", "praseodymium"])
def test_china_separates_most_nd_and_pr(chain: SupplyChain, element: str) -> None:
    """The issue's check: China >= 0.85 of Nd and Pr separation in 2024, and less than its
    share of heavy-element separation (Lynas and MP Materials separate NdPr, not Dy/Tb)."""
    share = china_share(chain, element, "refining", 2024)
    assert 0.85 <= share < china_share(chain, "dysprosium", "refining", 2024)


def test_element_mine_output_adds_up_to_the_reo_it_splits() -> None:
    """Plumbing: per country and year, the element rows of one source sum to the REO row."""
    prod = load()["production"]
    reo = prod[(prod["mineral"] == "rare_earths") & (prod["stage"] == "mining")]
    reo = reo[reo["source_id"] == "WMD_2026"].set_index(["country", "year"])["value"]
    els = prod[
        prod["mineral"].isin(elements.REE_ELEMENTS)
        & (prod["stage"] == "mining")
        & (prod["source_id"] == "WMD_2026")
    ]
    total = els.groupby(["country", "year"])["value"].sum()
    assert total.reindex(reo.index).to_numpy() == pytest.approx(reo.to_numpy(), rel=1e-9)


def test_mine_split_against_the_iea_refined_magnet_series() -> None:
    """Out of sample: the deposit distributions were not fitted to the IEA series. The magnet
    elements contained in 2024 mine output should exceed refined magnet-REE output (IEA) by
    the processing losses and stock changes, not by more than a third."""
    prod = load()["production"]
    mined = prod[
        prod["mineral"].isin(MAGNET)
        & (prod["stage"] == "mining")
        & (prod["year"] == 2024)
        & (prod["source_id"] == "WMD_2026")
    ]["value"].sum()
    refined = prod[
        (prod["mineral"] == "rare_earths")
        & (prod["stage"] == "refining")
        & (prod["year"] == 2024)
        & (prod["source_id"] == "IEA_CMD_2025")
    ]["value"].sum()
    assert 1.0 <= mined / refined <= 1.35
    # and Nd : Pr in mined output is near the 3 : 1 of traded NdPr oxide
    nd = prod[(prod["mineral"] == "neodymium") & (prod["stage"] == "mining")]
    pr = prod[(prod["mineral"] == "praseodymium") & (prod["stage"] == "mining")]
    ratio = (
        nd[(nd["year"] == 2024) & (nd["source_id"] == "WMD_2026")]["value"].sum()
        / pr[(pr["year"] == 2024) & (pr["source_id"] == "WMD_2026")]["value"].sum()
    )
    assert 2.5 <= ratio <= 3.5


def test_heavy_elements_come_from_ion_adsorption_clays(chain: SupplyChain) -> None:
    """Dysprosium mining is led by the ion-adsorption producers (China and Myanmar), yttrium
    even more so; lanthanum follows the bastnaesite producers."""
    ex = exposure_table(chain, mineral=["dysprosium", "yttrium", "lanthanum"], stage=["mining"])
    top = ex.set_index("mineral")
    assert top.loc["dysprosium", "top3_share"] > 0.9
    assert top.loc["yttrium", "top_country"] in {"CHN", "MMR"}
    lanthanum = chain.shares().sel(mineral="lanthanum", stage="mining", year=2024)
    assert float(lanthanum.sel(country="USA")) > float(lanthanum.sel(country="MMR"))


def test_distributions_are_normalised() -> None:
    inputs = elements.ReeInputs.read(REPO / "data-src" / "elements")
    sums = inputs.distributions.groupby("deposit")["share"].sum()
    assert sums.to_numpy() == pytest.approx(1.0)
    comp = inputs.composition("CHN", 2024)
    assert comp.sum() == pytest.approx(1.0)
    assert comp["dysprosium"] > inputs.composition("USA", 2024)["dysprosium"]


def test_composition_and_its_note_read_the_mix_rows_in_force() -> None:
    """The deposit mix of a country-year: its own rows for the years they cover (China's
    changes in 2022), else the any-country rows; the note names exactly those rows."""
    inputs = elements.ReeInputs.read(REPO / "data-src" / "elements")
    early, late = inputs.mix_rows("CHN", 2020), inputs.mix_rows("CHN", 2024)
    assert set(early["country"]) == set(late["country"]) == {"CHN"}
    assert early["weight"].max() != late["weight"].max()
    other = inputs.mix_rows("AUS", 2024)
    assert set(other["country"]) == {elements.ANY_COUNTRY}
    for country, year in (("CHN", 2020), ("CHN", 2024), ("AUS", 2024)):
        rows = inputs.mix_rows(country, year)
        note = inputs.mix_note(country, year)
        for d, w in zip(rows["deposit"], rows["weight"], strict=True):
            assert f"{d} {w:g}" in note
    assert inputs.composition("AUS", 2024).equals(inputs.composition("BRA", 2024))


def test_elements_have_parents_and_stages(chain: SupplyChain) -> None:
    minerals = chain.dataset["minerals"].set_index("id")
    for element in (*MAGNET, "yttrium", "lanthanum"):
        assert minerals.loc[element, "parent"] == "rare_earths"
        assert "mining" in chain.stages_of(element)
        assert "refining" in chain.stages_of(element)
    for element in MAGNET:
        assert "magnets" in chain.stages_of(element)
    for pgm in ("platinum", "palladium", "rhodium", "iridium"):
        assert minerals.loc[pgm, "parent"] == "pgm"
        assert "mining" in chain.stages_of(pgm)


def test_pgm_refining_moves_zimbabwe_to_south_africa() -> None:
    prod = load()["production"]
    year = 2023
    mine = prod[
        (prod["mineral"] == "platinum")
        & (prod["stage"] == "mining")
        & (prod["year"] == year)
        & (prod["source_id"] == "WMD_2026")
    ].set_index("country")["value"]
    ref = prod[
        (prod["mineral"] == "platinum") & (prod["stage"] == "refining") & (prod["year"] == year)
    ].set_index("country")["value"]
    assert "ZWE" not in ref.index
    assert ref["ZAF"] == pytest.approx(mine["ZAF"] + mine["ZWE"])
    assert ref.sum() == pytest.approx(mine.sum())


def test_separation_split_keeps_heavy_elements_in_china() -> None:
    """Derived Nd/Pr/La/Ce separation: no country but China gets Dy/Tb in the split, and the
    Nd+Pr of a country never exceeds its magnet-REE total."""
    prod = load()["production"]
    magnet = prod[
        (prod["mineral"] == "rare_earths")
        & (prod["stage"] == "refining")
        & (prod["year"] == 2024)
        & (prod["source_id"] == "IEA_CMD_2025")
    ].set_index("country")["value"]
    ndpr = (
        prod[
            prod["mineral"].isin(["neodymium", "praseodymium"])
            & (prod["stage"] == "refining")
            & (prod["year"] == 2024)
            & (prod["source_id"] == "IEA_CMD_2025")
        ]
        .groupby("country")["value"]
        .sum()
    )
    assert ndpr["MYS"] == pytest.approx(magnet["MYS"])  # no heavy circuit: all NdPr
    assert ndpr["CHN"] < magnet["CHN"]  # China's magnet REE include Dy and Tb
    assert (ndpr <= magnet.reindex(ndpr.index) + 1e-6).all()


def test_element_prices_are_usgs_and_reliance_is_marked_estimated() -> None:
    ds = load()
    prices = ds["prices"]
    for element in ("neodymium", "dysprosium", "terbium", "lutetium"):
        rows = prices[(prices["mineral"] == element) & (prices["year"] == 2024)]
        assert not rows.empty
        assert not rows["estimated"].any()
        assert set(rows["source_id"]) == {"USGS_MCS2026_DR"}
    us = ds["us_supply"]
    dy = us[(us["mineral"] == "dysprosium") & (us["statistic"] == "net_import_reliance")]
    assert not dy.empty
    assert dy["estimated"].all()
    assert "heavy" in str(dy["note"].iloc[0])
    assert pd.api.types.is_float_dtype(dy["value"])


def test_every_element_chain_has_a_separation_stage(chain: SupplyChain) -> None:
    """Issue 9: each rare earth is separated before use; samarium's and europium's chains
    stopped at mining, where China's share alone left the U.S. supplied."""
    for element in elements.REE_ELEMENTS:
        assert chain.stages_of(element)[:2] == ["mining", "refining"], element


@pytest.mark.parametrize("element", ["samarium", "europium"])
def test_china_separates_samarium_and_europium(chain: SupplyChain, element: str) -> None:
    """Sourced coverage: no separator outside China ran a Sm or Eu circuit in 2023-2024, so
    China's separation share exceeds its share of the element's mine output."""
    for year in (2023, 2024):
        share = china_share(chain, element, "refining", year)
        assert share == pytest.approx(1.0)
        assert share > china_share(chain, element, "mining", year)


def _magnet_reo() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country": ["CHN", "MYS", "OTH", "AUS"],
            "year": [2024] * 4,
            "value": [90.0, 6.0, 4.0, 0.0],
            "unit": ["t"] * 4,
            "source_id": ["IEA_X"] * 4,
        }
    )


def _coverage(rows: list[tuple[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "element": "samarium",
                "country": c,
                "year_from": 2023,
                "year_to": 2024,
                "coverage": v,
                "source_id": "S",
                "note": "n",
            }
            for c, v in rows
        ]
    )


def test_separation_by_coverage_weights_the_aggregate_shares() -> None:
    """Plumbing: share = aggregate share x coverage, renormalised (hand-computed)."""
    cov = _coverage([("CHN", 1.0), ("MYS", 0.0), ("OTH", 0.5)])
    out = elements.ree_separation_by_coverage(_magnet_reo(), cov).set_index("country")
    assert out.loc["CHN", "value"] == pytest.approx(90.0 / 92.0)
    assert out.loc["OTH", "value"] == pytest.approx(2.0 / 92.0)
    assert out.loc["MYS", "value"] == 0.0
    assert "AUS" not in out.index  # no separation output, no row needed
    assert set(out["unit"]) == {"fraction"}
    assert set(out["source_id"]) == {"IEA_X"}


def test_separation_by_coverage_refuses_an_uncovered_separator() -> None:
    cov = _coverage([("CHN", 1.0), ("MYS", 0.0)])
    with pytest.raises(ValueError, match=r"samarium 2024: no coverage row .* \['OTH'\]"):
        elements.ree_separation_by_coverage(_magnet_reo(), cov)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("coverage", "1.5", "row 2: coverage"),
        ("coverage", "all", "row 2: coverage"),
        ("element", "neodymium", "row 2: element"),
        ("source_id", "NOPE", "row 2: source_id"),
    ],
)
def test_separator_table_refuses_bad_rows(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    row = {"element": "samarium", "country": "CHN", "year_from": "2023", "year_to": "2024"}
    row |= {"coverage": "1", "source_id": "S", "note": "n"}
    row[field] = value
    frame = pd.DataFrame([row])
    frame.to_csv(tmp_path / "ree_separators.csv", index=False)
    with pytest.raises(ValueError, match=f"ree_separators.csv {message}"):
        elements.read_separators(tmp_path, {"S"})


def test_bundled_separator_table_reads_against_the_sources() -> None:
    ids = set(load()["sources"]["id"])
    table = elements.read_separators(REPO / "data-src" / "elements", ids)
    assert set(table["element"]) == {"samarium", "europium"}
