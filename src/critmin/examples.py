"""A small world for tests, docs and bug reports: two minerals, six countries, known answers.

Cobalt mining 2024: COD 70 t, AUS 20 t, OTH 10 t (shares 0.7, 0.2, 0.1).
Cobalt refining 2024: CHN 80 t, JPN 20 t. Rare-earth mining 2024: CHN 60 t, USA 40 t.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from critmin.data.build import write_tables
from critmin.outlook.examples import small_outlook_tables
from critmin.schema.vocabulary import STAGE_NAMES, STAGE_ORDER

SRC = "EXAMPLE"


def small_world_tables() -> dict[str, pd.DataFrame]:
    """Every declared table, small and valid."""
    countries = ["AUS", "CHN", "COD", "JPN", "USA", "OTH"]

    def prod(mineral: str, stage: str, year: int, values: dict[str, float]) -> list[dict]:  # type: ignore[type-arg]
        return [
            {
                "mineral": mineral,
                "stage": stage,
                "country": c,
                "year": year,
                "value": v,
                "unit": "t",
                "basis": "contained metal",
                "source_id": SRC,
                "estimated": False,
                "note": "",
            }
            for c, v in values.items()
        ]

    production = (
        prod("cobalt", "mining", 2024, {"COD": 70, "AUS": 20, "OTH": 10})
        + prod("cobalt", "mining", 2023, {"COD": 50, "AUS": 50})
        + prod("cobalt", "refining", 2024, {"CHN": 80, "JPN": 20})
        + prod("rare_earths", "mining", 2024, {"CHN": 60, "USA": 40})
    )
    return {
        "sources": pd.DataFrame(
            [
                {
                    "id": SRC,
                    "title": "critmin small world (made-up numbers for tests)",
                    "publisher": "critmin",
                    "year": 2026,
                    "address": "critmin.examples",
                    "licence": "MIT",
                    "priority": 2,
                }
            ]
        ),
        "minerals": pd.DataFrame(
            [
                {
                    "id": "cobalt",
                    "name": "Cobalt",
                    "family": "battery_metal",
                    "symbol": "Co",
                    "parent": "",
                    "usgs_2025": True,
                    "doe_2023": True,
                    "eu_2023": True,
                    "note": "",
                },
                {
                    "id": "rare_earths",
                    "name": "Rare earths",
                    "family": "rare_earth_aggregate",
                    "symbol": "",
                    "parent": "",
                    "usgs_2025": True,
                    "doe_2023": "",
                    "eu_2023": True,
                    "note": "",
                },
            ]
        ),
        "stages": pd.DataFrame(
            {
                "id": list(STAGE_ORDER),
                "name": [STAGE_NAMES[s] for s in STAGE_ORDER],
                "position": list(STAGE_ORDER.values()),
            }
        ),
        "chains": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "stage": "mining",
                    "position": 0,
                    "description": "ore",
                    "note": "",
                },
                {
                    "mineral": "cobalt",
                    "stage": "refining",
                    "position": 1,
                    "description": "refined",
                    "note": "",
                },
            ]
        ),
        "countries": pd.DataFrame({"iso3": countries, "name": countries}),
        "country_groups": pd.DataFrame(
            [
                {"group": g, "country": c, "source_id": SRC, "note": ""}
                for g, cs in {
                    "feoc": ["CHN"],
                    "allied": ["AUS", "JPN", "USA"],
                    "fta_us": ["AUS"],
                }.items()
                for c in cs
            ]
        ),
        "commodity_map": pd.DataFrame(
            [
                {
                    "source_id": SRC,
                    "raw_commodity": "Cobalt",
                    "raw_detail": "",
                    "mineral": "cobalt",
                    "stage": "mining",
                    "basis": "contained metal",
                    "note": "",
                }
            ]
        ),
        "production": pd.DataFrame(production),
        "reserves": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "country": "COD",
                    "year": 2024,
                    "value": 1000,
                    "unit": "t",
                    "basis": "contained metal",
                    "source_id": SRC,
                    "note": "",
                }
            ]
        ),
        "trade": pd.DataFrame(
            [
                {
                    "year": 2024,
                    "exporter": "COD",
                    "importer": "CHN",
                    "hs6": "282200",
                    "mineral": "cobalt",
                    "stage": "refining",
                    "value_kusd": 10.0,
                    "quantity_t": 1.0,
                    "source_id": SRC,
                }
            ]
        ),
        "us_supply": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "year": 2024,
                    "statistic": "net_import_reliance",
                    "detail": "Cobalt: NIR",
                    "value": 0.75,
                    "unit": "fraction",
                    "qualifier": "exact",
                    "source_id": SRC,
                    "estimated": False,
                    "note": "",
                },
                {
                    "mineral": "rare_earths",
                    "year": 2024,
                    "statistic": "net_import_reliance",
                    "detail": "Rare earths: NIR",
                    "value": "",
                    "unit": "fraction",
                    "qualifier": "net_exporter",
                    "source_id": SRC,
                    "estimated": False,
                    "note": "",
                },
            ]
        ),
        "import_sources": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "period": "2021-24",
                    "category": "Cobalt: all",
                    "country": "JPN",
                    "share": 0.5,
                    "source_id": SRC,
                }
            ]
        ),
        "governance_indicators": pd.DataFrame(
            [
                {
                    "country": c,
                    "year": 2024,
                    "indicator": ind,
                    "estimate": e,
                    "source_id": SRC,
                }
                for c, e in {"AUS": 1.0, "CHN": -0.5, "COD": -2.0, "JPN": 1.0, "USA": 0.0}.items()
                for ind in ("CC", "GE", "PV", "RQ", "RL", "VA")
            ]
        ),
        "governance": pd.DataFrame(
            [
                {
                    "country": c,
                    "year": 2024,
                    "variant": variant,
                    "estimate": e,
                    "score": (2.5 - e) * 2,
                    "source_id": SRC,
                }
                for c, e in {"AUS": 1.0, "CHN": -0.5, "COD": -2.0, "JPN": 1.0, "USA": 0.0}.items()
                for variant in ("mean_of_six", "political_stability")
            ]
        ),
        "prices": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "year": 2024,
                    "detail": "Cobalt: spot",
                    "value": 12.0,
                    "unit": "USD/lb",
                    "source_id": SRC,
                    "estimated": False,
                    "note": "",
                }
            ]
        ),
        "end_uses": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "region": "USA",
                    "sector": "superalloys",
                    "share": 1.0,
                    "year": 2024,
                    "source_id": SRC,
                    "estimated": False,
                    "note": "",
                }
            ]
        ),
        "recycling": pd.DataFrame(
            [{"mineral": "cobalt", "eol_rir": 0.22, "year": 2023, "source_id": SRC, "note": ""}]
        ),
        "demand_shares": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "region": "CHN",
                    "share": 0.5,
                    "year": 2024,
                    "basis": "refined",
                    "source_id": SRC,
                    "estimated": False,
                    "note": "",
                }
            ]
        ),
        # U.S. demand buys each chain's last stage (cobalt: refining)
        "us_demand_stages": pd.DataFrame(columns=["mineral", "stage", "source_id", "note"]),
        "market_parameters": pd.DataFrame(
            [
                {
                    "mineral": m,
                    "parameter": p,
                    "value": v,
                    "unit": u,
                    "source_id": SRC,
                    "estimated": True,
                    "note": "example",
                }
                for m in ("cobalt", "rare_earths")
                for p, v, u in (
                    ("price_elasticity_demand", -0.5, "ratio"),
                    ("commercial_stock_days", 15, "days"),
                    ("supplier_stock_days", 15, "days"),
                    ("spare_capacity", 0.1, "fraction"),
                    ("price_cap_ratio", 10, "ratio"),
                    ("supply_elasticity", 0.3, "ratio"),
                    ("substitution_elasticity", 0.2, "ratio"),
                    ("price_to_basis_factor", 1, "ratio"),
                    ("world_market", 0, "flag"),
                )
            ]
        ),
        "reserve_forms": pd.DataFrame(
            [
                {
                    "mineral": "cobalt",
                    "form": "metal",
                    "stage": "refining",
                    "element": None,
                    "price_of": None,
                    "price_multiplier": 1.0,
                    "storage_per_year": 0.01,
                    "insurance_per_year": 0.005,
                    "degradation_per_year": 0.0,
                    "drawdown_per_month": 0.33,
                    "purchase_cap_share": 0.05,
                    "source_id": SRC,
                    "estimated": True,
                    "note": "example",
                }
            ]
        ),
        "reserve_needs": pd.DataFrame(
            columns=["mineral", "element", "stage", "share", "source_id", "estimated", "note"]
        ),
        "reserve_conversions": pd.DataFrame(
            columns=[
                "mineral",
                "element",
                "from_stage",
                "to_stage",
                "available_share",
                "lead_time_months",
                "lead_time_source_id",
                "output_content",
                "content_source_id",
                "source_id",
                "estimated",
                "note",
            ]
        ),
        "reserve_eligibility": pd.DataFrame(
            [
                {
                    "rule": "every_mineral",
                    "kind": "all",
                    "value": None,
                    "countries": None,
                    "source_id": SRC,
                    "estimated": True,
                    "note": "example: the board admits every mineral",
                }
            ]
        ),
        "reserve_candidates": pd.DataFrame(
            [
                {
                    "id": "example-offtake",
                    "kind": "offtake",
                    "mineral": "cobalt",
                    "form": "metal",
                    "counterparty": "AUS",
                    "max_volume_t_per_year": 10.0,
                    "contract_price_usd_per_t": 30000.0,
                    "floor_usd_per_t": None,
                    "tenor_years": 5,
                    "lead_time_years": 1,
                    "source_id": SRC,
                    "estimated": True,
                    "note": "example",
                }
            ]
        ),
        "trade_parameters": pd.DataFrame(
            [
                {
                    "country": "CHN",
                    "mineral": "cobalt",
                    "t_param": 1.5,
                    "reason": "example",
                    "source_id": SRC,
                    "note": "",
                }
            ]
        ),
        # a two-industry economy: cobalt is refined (331410) and used in semiconductors
        "io_industries": pd.DataFrame(
            {
                "code": ["331410", "334413"],
                "name": ["Nonferrous smelting and refining", "Semiconductors"],
                "gross_output": [30_000.0, 80_000.0],
                "value_added": [8_000.0, 50_000.0],
                "gross_output_2023": [35_000.0, 90_000.0],
                "source_id": SRC,
            }
        ),
        "io_flows": pd.DataFrame(
            [
                ("use", "331410", "331410", 3_000.0),
                ("use", "331410", "334413", 1_200.0),
                ("use", "334413", "334413", 10_000.0),
                ("make", "331410", "331410", 30_000.0),
                ("make", "334413", "334413", 80_000.0),
                ("imports", "331410", "334413", 400.0),
            ],
            columns=["table", "row", "col", "value"],
        ).assign(source_id=SRC),
        "io_bridge": pd.DataFrame(
            [
                ("mineral", "cobalt", "331410", "refined cobalt"),
                ("mineral", "rare_earths", "331410", "example"),
            ],
            columns=["kind", "key", "code", "note"],
        ).assign(source_id=SRC),
        "io_dependency": pd.DataFrame(
            columns=[
                "mineral",
                "industry",
                "dependent_share",
                "year",
                "source_id",
                "estimated",
                "note",
            ]
        ),
        "data_gaps": pd.DataFrame(columns=["mineral", "stage", "item", "reason"]),
        "byproducts": pd.DataFrame(
            columns=[
                "mineral",
                "stage",
                "host",
                "host_stage",
                "share",
                "source_id",
                "estimated",
                "note",
            ]
        ),
        "export_restrictions": pd.DataFrame(
            [("COD", "cobalt", "2025-02", "ban", SRC, "example")],
            columns=["country", "mineral", "start", "measure", "source_id", "note"],
        ),
        **small_outlook_tables(SRC),
    }


def write_small_world(folder: Path) -> Path:
    """Write the small world as a complete data folder and return it."""
    write_tables(small_world_tables(), folder)
    return folder
