"""Which year each input of a simulation's chain model is read in, for the default rank
universe's simulated minerals (critmin.simulate.rank.simulated): world production per stage
(the model's rule, SupplyChain.production_years, beside the latest year with data that the
model read before the base-year rule), U.S. demand, reference price and net import
reliance. The other inputs have no year to choose: BACI routing priors are the trade years
(critmin.simulate.model.TRADE_YEARS), USGS import sources the latest period starting in or
before the base year, market parameters (stocks, elasticities, spare capacity) carry none.

An element assessed on its parent chain (terbium on rare_earths) is simulated on the parent's
production and priced on its own U.S. demand and price: the row shows both. Asserts that every
chain model records the years it read (ChainModel.base_year, production_years). Run:
``.venv/bin/python benchmarks/model_years.py [--changed]`` (``--changed``: only the rows whose
production year moved).
"""

from __future__ import annotations

import sys


def main(changed_only: bool = False) -> None:
    from critmin.chain import SupplyChain
    from critmin.economics.price import parents_of_dataset, year_at_base
    from critmin.metrics.concentration import select
    from critmin.simulate.model import TRADE_YEARS, build_model, reference_prices_of, us_demand_t
    from critmin.simulate.rank import chain_of, simulated

    chain = SupplyChain.load()
    parents = parents_of_dataset(chain.dataset)
    have = set(chain.production.mineral.values.tolist())
    latest = select(chain).shares.year  # the latest year with data per (mineral, stage)
    now = chain.production_years()
    prices = reference_prices_of(chain)
    nir = chain.us_nir_base()
    us = chain.dataset["us_supply"]

    def demand_year(mineral: str) -> str:
        """The year us_demand_t reads (checked against its figure); '-' without one."""
        tonnes, _ = us_demand_t(chain, mineral)
        if tonnes is None:
            return "-"
        rows = us[
            (us["mineral"] == mineral)
            & (us["statistic"] == "consumption")
            & (us["unit"] == "t")
            & us["value"].notna()
        ]
        kind = ""
        if rows.empty:  # production + imports - exports, in the import rows' year
            rows = us[(us["mineral"] == mineral) & (us["statistic"] == "imports")]
            rows = rows[(rows["unit"] == "t") & rows["value"].notna()]
            kind = " (P+I-E)"
        year = year_at_base({int(y) for y in rows["year"]}, chain.base_year(mineral))
        if not kind:
            at = rows[rows["year"] == year]
            apparent = at[at["detail"].str.contains("pparent")]
            pick = float((apparent if len(apparent) else at)["value"].max())
            assert abs(pick - tonnes) <= 1e-9 * max(tonnes, 1.0), (mineral, year, pick, tonnes)
        return f"{year}{kind}"

    def stages(mineral: str, years: object) -> str:
        sel = years.sel(mineral=mineral)  # type: ignore[attr-defined]
        return ", ".join(
            f"{s} {int(y)}" for s, y in zip(sel.stage.values, sel.values, strict=True) if y >= 0
        )

    models: dict[str, object] = {}
    rows = []
    for mineral, _ in simulated(chain):
        on = chain_of(chain, mineral, parents, have)
        if on not in models:
            model = build_model(chain, on)
            want = tuple(int(now.sel(mineral=on, stage=s)) for s in model.stages)
            assert model.base_year == chain.base_year(on), on
            assert model.production_years == want, (on, model.production_years, want)
            models[on] = model
        base = chain.base_year(on)
        after, before = stages(on, now), stages(on, latest)
        ref = prices.get(mineral)
        n = nir.sel(mineral=mineral) if mineral in nir.mineral.values else None
        rows.append(
            (
                mineral,
                on,
                base,
                after,
                before,
                demand_year(mineral),
                str(ref.year) if ref is not None else "-",
                str(int(n.nir_year)) if n is not None and int(n.nir_year) else "-",
            )
        )
    head = ("mineral", "chain", "base", "production (now)", "production (latest, before)")
    head += ("demand", "price", "NIR")
    shown = [r for r in rows if not changed_only or r[3] != r[4]]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *shown, strict=True)]
    for r in (head, *shown):
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    moved = sum(r[3] != r[4] for r in rows)
    off = sum(any(int(y) != r[2] for y in _years(r[3])) for r in rows)
    mixed_before = sum(any(int(y) != r[2] for y in _years(r[4])) for r in rows)
    print(
        f"\n{len(rows)} minerals on {len(models)} chains; production year moved for {moved}; "
        f"a stage read off the base year: {mixed_before} before, {off} now (no data in it). "
        f"BACI priors: {TRADE_YEARS[0]}-{TRADE_YEARS[1]}; market parameters: no year."
    )


def _years(cell: str) -> list[str]:
    return [part.split()[-1] for part in cell.split(", ") if part]


if __name__ == "__main__":
    main("--changed" in sys.argv[1:])
