"""U.S. import routing against the USGS import sources: for every mineral with USGS import
sources (and a chain), whether the model's U.S. import shares of the top three USGS sources
are each within 10 points (the issue-9 check; tests/simulate/test_criticality_checks.py runs
it on a fixed list), and for a miss, which sources the chain's last stage does not carry.
Asserts nothing. Run: ``.venv/bin/python benchmarks/import_sources_table.py``.
"""

from __future__ import annotations

TOL = 0.10


def main() -> None:
    from critmin.chain import SupplyChain
    from critmin.economics.price import base_year
    from critmin.simulate.intermediaries import import_source_shares
    from critmin.simulate.model import REGIONS, build_model, shock_years_of

    chain = SupplyChain.load()
    us = REGIONS.index("USA")
    src = chain.dataset["import_sources"]
    have = set(chain.production.mineral.values.tolist())
    passed, failed, skipped = [], [], []
    for mineral in sorted(set(src["mineral"])):
        if mineral not in have:
            skipped.append(mineral)
            continue
        try:
            model = build_model(chain, mineral)
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
        usgs = {
            c: v
            for c, v in import_source_shares(src, mineral, want, model.stages[-1]).items()
            if c not in ("OTH", "USA")
        }
        top = sorted(usgs.items(), key=lambda kv: -kv[1])[:3]
        misses = [
            f"{c} {share.get(str(c), 0.0):.2f} vs {v:.2f}"
            + ("" if str(c) in model.countries else " (not a producer)")
            for c, v in top
            if abs(share.get(str(c), 0.0) - v) > TOL
        ]
        (failed if misses else passed).append((mineral, model.stages[-1], misses))
    total = len(passed) + len(failed)
    print(f"top-3 U.S. import sources within {TOL:.0%}: {len(passed)} of {total} minerals")
    for mineral, stage, misses in failed:
        print(f"  miss {mineral:24s} ({stage}): {'; '.join(misses)}")
    print(f"no chain, no imports or no model: {len(skipped)} ({', '.join(skipped)})")


if __name__ == "__main__":
    main()
