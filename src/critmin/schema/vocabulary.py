"""Controlled vocabularies: the units, stages and labels every table may use."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Supply-chain stages, in chain order (mine to component)."""

    MINING = "mining"
    REFINING = "refining"
    METAL = "metal"
    MAGNETS = "magnets"
    CATHODE = "cathode"
    ANODE = "anode"
    CELLS = "cells"


STAGE_ORDER: dict[str, int] = {s.value: i for i, s in enumerate(Stage)}

STAGE_NAMES: dict[str, str] = {
    "mining": "Mine production (ore, concentrate)",
    "refining": "Separation, refining, chemicals (oxides, refined metal, battery chemicals)",
    "metal": "Metal and alloy",
    "magnets": "Sintered NdFeB permanent magnets",
    "cathode": "Battery cathode active material",
    "anode": "Battery anode active material",
    "cells": "Lithium-ion battery cells",
}

#: Units a table may name, with what they mean. Mass is stored in metric tons.
UNITS: dict[str, str] = {
    "t": "metric tons",
    "kg": "kilograms",
    "GWh": "gigawatt-hours (battery cell output or capacity)",
    "fraction": "share, 0 to 1",
    "score_0_10": "governance risk score, 0 (best) to 10 (worst)",
    "wgi_estimate": "World Bank WGI estimate, -2.5 (worst) to 2.5 (best)",
    "kUSD": "thousand U.S. dollars",
    "MUSD": "million U.S. dollars",
    "USD/t": "U.S. dollars per metric ton",
    "USD/short_t": "U.S. dollars per short ton",
    "USD/kg": "U.S. dollars per kilogram",
    "USD/g": "U.S. dollars per gram",
    "USD/10g": "U.S. dollars per 10 grams",
    "USD/25g": "U.S. dollars per 25 grams",
    "USD/50g": "U.S. dollars per 50 grams",
    "USD/lb": "U.S. dollars per pound",
    "USc/lb": "U.S. cents per pound",
    "USD/ozt": "U.S. dollars per troy ounce",
    "USD/carat": "U.S. dollars per carat",
    "USD/dmtu": "U.S. dollars per dry metric ton unit",
    "USD/mtu": "U.S. dollars per metric ton unit (10 kg of contained substance)",
    "USD/flask": "U.S. dollars per 76-lb flask (mercury)",
    "USD/100mL": "U.S. dollars per 100 millilitres",
    "index": "price index",
    "ratio": "dimensionless ratio",
    "days": "days",
    "carat": "carats",
    "m3": "cubic metres",
    "L": "litres",
}

#: Exact factors from a mass-price unit to U.S. dollars per metric ton (as decimal strings, so
#: the ledger can keep them exact and analytics can take them as floats).
USD_PER_T: dict[str, str] = {
    "USD/t": "1",
    "USD/kg": "1000",
    "USD/g": "1000000",
    "USD/lb": "2204.62262",
    "USc/lb": "22.0462262",
    "USD/short_t": "1.10231131",
    "USD/ozt": "32150.7466",
    # grams: 10 g, 25 g, 50 g lots (USGS quotes for germanium, gallium, indium compounds)
    "USD/10g": "100000",
    "USD/25g": "40000",
    "USD/50g": "20000",
    # a metric ton unit (mtu) is 1% of a metric ton, i.e. 10 kg of the contained substance
    # (manganese: Mn content; tungsten: WO3, a "dry" mtu of concentrate); per t of that substance
    "USD/mtu": "100",
    "USD/dmtu": "100",
    # a mercury flask is 76 lb = 34.47302 kg (USGS Minerals Yearbook, Mercury)
    "USD/flask": "29.0081924",
    # the metric carat is 200 mg exactly (adopted internationally from 1907)
    "USD/carat": "5000000",
}

#: Price units that are not a price per unit of mass, so never converted to USD/t: why.
NOT_MASS_PRICE_UNITS: dict[str, str] = {
    "index": "a price index (e.g. steel producer price index, 1982=100), not a price",
    "USD/100mL": "a laboratory plasma standard solution, priced per volume of solution",
}

#: Mineral families.
FAMILIES: frozenset[str] = frozenset(
    {
        "light_rare_earth",
        "heavy_rare_earth",
        "rare_earth_aggregate",
        "pgm",
        "battery_metal",
        "base_metal",
        "precious_metal",
        "minor_metal",
        "industrial_mineral",
        "energy",
        "ferroalloy",
        "other",
    }
)

#: Market parameters the disruption engine reads (market_parameters.csv), in the order the
#: chain model reads them (and lists those it defaults) and the plan's sensitivity varies them.
#: Stocks, two concepts: ``commercial_stock_days`` is the stock a consuming region holds
#: (consumers, producers of the consumed form, dealers, exchange warehouses), in days of the
#: region's demand, drawn when shipments fall short (critmin.economics.market.stock_draw;
#: derived per mineral from the USGS U.S. stocks where they exist, critmin.data.stock_days);
#: ``supplier_stock_days`` is the input stock each processing-stage plant holds, in days of its
#: baseline input, drawn when its input falls short (engine step 1).
MARKET_PARAMETER_NAMES: tuple[str, ...] = (
    "price_elasticity_demand",
    "supply_elasticity",
    "commercial_stock_days",
    "supplier_stock_days",
    "spare_capacity",
    "price_cap_ratio",
    "substitution_elasticity",
    "price_to_basis_factor",
)
#: The declared market of a mineral (market_parameters ``world_market``, unit ``flag``): 1 = one
#: world price (an exchange-traded metal: the exchange's contract list is its source; engine
#: step 4 clears its consuming regions jointly, critmin.simulate.kernel), 0 = each consuming
#: region clears on what it receives. A flag, not a magnitude: the plan's sensitivity does not
#: scale it (it is not in MARKET_PARAMETER_NAMES).
WORLD_MARKET = "world_market"
MARKET_PARAMETERS: frozenset[str] = frozenset((*MARKET_PARAMETER_NAMES, WORLD_MARKET))

#: Kinds of reserve agreement a candidate can be.
AGREEMENT_KINDS: frozenset[str] = frozenset({"offtake", "price_floor"})

#: Kinds of reserve eligibility rule (reserve_eligibility.csv; critmin.optimize.eligibility).
ELIGIBILITY_KINDS: frozenset[str] = frozenset(
    {"net_import_reliance_at_least", "export_restriction_since", "listed", "all"}
)

#: Pseudo-countries: the unattributed remainder and the world total.
OTHER_COUNTRIES = "OTH"
WORLD = "WLD"

#: The consuming regions of the disruption engine, in its array order: China, the United
#: States and the rest of the world (critmin.simulate.model.region_of; a scenario's
#: ``region``/``regions``, checked by critmin.scenarios.load).
REGIONS: tuple[str, ...] = ("CHN", "USA", "ROW")

#: Calendar: months and days in a year (a mean Julian year), days in a mean month. One
#: definition for the engine's stock cover, the reserve plan's days of cover and the security
#: register's exposure years. (critmin.data.stock_days counts 365 days a year: see its note.)
MONTHS_PER_YEAR = 12
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / MONTHS_PER_YEAR

#: Source ids (data-src/sources_raw.csv, data-src/manual/sources_*.csv) the code itself cites,
#: not a table row: the datasets the build reads and the engines name in a result's sources.
USGS_SOURCE = "USGS_MCS2026_DR"
BACI_SOURCE = "CEPII_BACI_V202401b"
BEA_SOURCE = "BEA_IO_2017"
BEA_BRIDGE_SOURCE = "CRITMIN_BEA_BRIDGE"
#: The source id of a critmin default: a value no source gives (an ASSUMPTION).
ASSUMPTION_SOURCE = "CRITMIN_ASSUMPTION"

#: U.S. supply statistics (USGS salient statistics, normalised).
US_STATISTICS: frozenset[str] = frozenset(
    {"production", "imports", "exports", "consumption", "stocks", "net_import_reliance"}
)

#: How a USGS figure qualifies its value: exact, a bound, or "net exporter".
QUALIFIERS: frozenset[str] = frozenset({"exact", "gt", "lt", "net_exporter"})

#: The six World Governance Indicators (World Bank codes without ``.EST``).
WGI_INDICATORS: frozenset[str] = frozenset({"CC", "GE", "PV", "RQ", "RL", "VA"})

#: How the EU governance score is formed: the mean of the six WGI estimates (the EU CRM
#: method) or political stability (PV) alone.
GOVERNANCE_VARIANTS: frozenset[str] = frozenset({"mean_of_six", "political_stability"})

#: The variant the exposure metrics use unless told otherwise.
DEFAULT_GOVERNANCE_VARIANT = "mean_of_six"

#: Items the coverage report (``critmin sources --gaps``) checks per critical mineral.
GAP_ITEMS: frozenset[str] = frozenset(
    {"production_shares", "us_nir", "import_sources", "price", "end_uses", "us_demand"}
)

#: ``commodity_map.raw_detail`` of a USGS import-source category tagged with the chain stage
#: whose form it is (data-src/mappings/usgs_import_forms.csv): one form, or USGS's total over
#: the stage's forms (critmin.simulate.intermediaries.import_source_shares)
IMPORT_FORM = "Import Sources: form"
IMPORT_TOTAL = "Import Sources: total"
#: prefix of the import-source categories an element takes from its aggregate
#: (data-src/elements/inherit.csv); the category after it is the aggregate's
INHERITED_SOURCES = "critmin (aggregate's sources): "
