"""Re-export hubs (critmin.simulate.hubs): for every chain with a hub, each hub's U.S. flow,
its BACI exports over imports of the form (above 1, it ships material of its own: recycled or
refined from a form the chain does not trace), its import-origin mix, and the mine-origin
content of U.S. imports. Then two sensitivities: (1) of the ASSUMPTION that a hub ships primary
metal in its imports' origin mix, the share of each hub's exports its imports do not cover
(the content that would be unattributed were that share its own secondary feed); (2) of the
hub rule's threshold (1% of U.S. imports of the form in BACI): hubs named and the issue-9
match count (benchmarks/import_sources_table.py) at 0.5%, 1%, 2% and 5%. With ``--rank``, the
PGMs' expected annual U.S. loss (critmin.simulate.rank, seed 0).
Asserts nothing. Run: ``.venv/bin/python benchmarks/reexport_hubs.py [--rank]``.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path


def main() -> None:
    import numpy as np

    from critmin.chain import SupplyChain
    from critmin.schema.vocabulary import REGIONS
    from critmin.simulate import hubs
    from critmin.simulate.model import build_model, trade_by_stage

    chain = SupplyChain.load()
    us = REGIONS.index("USA")
    minerals = sorted(set(chain.dataset["import_sources"]["mineral"]))
    have = set(chain.production.mineral.values.tolist())

    def models() -> dict[str, object]:
        out = {}
        for m in minerals:
            if m not in have:
                continue
            with contextlib.suppress(KeyError, ValueError):
                out[m] = build_model(chain, m)
        return out

    built = models()
    for m, model in built.items():
        named = [
            h for h in model.named if any(f"{h} a re-export hub" in a for a in model.assumptions)
        ]
        if not named:
            continue
        k = len(model.stages) - 1
        trade = trade_by_stage(chain.dataset)[(m, model.stages[-1])]
        imports = model.final[:, us].copy()
        if "USA" in model.countries:
            imports[model.countries.index("USA")] = 0.0
        content = imports @ model.content[k] / imports.sum()
        top = np.argsort(-content)[:2]
        origin = ", ".join(f"{model.countries[i]} {content[i]:.0%}" for i in top)
        print(f"{m} ({model.stages[-1]}): mine-origin content of U.S. imports {origin}")
        producers = [c for c in model.countries if c not in model.named and c != "USA"]
        mixes = hubs.hub_origins(
            trade,
            named,
            [c for c in producers if c != "OTH"],
            "OTH" if "OTH" in producers else None,
        )
        own_content = np.zeros_like(content)
        for h in named:
            n = model.countries.index(h)
            t_in = trade.loc[trade["importer"] == h, "quantity_t"].sum()
            t_out = trade.loc[trade["exporter"] == h, "quantity_t"].sum()
            own = max(1.0 - t_in / t_out, 0.0) if t_out > 0 else 0.0
            own_content += model.final[n, us] * own * model.content[k, n] / imports.sum()
            mix = ", ".join(
                f"{c} {v:.0%}" for c, v in sorted(mixes[h].items(), key=lambda kv: -kv[1])[:3]
            )
            print(
                f"  {h}: {model.final[n, us] * 12:,.3g} t/yr to the U.S. "
                f"({model.final[n, us] / imports.sum():.0%} of imports); BACI exports/imports "
                f"{t_out / max(t_in, 1e-9):.2f}, not covered by imports {own:.0%}; origins {mix}"
            )
        alt = content - own_content
        print(
            "  were the hubs' exports above their imports their own (secondary) feed: "
            + ", ".join(f"{model.countries[i]} {alt[i]:.0%}" for i in top)
            + f", unattributed {own_content.sum():.0%}"
        )
    print("threshold sensitivity (hub rule: share of U.S. imports of the form in BACI)")
    sys.path.insert(0, str(Path(__file__).parent))
    import import_sources_table as table

    base = hubs.BACI_PARTNER_MIN
    for threshold in (0.005, 0.01, 0.02, 0.05):
        hubs.BACI_PARTNER_MIN = threshold
        named = {}
        for m, model in models().items():
            got = [a.split(" ")[0] for a in model.assumptions if " a re-export hub " in a]
            if got:
                named[m] = got
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            table.main()
        head = buf.getvalue().splitlines()[0]
        print(f"  {threshold:.1%}: {head}; hubs {named}")
    hubs.BACI_PARTNER_MIN = base
    if "--rank" in sys.argv:
        from critmin.simulate.rank import rank

        print("expected annual U.S. loss (rank, seed 0, default draws), USD/yr")
        pgms = ["palladium", "platinum", "rhodium", "iridium"]
        for row in rank(chain, seed=0, workers=1, minerals=pgms):
            print(f"  {row.mineral}: {row.expected_loss_usd:.4g} (p95 {row.p95_loss_usd:.4g})")


if __name__ == "__main__":
    main()
