"""Build the BEA input-output tables critmin bundles (2017 benchmark, detail, 402 industries).

From ``RAW/bea`` (see its PROVENANCE.md): the Use table at producers' prices, the Make table
and the import matrix, all before redefinitions, in US$ million; gross output 1997-2023. Only
non-zero cells of the 402 x 402 commodity-industry blocks are kept. Total industry output is
the Use table's T008 row (= the Make table's row totals), value added its T006 row.
The bridge (``data-src/mappings/bea_*.csv``) says which BEA commodity each mineral is sold in
and which BEA industries each end-use sector is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from critmin.schema.vocabulary import BEA_BRIDGE_SOURCE as BRIDGE
from critmin.schema.vocabulary import BEA_SOURCE as BEA


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, index_col=0)
    frame.index = frame.index.astype(str)
    return frame


def _long(block: pd.DataFrame, table: str) -> pd.DataFrame:
    stacked = pd.Series(block.stack())
    stacked = stacked[stacked.to_numpy() != 0]
    out = pd.DataFrame(
        {
            "row": stacked.index.get_level_values(0).astype(str),
            "col": stacked.index.get_level_values(1).astype(str),
            "value": stacked.to_numpy(dtype=float),
        }
    )
    out.insert(0, "table", table)
    out["source_id"] = BEA
    return out


def io_tables(raw: Path, src: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """``io_industries``, ``io_flows`` and ``io_bridge`` from the raw BEA folder, and the bridge
    codes that are not BEA industries (left out)."""
    bea = raw / "bea"
    industries = pd.read_csv(bea / "industry_codes_2017.csv", dtype=str)
    codes = industries.iloc[:, 0].tolist()
    commodities = pd.read_csv(bea / "commodity_codes_2017.csv", dtype=str).iloc[:, 0].tolist()
    use = _read(bea / "use_2017_detail_producer_prices.csv")
    make = _read(bea / "make_2017_detail.csv")
    imports = _read(bea / "import_matrix_2017_detail.csv")
    gross = _read(bea / "gross_output_1997_2023_detail.csv")
    inds = [c for c in codes if c in use.columns]
    coms = [c for c in commodities if c in use.index]
    flows = pd.concat(
        [
            _long(use.loc[coms, inds].astype(float), "use"),
            _long(make.loc[inds, [c for c in coms if c in make.columns]].astype(float), "make"),
            _long(
                imports.loc[[c for c in coms if c in imports.index], inds].astype(float), "imports"
            ),
        ],
        ignore_index=True,
    )
    table = pd.DataFrame(
        {
            "code": inds,
            "name": industries.set_index(industries.columns[0]).loc[inds].iloc[:, 0].to_numpy(),
            "gross_output": use.loc["T008", inds].astype(float).to_numpy(),
            "value_added": use.loc["T006", inds].astype(float).to_numpy(),
            "gross_output_2023": gross.reindex(inds)["2023"].astype(float).to_numpy(),
            "source_id": BEA,
        }
    )
    sectors = pd.read_csv(src / "mappings" / "bea_end_use_sectors.csv", dtype=str)
    minerals = pd.read_csv(src / "mappings" / "bea_mineral_commodities.csv", dtype=str)
    bridge = pd.concat(
        [
            pd.DataFrame(
                {
                    "kind": "mineral",
                    "key": minerals["mineral"],
                    "code": minerals["commodity"],
                    "note": minerals["note"],
                }
            ),
            pd.DataFrame(
                {
                    "kind": "sector",
                    "key": sectors["sector"],
                    "code": sectors["industry"],
                    "note": sectors["note"],
                }
            ),
        ],
        ignore_index=True,
    )
    bridge["source_id"] = BRIDGE
    known = bridge["code"].isin(set(inds))
    dropped = sorted(
        f"{k} -> {c}" for k, c in zip(bridge["key"][~known], bridge["code"][~known], strict=True)
    )
    return {"io_industries": table, "io_flows": flows, "io_bridge": bridge[known]}, dropped
