"""The sensitivity's fast path (critmin.optimize.splice): a case rebuilds only the blocks whose
data it changes and takes the others from the base programme. It must hand HiGHS the very LP
a full build gives (every coefficient, bound and row, in the same order) and so return the
same plan; it fails if a block it took from the base reads changed data."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.optimize import sensitivity
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import Ensemble, build_ensemble
from critmin.optimize.problem import CAPITAL_COST_PER_YEAR, ReserveProblem
from critmin.optimize.sensitivity import (
    CaseInputs,
    Resimulator,
    _Cases,
    _forget,
    parameter_sensitivity,
    scaled_conversions,
    scaled_model,
    scaled_split,
    spend_of,
)
from critmin.optimize.splice import Built, Matrices, same_block, solve_spliced
from critmin.simulate.model import build_model

MINERALS = ["antimony", "rare_earths", "cobalt"]
RULE = "listed=antimony rare_earths cobalt"


@pytest.fixture(scope="module")
def ens(bundled: SupplyChain) -> Ensemble:
    return build_ensemble(bundled, minerals=MINERALS, runs=10, seed=3, horizon=6)


def _problem(chain: SupplyChain, ens: Ensemble, **kw: object) -> ReserveProblem:
    forms = kw.pop("forms", chain.dataset["reserve_forms"])
    return CaseInputs(
        chain,
        forms,
        ens,
        2e8,
        Eligibility.parse(RULE),
        **kw,  # type: ignore[arg-type]
    ).problem()


def _cases(chain: SupplyChain, ens: Ensemble) -> dict[str, ReserveProblem]:
    """One case of each kind the sensitivity solves, each changing one mineral's data."""
    forms = chain.dataset["reserve_forms"].copy()
    pick = forms["mineral"] == "cobalt"
    forms.loc[pick, "drawdown_per_month"] = forms.loc[pick, "drawdown_per_month"] * 0.5
    # cobalt's supply elasticity moves its shortfall by up to 0.2 t of 98 in these draws;
    # rare earths' moved theirs only by the flows' fitting residual (6e-11 t), which
    # model.close_flows removed
    model = build_model(chain, "cobalt")
    moved = Resimulator(chain, ens, 3).ensemble(
        scaled_model(model, chain, "supply_elasticity", 1.5)
    )
    return {
        "reserve_forms": _problem(chain, ens, forms=forms),
        "reserve_needs": _problem(
            chain, ens, needs=scaled_split(chain.dataset["reserve_needs"], "rare_earths", 1.5)
        ),
        "reserve_conversions": _problem(
            chain,
            ens,
            conversions=scaled_conversions(
                chain.dataset["reserve_conversions"], "rare_earths", "available_share", 0.5
            ),
        ),
        "market_parameters": _problem(chain, moved),
    }


def test_the_spliced_lp_is_the_full_build_and_gives_the_same_plan(
    bundled: SupplyChain, ens: Ensemble
) -> None:
    base = Built.of(_problem(bundled, ens))
    assert len(base.problem.blocks) > 1  # something to take from the base
    base_spend = spend_of(dataclasses.replace(base.problem))
    moved = []
    for kind, problem in _cases(bundled, ens).items():
        spliced = solve_spliced(base, dataclasses.replace(problem))
        assert spliced is not None, kind
        # only the changed mineral's block was rebuilt
        assert len(spliced.problem.spans) == 1, kind
        full = dataclasses.replace(problem)
        full.build()
        want = Matrices.of(full)
        for name in ("vlabels", "clabels", "c", "lb", "ub", "b", "sense"):
            assert np.array_equal(getattr(spliced.matrices, name), getattr(want, name)), (
                kind,
                name,
            )
        got_a, want_a = spliced.matrices.A, want.A
        assert got_a.shape == want_a.shape
        # the case changes the LP (else the comparison proves nothing)
        assert (
            got_a.shape != base.matrices.A.shape
            or not all(
                np.array_equal(getattr(spliced.matrices, n), getattr(base.matrices, n))
                for n in ("c", "lb", "ub", "b")
            )
            or (got_a != base.matrices.A).nnz > 0
        ), kind
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(got_a, part), getattr(want_a, part)), (kind, part)
        fast = spend_of(dataclasses.replace(problem), base)
        slow = spend_of(dataclasses.replace(problem))
        assert fast == slow, kind  # the same plan, to the last bit
        moved.append(fast != base_spend)
    assert sum(moved) >= 2  # and some cases move the plan


def test_a_block_is_taken_from_the_base_only_when_its_data_are_the_same(
    bundled: SupplyChain, ens: Ensemble
) -> None:
    base = _problem(bundled, ens)
    base.build()
    case = _cases(bundled, ens)["reserve_forms"]  # cobalt's drawdown halved
    blocks = case.stage_two()
    same = {
        str(b.mineral): same_block(case, b, base, o)
        for b, o in zip(blocks, base.blocks, strict=True)
    }
    assert same == {m: m != "cobalt" for m in same}
    assert "cobalt" in same
    # a different cost of capital reaches every block: nothing is spliced
    capital = _problem(bundled, ens, capital=CAPITAL_COST_PER_YEAR * 1.5)
    assert solve_spliced(Built.of(_problem(bundled, ens)), capital) is None


def test_the_sensitivity_rows_are_the_same_with_and_without_splicing(
    bundled: SupplyChain, ens: Ensemble
) -> None:
    plan = {"holdings": [{"mineral": m, "tonnes": 1.0} for m in ("antimony", "rare_earths")]}
    rule = Eligibility.parse(RULE)
    fast, slow = (
        parameter_sensitivity(
            bundled,
            ens,
            plan,
            budget=2e8,
            seed=3,
            eligibility=rule,
            splice=splice,
            parameters=(
                "purchase_cap_share",
                "storage_per_year",
                "minor_element_share",
                "available_share",
                "supplier_stock_days",
            ),
        )
        for splice in (True, False)
    )
    assert len(fast) >= 4
    assert fast == slow
    assert any(r["budget_share_moved"] > 0 for r in fast)


def test_the_base_is_built_once_per_run_and_forgotten(bundled: SupplyChain, ens: Ensemble) -> None:
    forms = bundled.dataset
    ctx = _Cases(
        "t",
        bundled,
        ens,
        2e8,
        Eligibility.parse(RULE),
        forms["reserve_forms"],
        forms["reserve_needs"],
        forms["reserve_conversions"],
        None,
        time.time() + 600,
    )
    first = sensitivity._base(ctx)
    assert sensitivity._base(ctx) is first
    _forget("t")
    assert "t" not in sensitivity._BASE
