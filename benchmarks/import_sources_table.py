"""U.S. import routing against the USGS import sources: for every mineral with USGS import
sources (and a chain), whether the model's U.S. import shares of the top three USGS sources
are each within 10 points (the issue-9 check; tests/simulate/test_criticality_checks.py runs
it on a fixed list), and for a miss its cause, computed from the model and the data (not
typed per mineral; :func:`source_cause`):

- ``capacity``: the source (or, for a re-export hub, its origins) ships the U.S. 95% of its
  last-stage output, the routing's bound (critmin.simulate.model._route_us_imports): USGS's
  share times modelled U.S. imports exceeds what the chain gives the country; the excess
  went to the other sources in their shares.
- ``upstream-form``: the source has output only at an earlier stage of the chain: USGS lists
  the form the U.S. imports, a later stage is where U.S. demand buys (its chain's last
  stage unless data-src/manual/us_demand_stages.csv names an earlier one, as it does for
  cobalt's refined metal and lithium's carbonate). The table reads the U.S. purchases at
  that stage (:func:`us_view`). Such a source ships through OTH and is named out of it at its
  own node where OTH ships the U.S. enough (critmin.simulate.intermediaries: sulfur's Mexico),
  so the cause is left where OTH cannot carry it.
- ``makes-form``: not in the chain, a one-stage chain, and BACI shows it exporting more of
  the form than it imports from countries other than the U.S.: a producer the production
  data lack, not a hub (critmin.simulate.hubs.hub_candidates ``same_form``).
- ``no-baci``: not in the chain and no BACI trade of the last stage's form (no HS code, or
  no rows): no evidence for a hub and no origin mix.
- ``baci-below-1%``: not in the chain and under 1% of U.S. imports of the last-stage form in
  BACI: the USGS figure is for another form (or year) than the chain's last-stage HS code.
- ``usgs-other``: USGS's "other countries" (the sources it does not list) with no OTH node
  at the chain's last stage and no producer there that USGS does not list and BACI shows
  shipping the U.S. (critmin.simulate.model._us_import_shares): the share is left out and
  the listed sources scaled up.
- ``aggregate``: the mineral is an element whose import sources are its group's, inherited
  (data-src/elements/inherit.csv: USGS publishes none for the element), and the source has no
  output of the element at the chain's last stage (Malaysia's Lynas, 13% of U.S. rare-earth
  compound imports, separated no europium, gadolinium or samarium in 2023-24): the USGS
  figure is not the element's, so there is nothing of the element's to match.
- ``prior``: a producer below its USGS share for none of the above (the BACI prior and the
  RAS fit of the other regions).

A mineral's cause is that of the USGS source with the largest shortfall (USGS share less the
modelled one, every source, not only the top three): a source above its USGS share takes the
shares others could not ship. Asserts nothing. Run:
``.venv/bin/python benchmarks/import_sources_table.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

TOL = 0.10
#: the routing's bound: no source ships the U.S. more than this share of its output
BOUND = 0.95


def source_cause(model: Any, country: str, trade: Any, us: int, listed: Any = ()) -> str:
    """Why ``country`` ships the U.S. less than its USGS share in ``model`` (a ChainModel);
    ``trade`` the BACI rows of the chain's last stage (or None)."""
    from critmin.data.build import BACI_PARTNER_MIN
    from critmin.schema.vocabulary import OTHER_COUNTRIES

    countries = list(model.countries)
    out = model.final.sum(axis=1)

    def capped(c: str) -> bool:
        i = countries.index(c)
        return bool(out[i] > 0 and model.final[i, us] >= BOUND * (1 - 1e-6) * out[i])

    def baci_share(c: str) -> float:
        if trade is None or trade.empty:
            return 0.0
        to_us = trade[trade["importer"] == "USA"].groupby("exporter")["quantity_t"].sum()
        return float(to_us.get(c, 0.0) / to_us.sum()) if to_us.sum() > 0 else 0.0

    hubs: dict[str, list[str]] = {}
    for h, o, _ in model.hub_feed:
        hubs.setdefault(h, []).append(o)
    if country == OTHER_COUNTRIES:
        if country not in countries or out[countries.index(country)] <= 0:
            # the share went to the producers USGS does not list that BACI shows shipping
            # the U.S. (critmin.simulate.model._us_import_shares), if any: their bound
            rest = [
                c
                for i, c in enumerate(countries)
                if model.capacity[-1, i] > 0
                and c not in listed
                and c != "USA"
                and baci_share(c) >= BACI_PARTNER_MIN
            ]
            return "capacity" if rest and all(capped(c) for c in rest) else "usgs-other"
        # the sources named out of OTH (critmin.simulate.intermediaries) are OTH's output too
        part = [countries.index(c) for c in (country, *model.named) if c not in hubs]
        sent, made = float(model.final[part, us].sum()), float(out[part].sum())
        return "capacity" if sent >= BOUND * (1 - 1e-6) * made else "prior"
    if country in hubs:
        origins = [o for o in hubs[country] if o in countries]
        return "capacity" if origins and all(capped(o) for o in origins) else "prior"
    if country in countries and (model.capacity[-1, countries.index(country)] > 0):
        return "capacity" if capped(country) else "prior"
    if country in countries and (model.capacity[:-1, countries.index(country)] > 0).any():
        return "upstream-form"
    if trade is None or trade.empty:
        return "no-baci"
    if baci_share(country) < BACI_PARTNER_MIN:
        return "baci-below-1%"
    cross = trade[trade["exporter"] != trade["importer"]]
    imports = float(
        cross.loc[(cross["importer"] == country) & (cross["exporter"] != "USA"), "quantity_t"].sum()
    )
    exports = float(cross.loc[cross["exporter"] == country, "quantity_t"].sum())
    if model.K == 1 and exports > imports:
        return "makes-form"
    return "prior"


def us_view(model: Any, us: int) -> Any:
    """``model`` cut at the stage where U.S. demand buys (ChainModel.us_stage): its output
    by supplier as ``final``, the U.S. column the U.S. buyer node's purchases
    (critmin.simulate.model.US_BUYER), the rest in the last column; ``model`` itself where
    U.S. demand buys the last stage."""
    from types import SimpleNamespace

    from critmin.simulate.model import US_BUYER

    if US_BUYER not in model.countries:
        return model
    j = model.us_stage_index
    flows = model.flows[j]
    bought = flows[:, model.countries.index(US_BUYER)]
    final = np.zeros((model.N, len(model.regions)))
    final[:, us] = bought
    final[:, -1] = flows.sum(axis=1) - bought
    return SimpleNamespace(
        countries=model.countries,
        final=final,
        capacity=model.capacity[: j + 1],
        stages=model.stages[: j + 1],
        K=j + 1,
        hub_feed=model.hub_feed,
        named=model.named,
    )


def main() -> None:
    from critmin.chain import SupplyChain
    from critmin.economics.price import base_year
    from critmin.schema.vocabulary import INHERITED_SOURCES, REGIONS
    from critmin.simulate.intermediaries import import_forms, import_source_shares
    from critmin.simulate.model import build_model, shock_years_of, trade_by_stage

    chain = SupplyChain.load()
    us = REGIONS.index("USA")
    src = chain.dataset["import_sources"]
    forms = import_forms(chain.dataset)
    trade = trade_by_stage(chain.dataset)
    have = set(chain.production.mineral.values.tolist())
    passed: list[str] = []
    failed: list[tuple[str, str, str, str, str, str]] = []
    skipped: list[str] = []
    for mineral in sorted(set(src["mineral"])):
        if mineral not in have:
            skipped.append(mineral)
            continue
        try:
            model = us_view(build_model(chain, mineral), us)
        except (KeyError, ValueError):
            skipped.append(mineral)
            continue
        imports = model.final[:, us].copy()
        if "USA" in model.countries:
            imports[model.countries.index("USA")] = 0.0
        if imports.sum() <= 0:
            skipped.append(mineral)
            continue
        share = dict(zip(model.countries, imports / imports.sum(), strict=True))
        want = base_year(mineral, shock_years_of(chain))
        raw = {
            str(c): v
            for c, v in import_source_shares(src, mineral, want, model.stages[-1], forms).items()
            if c != "USA"
        }
        top = sorted(((c, v) for c, v in raw.items() if c != "OTH"), key=lambda kv: -kv[1])[:3]
        if all(abs(share.get(c, 0.0) - v) <= TOL for c, v in top):
            passed.append(mineral)
            continue
        # the root cause: the USGS source (OTH included) with the largest shortfall
        total = sum(raw.values())
        gaps = {c: v / total - share.get(c, 0.0) for c, v in raw.items()}
        if "OTH" in gaps:  # USGS's "other countries" are the sources it does not list
            gaps["OTH"] = raw["OTH"] / total - sum(
                v for c, v in share.items() if (c not in raw or c == "OTH") and c != "USA"
            )
        worst = max(gaps, key=lambda c: gaps[c])
        rows = trade.get((mineral, model.stages[-1]))
        cause = source_cause(model, worst, rows, us, raw)
        own = src.loc[src["mineral"] == mineral, "category"]
        if cause not in ("capacity", "prior") and own.str.startswith(INHERITED_SOURCES).all():
            cause = "aggregate"
        failed.append(
            (
                mineral,
                model.stages[-1],
                ", ".join(f"{c} {v:.2f}" for c, v in top),
                ", ".join(f"{c} {share.get(c, 0.0):.2f}" for c, _ in top),
                cause,
                f"{worst} {gaps[worst]:+.2f}",
            )
        )
    total_n = len(passed) + len(failed)
    print(f"top-3 U.S. import sources within {TOL:.0%}: {len(passed)} of {total_n} minerals")
    head = ("mineral", "U.S. stage", "USGS top 3", "modelled", "cause", "largest shortfall")
    width = [max(len(str(r[i])) for r in [head, *failed]) for i in range(len(head))]
    for row in [head, *failed]:
        print("  " + "  ".join(str(x).ljust(w) for x, w in zip(row, width, strict=True)))
    counts = Counter(r[4] for r in failed)
    print("misses by cause: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))
    print(f"no chain, no imports or no model: {len(skipped)} ({', '.join(skipped)})")
    _ = np  # numpy is the model's array type


if __name__ == "__main__":
    main()
