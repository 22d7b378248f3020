"""Figures docs/reserve.md quotes that ``critmin optimize`` does not print itself, on the plan's
own ensemble ($2.5B, seed 0, horizon 20 quarters, the risk-neutral purchase problem):

- ``plan`` (500 draws, default rule): dollars and tonnes bought per lot, by quarter, the
  accounting, and each mineral's mean price ratio and mean shortfall over the draws and
  quarters (run it with ``PYTHONPATH`` at two trees' ``src`` to compare them);
- ``caps`` (500 draws, default rule): dollars bought per lot with every form's
  ``purchase_cap_share`` set to 0.025, 0.05, 0.075, 0.10 and 0.20, and the budget share moved;
- ``copper`` (200 draws, ``--eligibility all``): copper's commercial stock cover moved from its
  bundled days to 15 times them (2 -> 30 days when written; 22.5 -> 337.5 days since the U.S.
  cover is read from USGS stocks), re-simulated on the same draws;
- ``stockdays`` (500 draws, default rule): the plan's sensitivity (``critmin optimize --json``'s
  ``sensitivity``, the same cases and measure) to the two stock-cover parameters, each moved
  on its own at x0.5 and x1.5: ``commercial_stock_days`` (the consuming regions' stock) and
  ``supplier_stock_days`` (the processing plants' input stock); then, for comparison, both
  moved together (as the one parameter did before they were split);
- ``revenue`` (500 draws, default rule): the plan's release revenue at the scenario's price (the
  optimiser's: it takes the price path as given) against the reference price (where a release
  fills the U.S. gap, the market clears back towards it), per lot; then the plan re-solved with
  releases and the stock left credited at the reference price (``critmin optimize
  --release-price reference``).

Asserts nothing. Run:
``.venv/bin/python benchmarks/reserve_figures.py plan|caps|copper|stockdays|revenue``.
"""

from __future__ import annotations

import sys
from typing import Any

BUDGET = 2.5e9


def _ensemble(rule: Any, runs: int) -> Any:
    from critmin.chain import SupplyChain
    from critmin.optimize.ensemble import build_ensemble

    chain = SupplyChain.load()
    forms = chain.dataset["reserve_forms"]
    admitted = [
        m for m, why in rule(chain).admit(chain, sorted(set(forms["mineral"]))).items() if why
    ]
    return chain, forms, build_ensemble(chain, minerals=admitted, runs=runs, seed=0, horizon=20)


def plan() -> None:
    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.plan import reserve_problem
    from critmin.optimize.problem import Risk

    chain, _, ens = _ensemble(Eligibility.of, 500)
    problem, _ = reserve_problem(chain, ens, budget=BUDGET, risk=Risk())
    problem.build()
    sol = problem.solve()
    print(
        f"spent ${sol.spent_usd / 1e6:.1f}M, expected loss ${sol.expected_loss_usd / 1e6:.1f}M, "
        f"release revenue ${sol.release_revenue_usd / 1e6:.1f}M, terminal value "
        f"${sol.terminal_value_usd / 1e6:.1f}M"
    )
    ratio = ens.price / ens.base_price
    # U.S. tonnes (a world market's ensemble shortfall is pooled: critmin.optimize.ensemble)
    us_short = ens.us_shortfall() if hasattr(ens, "us_shortfall") else ens.shortfall
    for m in ens.price.mineral.values:
        print(
            f"  {m}: mean price ratio {float(ratio.sel(mineral=m).mean()):.3f}, mean shortfall "
            f"{float(us_short.sel(mineral=m).mean()):.2f} t a period (U.S.)"
        )
    assert sol.spent_by_lot is not None
    assert sol.purchases is not None
    for lot in problem.lots.index:
        usd = float(sol.spent_by_lot.sel(lot=lot))
        if usd > 1e5:
            by_quarter = [round(float(x)) for x in sol.purchases.sel(lot=lot).values]
            print(
                f"  {lot}: ${usd / 1e6:.1f}M, {float(sol.stock.sel(lot=lot)):.1f} t; {by_quarter}"
            )


def caps() -> None:
    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.sensitivity import CaseInputs, moved_share, spend_by_lot

    chain, forms, ens = _ensemble(Eligibility.of, 500)
    base: dict[str, float] | None = None
    for share in [0.05, 0.025, 0.075, 0.10, 0.20]:
        f = forms.copy()
        f["purchase_cap_share"] = share
        spend = spend_by_lot(CaseInputs(chain, f, ens, BUDGET, None))
        base = spend if base is None else base
        lots = sorted(((v, k) for k, v in spend.items() if v > 1e3), reverse=True)
        print(
            f"cap share {share}: spent ${sum(spend.values()) / 1e6:.1f}M, budget moved "
            f"{100 * moved_share(base, spend, BUDGET):.1f}%; "
            + "; ".join(f"{k} ${v / 1e6:.1f}M" for v, k in lots),
            flush=True,
        )


def copper() -> None:
    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.sensitivity import (
        CaseInputs,
        Resimulator,
        moved_share,
        scaled_model,
        spend_by_lot,
    )
    from critmin.simulate.model import build_model

    rule = Eligibility.parse("all")
    chain, forms, ens = _ensemble(lambda _: rule, 200)
    base = spend_by_lot(CaseInputs(chain, forms, ens, BUDGET, rule))
    model = build_model(chain, "copper")
    moved = Resimulator(chain, ens, 0).ensemble(
        scaled_model(model, chain, "commercial_stock_days", 15.0)
    )
    case = spend_by_lot(CaseInputs(chain, forms, moved, BUDGET, rule))

    def cu(spend: dict[str, float]) -> float:
        return sum(v for k, v in spend.items() if k.startswith("copper"))

    print(f"copper stock days (node, region): {model.node_stock_days}, {model.region_stock_days}")
    print(
        f"spent ${sum(base.values()) / 1e6:.1f}M -> ${sum(case.values()) / 1e6:.1f}M; copper "
        f"${cu(base) / 1e6:.2f}M -> ${cu(case) / 1e6:.2f}M; budget moved "
        f"{100 * moved_share(base, case, BUDGET):.2f}%"
    )


def stockdays() -> None:
    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.plan import optimise
    from critmin.optimize.problem import Risk
    from critmin.optimize.sensitivity import parameter_sensitivity

    chain, _, ens = _ensemble(Eligibility.of, 500)
    rule = Eligibility.of(chain)
    plan = optimise(chain, ens, budget=BUDGET, risk=Risk(), eligibility=rule).as_json()
    print(f"spent ${plan['spent_usd'] / 1e6:.1f}M")
    rows = parameter_sensitivity(
        chain,
        ens,
        plan,
        budget=BUDGET,
        seed=0,
        eligibility=rule,
        time_limit=float("inf"),
        workers=2,
        parameters=("commercial_stock_days", "supplier_stock_days"),
    )
    for r in sorted(rows, key=lambda r: -r["budget_share_moved"]):
        print(
            f"  {r['parameter']:22s} {r['mineral']:14s} {r['value']:g} days: moved "
            f"{100 * r['moved_share_low']:.1f}% at x0.5, {100 * r['moved_share_high']:.1f}% at x1.5"
        )
    from critmin.optimize.sensitivity import (
        CaseInputs,
        Resimulator,
        moved_share,
        scaled_model,
        spend_by_lot,
    )
    from critmin.simulate.model import build_model

    forms = chain.dataset["reserve_forms"]
    base = spend_by_lot(CaseInputs(chain, forms, ens, BUDGET, rule))
    resim = Resimulator(chain, ens, 0)
    print("both together:")
    for m in sorted({r["mineral"] for r in rows}):
        model = build_model(chain, m)
        moved = []
        for f in (0.5, 1.5):
            both = scaled_model(model, chain, "commercial_stock_days", f)
            both = scaled_model(both, chain, "supplier_stock_days", f)
            case = spend_by_lot(CaseInputs(chain, forms, resim.ensemble(both), BUDGET, rule))
            moved.append(100 * moved_share(base, case, BUDGET))
        print(
            f"  {m:14s} (region {model.region_stock_days:g}, plants {model.node_stock_days:g} "
            f"days): moved {moved[0]:.1f}% at x0.5, {moved[1]:.1f}% at x1.5"
        )


def revenue() -> None:
    import xarray as xr

    from critmin.optimize.eligibility import Eligibility
    from critmin.optimize.plan import reserve_problem
    from critmin.optimize.problem import Accounting, Risk

    chain, _, ens = _ensemble(Eligibility.of, 500)
    problem, _ = reserve_problem(chain, ens, budget=BUDGET, risk=Risk())
    problem.build()
    sol = problem.solve()
    lots = problem.lots
    market, base, r = lots.market_price(ens), lots.column("price_usd_t"), sol.releases

    def expect(x: xr.DataArray) -> xr.DataArray:
        return x.mean("scenario") if ens.weight is None else (x * ens.weight).sum("scenario")

    at_market = expect((market * r).sum("period"))
    at_ref = expect((base * r).sum("period"))
    released = expect(r.sum("period"))
    print(
        f"spent ${sol.spent_usd / 1e6:.1f}M, release revenue ${sol.release_revenue_usd / 1e6:.1f}M"
    )
    for lot in lots.index:
        a, b = float(at_market.sel(lot=lot)), float(at_ref.sel(lot=lot))
        if a > 1e4:
            print(
                f"  {lot}: E[released] {float(released.sel(lot=lot)):.1f} t, revenue at the "
                f"scenario price ${a / 1e6:.1f}M, at the reference price ${b / 1e6:.1f}M "
                f"(x{a / b:.2f})"
            )
    print(
        f"total: ${float(at_market.sum()) / 1e6:.1f}M at the scenario price, "
        f"${float(at_ref.sum()) / 1e6:.1f}M at the reference price"
    )
    again, _ = reserve_problem(
        chain,
        ens,
        budget=BUDGET,
        risk=Risk(),
        accounting=Accounting.full(release_price="reference"),
    )
    again.build()
    low = again.solve()
    assert sol.spent_by_lot is not None
    assert low.spent_by_lot is not None
    print(
        "releases and stock left credited at the reference price (--release-price reference): "
        f"spent ${low.spent_usd / 1e6:.1f}M"
    )
    for lot in lots.index:
        a, b = float(sol.spent_by_lot.sel(lot=lot)), float(low.spent_by_lot.sel(lot=lot))
        if max(a, b) > 1e5:
            print(f"  {lot}: ${a / 1e6:.1f}M -> ${b / 1e6:.1f}M")


def main() -> None:
    parts = {
        "plan": plan,
        "caps": caps,
        "copper": copper,
        "stockdays": stockdays,
        "revenue": revenue,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in parts:
        sys.exit("usage: reserve_figures.py plan|caps|copper|stockdays|revenue")
    parts[sys.argv[1]]()


if __name__ == "__main__":
    main()
