"""GDP through the BEA 2017 tables: multipliers, the bridge, and the shape of the loss."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.load import bundled_dir, collect
from critmin.economics.io import exposure, io_model
from critmin.economics.price import parents_of_dataset
from critmin.schema.tables import TABLES
from critmin.simulate.model import build_model


def test_value_added_multipliers_are_shares_of_output(bundled: SupplyChain) -> None:
    model = io_model(bundled.dataset)
    assert len(model.codes) == 402
    mu = model.va_multiplier
    # with imports leaking, a dollar of output carries at most a dollar of U.S. GDP
    assert (mu > 0.3).all()
    assert (mu <= 1.0 + 1e-9).all()
    # semiconductors carry less domestic value added per dollar than housing services do
    assert mu[model.index("334413")] < mu[model.index("531HSO")]


def test_gallium_goes_to_semiconductors(bundled: SupplyChain) -> None:
    ga = build_model(bundled, "gallium").exposure
    assert ga is not None
    assert ga.codes[int(np.argmax(ga.weight))] == "334413"
    assert "USGS U.S. end-use shares" in ga.basis


def test_loss_grows_faster_than_the_shortfall(bundled: SupplyChain) -> None:
    ga = build_model(bundled, "gallium").exposure
    assert ga is not None
    ces = dataclasses.replace(ga, essential=None)  # the substitutable (CES) uses alone
    small, large = ces.leverage(0.1), ces.leverage(0.6)
    assert large > 2 * small  # small shortfalls are absorbed, large ones are not
    leontief = exposure(
        bundled.dataset,
        "gallium",
        parents_of_dataset(bundled.dataset),
        value_usd=ga.value_usd,
        substitution=0.05,
    )
    assert leontief is not None
    # a lower elasticity loses more (the CES uses; the essential lines do not depend on s)
    assert dataclasses.replace(leontief, essential=None).leverage(0.5) > ces.leverage(0.5)


def test_no_industry_loses_more_than_its_output(bundled: SupplyChain) -> None:
    ga = build_model(bundled, "gallium").exposure
    assert ga is not None
    lost = ga.output_lost(np.array([0.0, 0.5, 1.0]))
    assert (lost >= 0).all()
    assert (lost <= 1).all()
    assert lost[0].max() == 0.0


def test_vanishing_substitution_is_fixed_proportions(bundled: SupplyChain) -> None:
    """s -> 0 is the Leontief limit: every user loses the shortfall share (no overflow)."""
    ga = build_model(bundled, "gallium").exposure
    assert ga is not None
    rigid = dataclasses.replace(ga, substitution=1e-4, essential=None)
    lost = rigid.output_lost(np.array([0.25, 0.5]))
    assert np.allclose(lost[0], 0.25, atol=0.01)
    assert np.allclose(lost[1], 0.5, atol=0.01)


def test_essential_lines_lose_in_fixed_proportion(bundled: SupplyChain) -> None:
    """Gallium's GaAs/GaN lines (io_dependency) stop with the gallium short: GDP lost per
    dollar short is their VA multiplier x essential output / value of gallium used, and moves
    in proportion to the assumed dependent share (its +/-50% sensitivity)."""
    ga = build_model(bundled, "gallium").exposure
    assert ga is not None
    assert ga.essential is not None
    assert "io_dependency" in ga.basis
    deps = bundled.dataset["io_dependency"]
    row = deps[(deps["mineral"] == "gallium") & (deps["industry"] == "334413")]
    d = float(row["dependent_share"].iloc[0])
    j = ga.codes.index("334413")
    closed_form = ga.multiplier[j] * d * ga.output_usd[j] / ga.value_usd
    assert ga.leverage(0.2) == pytest.approx(closed_form, rel=0.05)
    for f in (0.5, 1.5):
        moved = dataclasses.replace(ga, essential=ga.essential * f)
        assert moved.leverage(0.5) == pytest.approx(f * ga.leverage(0.5), rel=0.05)


def test_gallium_leverage_is_ten_times_industrial_sand(bundled: SupplyChain) -> None:
    """Issue 9: GDP per dollar short separates an essential trace input from a bulk one."""
    ga = build_model(bundled, "gallium").exposure
    sand = build_model(bundled, "sand_gravel_industrial").exposure
    assert ga is not None
    assert sand is not None
    assert ga.leverage(0.5) >= 10 * sand.leverage(0.5)
    # it still holds at the low end of the dependent share's +/-50% range
    assert ga.essential is not None
    low = dataclasses.replace(ga, essential=0.5 * ga.essential)
    assert low.leverage(0.5) >= 10 * sand.leverage(0.5)


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("industry", "999999", "unknown label, not in io_industries"),
        ("dependent_share", "1.5", "must be <= 1"),
        ("source_id", "NOWHERE_2099", "unknown label, not in sources"),
    ],
)
def test_a_bad_dependency_row_is_named(tmp_path: Path, column: str, value: str, rule: str) -> None:
    src = bundled_dir() / TABLES["io_dependency"].file
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    frame.loc[0, column] = value
    frame.to_csv(tmp_path / TABLES["io_dependency"].file, index=False)
    dataset, problems = collect(tmp_path, include_lazy=True)
    assert dataset is None
    text = "\n".join(str(p) for p in problems)
    assert "io_dependency.csv, row 2" in text
    assert f"column '{column}'" in text
    assert rule in text


#: USGS OFR 2024-1057 (Nassar et al. 2024): U.S. GDP lost to a complete restriction of China's
#: net germanium exports, central estimate, USD (sources: USGS_OFR_2024_1057).
USGS_GE_GDP_LOSS_USD = 0.4e9


def test_germanium_goes_to_its_end_uses_and_its_fiber_lines(bundled: SupplyChain) -> None:
    """Germanium's users are its USGS end uses (IR optics, fiber cable, semiconductors), not the
    buyers of the smelting commodity it is sold in; fiber-optic cable is an essential line."""
    ge = build_model(bundled, "germanium").exposure
    assert ge is not None
    users = {ge.codes[i] for i in np.argsort(-ge.weight)[:3]}
    assert users == {"333314", "335920", "334413"}
    assert ge.essential is not None
    assert ge.essential[ge.codes.index("335920")] > 0


def test_germanium_leverage_meets_the_usgs_implied_bound(bundled: SupplyChain) -> None:
    """USGS's GDP loss for a full Chinese restriction, over the value of all U.S. germanium use,
    is a lower bound on GDP lost per dollar short (the U.S. shortfall cannot exceed its use).
    Without essential lines (CES users only) the leverage falls short of it."""
    ge = build_model(bundled, "germanium").exposure
    assert ge is not None
    bound = USGS_GE_GDP_LOSS_USD / ge.value_usd
    assert ge.leverage(0.5) >= bound
    assert dataclasses.replace(ge, essential=None).leverage(0.5) < bound


def test_every_essential_line_reaches_its_minerals_users(bundled: SupplyChain) -> None:
    """An io_dependency row only counts if its industry is among the mineral's users (end uses
    mapped by the bridge): a row whose industry the mineral never reaches would be inert."""
    deps = bundled.dataset["io_dependency"]
    for mineral, rows in deps.groupby("mineral"):
        expo = build_model(bundled, str(mineral)).exposure
        assert expo is not None, mineral
        assert expo.essential is not None, mineral
        for code in rows["industry"]:
            assert str(code) in expo.codes, (mineral, code)
            assert expo.essential[expo.codes.index(str(code))] > 0, (mineral, code)


@pytest.mark.parametrize("mineral", ["neodymium", "praseodymium", "dysprosium", "terbium"])
def test_magnet_rare_earths_stop_ev_lines_well_above_the_ces_band(
    bundled: SupplyChain, mineral: str
) -> None:
    """The magnet rare earths go to NdFeB magnet users (EV traction motors, wind, electronics,
    motors), not to the refinery catalysts of the rare-earth aggregate; the permanent-magnet
    BEV lines of 336111/336112 stop with them, so GDP per dollar short is at least ten times a
    bulk mineral's (the CES band), and falls back into it without those lines."""
    expo = build_model(bundled, mineral).exposure
    sand = build_model(bundled, "sand_gravel_industrial").exposure
    assert expo is not None
    assert sand is not None
    assert "324110" not in expo.codes
    assert {"336111", "336112", "335312"} <= set(expo.codes)
    assert expo.leverage(0.5) >= 10 * sand.leverage(0.5)
    ces_only = dataclasses.replace(expo, essential=None)
    assert ces_only.leverage(0.5) < 2 * sand.leverage(0.5)


def test_tungsten_carbide_tools_stop_in_fixed_proportion(bundled: SupplyChain) -> None:
    """Cemented-carbide cutting tools (33351B) stop with the tungsten short: at a small
    shortfall, where the CES users barely lose, the leverage is the lines' closed form
    μ·d·x/V plus a CES remainder, several times the CES-only figure."""
    w = build_model(bundled, "tungsten").exposure
    assert w is not None
    assert w.essential is not None
    j = w.codes.index("33351B")
    closed_form = w.multiplier[j] * w.essential[j] * w.output_usd[j] / w.value_usd
    ces_only = dataclasses.replace(w, essential=None)
    assert w.leverage(0.1) >= closed_form
    assert w.leverage(0.1) >= 3 * ces_only.leverage(0.1)


@pytest.mark.parametrize("mineral", ["platinum", "palladium", "rhodium"])
def test_pgms_go_to_catalytic_converters(bundled: SupplyChain, mineral: str) -> None:
    """The PGMs' users are their world end uses (autocatalysts -> 336390), applied to the U.S.
    where USGS gives no U.S. split, not the buyers of the refining commodity they are sold in;
    the converter line is essential."""
    expo = build_model(bundled, mineral).exposure
    assert expo is not None
    assert "world end-use shares" in expo.basis
    assert expo.essential is not None
    assert expo.essential[expo.codes.index("336390")] > 0
    top = expo.codes[int(np.argmax(expo.weight))]
    assert top == "336390"
