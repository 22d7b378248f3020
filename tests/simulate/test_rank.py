"""critmin rank: the JSON interface, the scope (foreign disruptions, U.S. lists) and its
stability."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.economics.price import parents_of_dataset
from critmin.simulate import rank as rank_module
from critmin.simulate.rank import (
    RANK_COLUMNS,
    RANK_UNITS,
    chain_of,
    rank,
    rank_records,
    simulated,
    universe,
)

KEYS = set(RANK_COLUMNS)
DOLLARS = [k for k in KEYS if k.endswith("_usd")]
NOT_CRITICAL = {"gold", "salt", "lime", "cement", "sand_gravel_industrial", "sulfur"}
ELEMENTS = {"samarium", "gadolinium", "terbium", "dysprosium", "lutetium", "yttrium"}
ELEMENTS |= {"neodymium", "praseodymium", "rhodium", "iridium", "ruthenium"}


def test_every_dollar_column_has_its_unit() -> None:
    """The ranking's table names the unit of each of its dollar columns, and of nothing else."""
    assert set(RANK_UNITS) == {k for k in RANK_COLUMNS if k.endswith("_usd")}
    assert all(u.startswith("USD/yr") for u in RANK_UNITS.values())


@pytest.fixture(scope="module")
def everything(bundled: SupplyChain) -> list[dict[str, object]]:
    return rank_records(rank(bundled, runs=40, seed=5, include_all=True))


@pytest.fixture(scope="module")
def default(bundled: SupplyChain) -> list[dict[str, object]]:
    return rank_records(rank(bundled, seed=1))


def test_rank_json(tmp_path: Path) -> None:
    out = tmp_path / "rank.json"
    result = CliRunner().invoke(
        main, ["rank", "--runs", "20", "--seed", "3", "--workers", "2", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "assumptions" in result.output.lower()
    rows = json.loads(out.read_text())
    assert set(rows[0]) >= KEYS
    # the table prints every unranked mineral after the ranked ones, with its reason
    unranked = [r for r in rows if r["rank"] is None]
    assert {"cesium", "hafnium", "rubidium"} <= {r["mineral"] for r in unranked}
    text = result.output.split("Unranked (no dollar figure):")
    assert len(text) == 2, result.output
    for r in unranked:
        assert r["mineral"][:14] in text[0]  # a row of the table (long names fold at 14)
        assert f"  {r['mineral']}: {r['reason']}" in text[1]
    ranked = [r for r in rows if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(r["expected_loss_usd"] is not None for r in ranked)
    losses = [r["expected_loss_usd"] for r in ranked]
    assert losses == sorted(losses, reverse=True)
    for r in ranked:
        # a mineral whose stock covers every gap clears at P/P0 = 1 to rounding: on copper's
        # $17 bn U.S. market, 1e-16 of the price is a few millionths of a dollar
        assert 0 <= r["gdp_loss_usd"] <= r["expected_loss_usd"] + 1e-3
        assert r["expected_loss_se_usd"] >= 0
        # a price dip below the reference can make the transfer a (tiny) gain, never a large one
        assert r["p95_loss_usd"] >= -1.0
        assert r["domestic_outage_loss_usd"] >= 0


def test_absurd_runs_are_refused() -> None:
    result = CliRunner().invoke(main, ["rank", "--runs", "0"])
    assert result.exit_code != 0
    assert "--runs" in result.output


def test_foreign_scope(everything: list[dict[str, object]]) -> None:
    """Ranked over every mineral, none of the six domestic-outage artefacts is in the top 20."""
    top = [r for r in everything if r["rank"] is not None][:20]
    names = {str(r["mineral"]) for r in top}
    assert not names & NOT_CRITICAL, names & NOT_CRITICAL
    assert {str(r["mineral"]) for r in everything} >= NOT_CRITICAL


def test_no_loss_is_below_zero(everything: list[dict[str, object]]) -> None:
    """Foreign disruptions leave the U.S. price at P0 or raise it: no loss, transfer or gain
    is below 0. An undisrupted month once cleared a few ulps below P0 (a region's demand one
    ulp under what the baseline delivers) and printed about -1e-7 USD/yr for copper and
    zirconium (critmin.simulate.model.delivered)."""
    keys = (
        "expected_loss_usd",
        "p95_loss_usd",
        "gdp_loss_usd",
        "consumer_surplus_lost_usd",
        "producer_gain_usd",
        "terms_of_trade_transfer_usd",
        "domestic_outage_loss_usd",
    )
    below = [
        (r["mineral"], k, r[k])
        for r in everything
        for k in keys
        if r[k] is not None and float(r[k]) < 0.0  # type: ignore[arg-type]
    ]
    assert not below, below


def test_no_draw_pays_foreign_sellers_less_than_nothing(
    bundled: SupplyChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month that rerouting covers in full is supplied exactly its demand and clears at P0
    (critmin.simulate.kernel, step 3), so no draw's transfer abroad is below 0. Under seed 1
    gypsum, fluorspar and barite each had months priced at 1 - 8e-16 (receipts 1 ulp above
    the demand), and draws with a negative transfer."""
    seen: list[float] = []
    real = rank_module._year

    def spy(*args: object) -> dict[str, dict[str, np.ndarray]]:
        out = real(*args)  # type: ignore[arg-type]
        seen.extend(float(r["tot"].min()) for r in out.values() if "tot" in r)
        return out

    monkeypatch.setattr(rank_module, "_year", spy)
    rank(bundled, runs=20, seed=1, workers=1, minerals=["gypsum", "fluorspar", "barite"])
    assert seen
    assert min(seen) >= 0.0


def test_default_top_20_is_on_a_us_list(default: list[dict[str, object]]) -> None:
    top = [r for r in default if r["rank"] is not None][:20]
    assert len(top) == 20
    unlisted = [r["mineral"] for r in top if not r["on_us_list"]]
    assert unlisted == [], unlisted


def test_domestic_outages_are_a_column_of_their_own(everything: list[dict[str, object]]) -> None:
    by = {str(r["mineral"]): r for r in everything}
    # a domestic-only industry: all of its loss is domestic, none of it ranks it
    for m in ("lime", "cement"):
        if by[m]["expected_loss_usd"] is not None:
            assert by[m]["expected_loss_usd"] == 0.0 or by[m]["rank"] > 20  # type: ignore[operator]
    assert any(float(r["domestic_outage_loss_usd"] or 0) > 0 for r in everything)


def test_elements_have_dollar_figures(everything: list[dict[str, object]]) -> None:
    by = {str(r["mineral"]): r for r in everything}
    missing = sorted(m for m in ELEMENTS if by.get(m, {}).get("expected_loss_usd") is None)
    assert missing == []


def test_ranking_is_stable_across_seeds(
    bundled: SupplyChain, default: list[dict[str, object]]
) -> None:
    """Spearman >= 0.95 between two seeds over the top 20, at the default number of draws."""
    b = {r["mineral"]: r["expected_loss_usd"] for r in rank_records(rank(bundled, seed=2))}
    top = [r for r in default if r["rank"] is not None][:20]
    rho = spearmanr([r["expected_loss_usd"] for r in top], [b[r["mineral"]] for r in top])
    assert rho.statistic >= 0.95


def test_every_ranked_mineral_is_simulated_on_its_own_or_its_family_chain(
    bundled: SupplyChain,
) -> None:
    """A mineral without a parent and without a chain of its own is not ranked on another
    mineral's chain (a missing parent once read as the string "nan" put cesium, hafnium and
    rubidium on the natural-gas chain)."""
    parents = parents_of_dataset(bundled.dataset)
    assert "nan" not in parents.values()
    have = set(bundled.production.mineral.values.tolist())
    for mineral, _ in simulated(bundled, include_all=True):
        on = chain_of(bundled, mineral, parents, have)
        parent = parents.get(mineral)
        family = {mineral} | (
            {parent} | {m for m, p in parents.items() if p == parent} if parent else set()
        )
        assert on in family, (mineral, on)


@pytest.mark.parametrize("include_all", [False, True])
def test_every_mineral_of_the_universe_is_a_row(
    bundled: SupplyChain,
    default: list[dict[str, object]],
    everything: list[dict[str, object]],
    include_all: bool,
) -> None:
    """The universe minus the ranked minerals is exactly the unranked rows, each after the
    ranked ones, with a one-line reason and no dollar figure (None, never 0). Cesium, hafnium
    and rubidium (U.S.-list, no country production data) used to be dropped without a word."""
    rows = everything if include_all else default
    json.dumps(rows, allow_nan=False)  # no NaN in the JSON: a missing figure is null
    scope = {m for m, _ in universe(bundled, include_all=include_all)}
    names = [str(r["mineral"]) for r in rows]
    assert len(names) == len(set(names))
    assert set(names) == scope
    ranked = [r for r in rows if r["rank"] is not None]
    unranked = [r for r in rows if r["rank"] is None]
    assert {str(r["mineral"]) for r in unranked} == scope - {str(r["mineral"]) for r in ranked}
    assert rows == ranked + unranked  # the unranked rows come after the ranked ones
    for r in unranked:
        reason = str(r["reason"] or "")
        assert reason.strip(), r
        assert "\n" not in reason, r
        assert all(r[k] is None for k in DOLLARS), r
    assert all(r["reason"] is None for r in ranked)
    by = {str(r["mineral"]): r for r in rows}
    for m in ("cesium", "hafnium", "rubidium"):
        assert by[m]["rank"] is None
        assert by[m]["chain"] is None
        assert str(by[m]["reason"]).startswith("no country production data bundled")
    # the PGM aggregate (U.S. list) is ranked through its elements, and says so
    assert by["pgm"]["rank"] is None
    assert "platinum" in str(by["pgm"]["reason"])
    # --all adds the minerals off the lists, the default's rows stay rows
    if include_all:
        assert {str(r["mineral"]) for r in default} < set(names)
        assert by["thallium"]["rank"] is None


def test_a_subset_keeps_its_unsimulable_minerals(bundled: SupplyChain) -> None:
    rows = rank_records(rank(bundled, runs=20, seed=3, minerals=["cobalt", "cesium"]))
    assert [(r["mineral"], r["rank"]) for r in rows] == [("cobalt", 1), ("cesium", None)]
