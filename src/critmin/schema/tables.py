"""The declared tables of the critmin dataset: columns, types, units, labels, cross-references.

The declarations drive validation, loading and the documentation of the data (as PyPSA's
component attribute tables do): a table is data about data, never a code path of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from critmin.schema.vocabulary import (
    AGREEMENT_KINDS,
    ELIGIBILITY_KINDS,
    FAMILIES,
    GAP_ITEMS,
    GOVERNANCE_VARIANTS,
    MARKET_PARAMETERS,
    QUALIFIERS,
    STAGE_ORDER,
    UNITS,
    US_STATISTICS,
    WGI_INDICATORS,
)

Kind = Literal["str", "int", "float", "bool"]

SNAKE = r"^[a-z][a-z0-9_]*$"
BEA_CODE = r"^[0-9A-Z]{4,6}$"
ISO3 = r"^[A-Z]{3}$"


@dataclass(frozen=True)
class Column:
    """One declared column: its type, whether it may be empty, and the rule its values keep."""

    name: str
    kind: Kind = "str"
    required: bool = True
    unit: str | None = None
    allowed: frozenset[str] | None = None
    references: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A declared table: file name, columns, and the columns that identify a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    compressed: bool = False
    lazy: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def file(self) -> str:
        return f"{self.name}.csv.gz" if self.compressed else f"{self.name}.csv"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


STAGES = frozenset(STAGE_ORDER)
UNIT_NAMES = frozenset(UNITS)


def _source() -> Column:
    return Column("source_id", references="sources.id", description="row of sources.csv")


def _estimated() -> Column:
    return Column("estimated", "bool", description="true where critmin split or derived the figure")


def _note() -> Column:
    return Column("note", required=False, description="how the figure was derived")


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "sources",
            (
                Column("id", pattern=r"^[A-Za-z0-9_.\-]+$"),
                Column("title"),
                Column("publisher"),
                Column("year", "int", minimum=1900, maximum=2100),
                Column("address", description="URL, DOI or document id"),
                Column("licence"),
                Column(
                    "priority",
                    "int",
                    minimum=1,
                    maximum=9,
                    description="1 = preferred when sources overlap",
                ),
            ),
            key=("id",),
            description="Where every figure comes from.",
        ),
        Table(
            "minerals",
            (
                Column("id", pattern=SNAKE),
                Column("name"),
                Column("family", allowed=FAMILIES),
                Column("symbol", required=False),
                Column("parent", required=False, references="minerals.id"),
                Column("usgs_2025", "bool", required=False),
                Column("doe_2023", "bool", required=False),
                Column("eu_2023", "bool", required=False),
                _note(),
            ),
            key=("id",),
            description="Minerals and their critical-list memberships (empty = unknown).",
        ),
        Table(
            "stages",
            (
                Column("id", allowed=STAGES),
                Column("name"),
                Column("position", "int", minimum=0),
            ),
            key=("id",),
            description="Supply-chain stages in chain order.",
        ),
        Table(
            "chains",
            (
                Column("mineral", references="minerals.id"),
                Column("stage", allowed=STAGES),
                Column("position", "int", minimum=0),
                Column("description"),
                _note(),
            ),
            key=("mineral", "stage"),
            description="Each chain mineral's ordered stages, whether or not data cover them.",
        ),
        Table(
            "countries",
            (
                Column("iso3", pattern=ISO3),
                Column("name"),
            ),
            key=("iso3",),
            description="Countries (ISO 3166-1 alpha-3); OTH = unattributed rest of world.",
        ),
        Table(
            "country_groups",
            (
                Column("group", pattern=SNAKE),
                Column("country", references="countries.iso3"),
                _source(),
                _note(),
            ),
            key=("group", "country"),
            description="Country groups as data: feoc, msp, fta_us, allied, ...",
        ),
        Table(
            "commodity_map",
            (
                Column("source_id", references="sources.id"),
                Column("raw_commodity"),
                Column("raw_detail", required=False),
                Column("mineral", references="minerals.id"),
                Column("stage", allowed=STAGES),
                Column("basis"),
                _note(),
            ),
            key=("source_id", "raw_commodity", "raw_detail"),
            description="Which raw commodity of which release is which mineral, stage and basis.",
        ),
        Table(
            "production",
            (
                Column("mineral", references="minerals.id"),
                Column("stage", allowed=STAGES),
                Column("country", references="countries.iso3"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("value", "float", minimum=0.0),
                Column("unit", allowed=frozenset({"t", "GWh", "fraction", "carat", "m3"})),
                Column("basis"),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "stage", "country", "year", "source_id"),
            description="Production (or capacity) by mineral, stage, country and year.",
        ),
        Table(
            "reserves",
            (
                Column("mineral", references="minerals.id"),
                Column("country", references="countries.iso3"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("value", "float", minimum=0.0),
                Column("unit", allowed=frozenset({"t", "carat", "m3"})),
                Column("basis"),
                _source(),
                _note(),
            ),
            key=("mineral", "country", "year", "source_id"),
            description="Reserves by mineral and country (USGS).",
        ),
        Table(
            "trade",
            (
                Column("year", "int", minimum=1990, maximum=2100),
                Column("exporter", references="countries.iso3"),
                Column("importer", references="countries.iso3"),
                Column("hs6", pattern=r"^\d{6}$"),
                Column("mineral", references="minerals.id"),
                Column("stage", allowed=STAGES),
                Column("value_kusd", "float", minimum=0.0, unit="kUSD"),
                Column("quantity_t", "float", required=False, minimum=0.0, unit="t"),
                _source(),
            ),
            key=("year", "exporter", "importer", "hs6"),
            description="Bilateral trade (CEPII BACI), HS-6 mapped to mineral and stage; "
            "quantity is gross weight of the traded product.",
            compressed=True,
            lazy=True,
        ),
        Table(
            "us_supply",
            (
                Column("mineral", references="minerals.id"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("statistic", allowed=US_STATISTICS),
                Column("detail"),
                Column("value", "float", required=False),
                Column("unit", allowed=UNIT_NAMES),
                Column("qualifier", allowed=QUALIFIERS),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "year", "statistic", "detail"),
            description="U.S. production, imports, exports, consumption, stocks and net import "
            "reliance (USGS salient statistics); NIR as a fraction, empty for a net exporter.",
        ),
        Table(
            "import_sources",
            (
                Column("mineral", references="minerals.id"),
                Column("period"),
                Column("category"),
                Column("country", references="countries.iso3"),
                Column("share", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                _source(),
            ),
            key=("mineral", "period", "category", "country"),
            description="Main U.S. import sources with shares (USGS).",
        ),
        Table(
            "governance_indicators",
            (
                Column("country", references="countries.iso3"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("indicator", allowed=WGI_INDICATORS),
                Column("estimate", "float", minimum=-3.5, maximum=3.5, unit="wgi_estimate"),
                _source(),
            ),
            key=("country", "year", "indicator"),
            description="The six World Governance Indicators (estimates) by country and year.",
            lazy=True,
        ),
        Table(
            "governance",
            (
                Column("country", references="countries.iso3"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("variant", allowed=GOVERNANCE_VARIANTS),
                Column("estimate", "float", minimum=-3.5, maximum=3.5, unit="wgi_estimate"),
                Column("score", "float", minimum=0.0, maximum=12.0, unit="score_0_10"),
                _source(),
            ),
            key=("country", "year", "variant"),
            description="EU governance score (2.5 - WGI) x 2 per variant: the mean of the six "
            "WGI estimates (EU method, default) or political stability alone; from 2015 on "
            "(governance_indicators keeps the full series).",
        ),
        Table(
            "prices",
            (
                Column("mineral", references="minerals.id"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("detail"),
                Column("value", "float", minimum=0.0),
                Column("unit", allowed=UNIT_NAMES),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "year", "detail"),
            description="Annual average prices as USGS publishes them.",
        ),
        Table(
            "end_uses",
            (
                Column("mineral", references="minerals.id"),
                Column("region", pattern=ISO3),
                Column("sector", pattern=SNAKE),
                Column("share", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("year", "int", minimum=1990, maximum=2100),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "region", "sector", "year", "source_id"),
            description="End-use sector shares (U.S. = USA, world = WLD).",
        ),
        Table(
            "recycling",
            (
                Column("mineral", references="minerals.id"),
                Column("eol_rir", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("year", "int", minimum=1990, maximum=2100),
                _source(),
                _note(),
            ),
            key=("mineral", "source_id"),
            description="End-of-life recycling input rates.",
        ),
        Table(
            "demand_shares",
            (
                Column("mineral", references="minerals.id"),
                Column("region", pattern=ISO3),
                Column("share", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("year", "int", minimum=1990, maximum=2100),
                Column("basis"),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "region", "source_id"),
            description="A region's share of world consumption of a mineral (China; the U.S. "
            "share comes from USGS apparent consumption).",
        ),
        Table(
            "us_demand_stages",
            (
                Column("mineral", references="minerals.id"),
                Column("stage", allowed=STAGES),
                _source(),
                _note(),
            ),
            key=("mineral",),
            description="The stage of a mineral's chain whose form USGS's U.S. consumption and "
            "import sources count (cobalt: refined metal and chemicals), where the chain model "
            "delivers U.S. demand; a mineral not listed takes its chain's last stage. Checked at "
            "build: a stage of the mineral's chain (chains.csv).",
        ),
        Table(
            "market_parameters",
            (
                Column("mineral", references="minerals.id"),
                Column("parameter", allowed=MARKET_PARAMETERS),
                Column("value", "float"),
                Column("unit", allowed=frozenset({"ratio", "days", "fraction", "flag"})),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "parameter"),
            description="Market parameters of the disruption engine; critmin defaults "
            "(source CRITMIN_ASSUMPTION) fill every mineral without a sourced value.",
        ),
        Table(
            "reserve_forms",
            (
                Column("mineral", references="minerals.id"),
                Column("form", pattern=SNAKE),
                Column("stage", allowed=STAGES),
                Column(
                    "element",
                    required=False,
                    pattern=SNAKE,
                    description="the element (group) of the form, e.g. dysprosium, ndpr; "
                    "empty: the mineral's mix",
                ),
                Column(
                    "price_of",
                    required=False,
                    references="minerals.id",
                    description="a mineral whose reference price prices the form (x the "
                    "multiplier); empty: the chain's price",
                ),
                Column("price_multiplier", "float", minimum=0.0, unit="ratio"),
                Column("storage_per_year", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("insurance_per_year", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("degradation_per_year", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column("drawdown_per_month", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                Column(
                    "purchase_cap_share",
                    "float",
                    minimum=0.0,
                    maximum=1.0,
                    unit="fraction",
                    description="largest share of the supply outside China at the form's stage "
                    "the reserve buys per quarter",
                ),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "form"),
            description="Forms the reserve can hold: price relative to the chain's price, holding "
            "cost (storage, insurance, degradation; fractions of value per year), the largest "
            "share of the stock released in a month, and the purchase cap per quarter.",
        ),
        Table(
            "reserve_candidates",
            (
                Column("id", pattern=r"^[a-z0-9][a-z0-9\-]*$"),
                Column("kind", allowed=AGREEMENT_KINDS),
                Column("mineral", references="minerals.id"),
                Column(
                    "form",
                    required=False,
                    pattern=SNAKE,
                    description="the reserve form (reserve_forms) whose price the contract "
                    "price or floor refers to; empty: the chain's price",
                ),
                Column("counterparty", references="countries.iso3"),
                Column("max_volume_t_per_year", "float", minimum=0.0, unit="t"),
                Column(
                    "contract_price_usd_per_t", "float", required=False, minimum=0.0, unit="USD/t"
                ),
                Column("floor_usd_per_t", "float", required=False, minimum=0.0, unit="USD/t"),
                Column("tenor_years", "float", minimum=0.0),
                Column("lead_time_years", "float", minimum=0.0),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("id",),
            description="Candidate offtake agreements and price floors (volumes in the chain's "
            "reference basis).",
        ),
        Table(
            "reserve_needs",
            (
                Column("mineral", references="minerals.id"),
                Column("element", required=False, pattern=SNAKE),
                Column("stage", allowed=STAGES),
                Column("share", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "element", "stage"),
            description="A mineral's U.S. shortfall split by element and the stage it is at; a "
            "reserve form meets a need directly only at that element and stage.",
        ),
        Table(
            "reserve_conversions",
            (
                Column("mineral", references="minerals.id"),
                Column("element", required=False, pattern=SNAKE),
                Column("from_stage", allowed=STAGES),
                Column("to_stage", allowed=STAGES),
                Column(
                    "available_share",
                    "float",
                    minimum=0.0,
                    maximum=1.0,
                    unit="fraction",
                    description="share of the U.S. and allied plants' capacity (facilities.csv, "
                    "output stage) the reserve may use in a shock",
                ),
                Column("lead_time_months", "float", minimum=0.0),
                Column(
                    "lead_time_source_id",
                    required=False,
                    references="sources.id",
                    description="where lead_time_months comes from (empty: the row's source_id)",
                ),
                Column(
                    "output_content",
                    "float",
                    required=False,
                    minimum=0.0,
                    unit="ratio",
                    description="t of the chain's basis per t of the plants' output at the "
                    "route's output stage (e.g. rare-earth oxide per t of NdFeB magnet); "
                    "empty: 1",
                ),
                Column(
                    "content_source_id",
                    required=False,
                    references="sources.id",
                    description="where output_content comes from",
                ),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "element", "from_stage", "to_stage"),
            description="Conversion routes a reserve form takes to meet a need at a later stage.",
        ),
        Table(
            "reserve_eligibility",
            (
                Column("rule", pattern=SNAKE),
                Column("kind", allowed=ELIGIBILITY_KINDS),
                Column("value", required=False, description="threshold or start month"),
                Column(
                    "countries",
                    required=False,
                    description="space-separated ISO3 codes the rule is limited to (empty: any)",
                ),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("rule",),
            description="The board's rule for which minerals the reserve may hold: a mineral is "
            "eligible when any row admits it (an empty table admits none).",
        ),
        Table(
            "trade_parameters",
            (
                Column("country", references="countries.iso3"),
                Column("mineral", references="minerals.id"),
                Column("t_param", "float", minimum=0.5, maximum=2.0),
                Column("reason"),
                _source(),
                _note(),
            ),
            key=("country", "mineral"),
            description="EU trade parameter t_c for the governance-weighted HHI "
            "(1 default, 1.1-1.5 export restrictions, 0.8 trade-agreement partner).",
        ),
        Table(
            "export_restrictions",
            (
                Column("country", references="countries.iso3"),
                Column("mineral", references="minerals.id"),
                Column("start", pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
                Column("measure", allowed=frozenset({"ban", "quota", "licensing", "duty"})),
                _source(),
                _note(),
            ),
            key=("country", "mineral", "start"),
            description="Historical export restrictions on minerals by their major suppliers "
            "(2010-2025), the record the disruption probabilities are calibrated on.",
        ),
        Table(
            "io_industries",
            (
                Column("code", pattern=BEA_CODE),
                Column("name"),
                Column("gross_output", "float", minimum=0.0, unit="MUSD"),
                Column("value_added", "float", unit="MUSD"),
                Column("gross_output_2023", "float", required=False, minimum=0.0, unit="MUSD"),
                _source(),
            ),
            key=("code",),
            description="BEA 2017 benchmark detail industries (402): total industry output and "
            "value added, 2017, and gross output 2023 (current dollars).",
        ),
        Table(
            "io_flows",
            (
                Column("table", allowed=frozenset({"use", "make", "imports"})),
                Column("row", pattern=BEA_CODE),
                Column("col", pattern=BEA_CODE),
                Column("value", "float", unit="MUSD"),
                _source(),
            ),
            key=("table", "row", "col"),
            description="BEA 2017 benchmark detail tables before redefinitions, non-zero cells: "
            "use (commodity x industry, producers' prices), make (industry x commodity), "
            "imports (imported part of each use).",
            compressed=True,
            lazy=True,
        ),
        Table(
            "io_bridge",
            (
                Column("kind", allowed=frozenset({"mineral", "sector"})),
                Column("key", pattern=SNAKE),
                Column("code", references="io_industries.code"),
                _source(),
                _note(),
            ),
            key=("kind", "key", "code"),
            description="The bridge to the BEA tables: the commodity a mineral is sold in "
            "(kind mineral) and the industries an end-use sector is (kind sector).",
        ),
        Table(
            "io_dependency",
            (
                Column("mineral", references="minerals.id"),
                Column("industry", references="io_industries.code"),
                Column(
                    "dependent_share",
                    "float",
                    minimum=0.0,
                    maximum=1.0,
                    unit="fraction",
                    description="share of the industry's output made in product lines that "
                    "cannot be made without the mineral in the short run",
                ),
                Column("year", "int", minimum=1990, maximum=2100),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "industry"),
            description="Essential uses: the output of a BEA industry that stops in fixed "
            "proportion when the mineral is short (the GDP-loss model, docs/criticality.md).",
            lazy=True,
        ),
        Table(
            "byproducts",
            (
                Column("mineral", references="minerals.id", description="the by-product"),
                Column("stage", allowed=STAGES, description="the by-product's stage tied"),
                Column("host", references="minerals.id"),
                Column("host_stage", allowed=STAGES),
                Column(
                    "share",
                    "float",
                    minimum=0.0,
                    maximum=1.0,
                    unit="fraction",
                    description="share of the by-product's output at the stage recovered "
                    "while processing the host (its companionality with that host)",
                ),
                _source(),
                _estimated(),
                _note(),
            ),
            key=("mineral", "stage", "host"),
            description="By-product supply tied to host output (Nassar, Graedel & Harper 2015): "
            "within a year the tied share cannot rise with the by-product's price, and a host "
            "outage cuts it (docs/criticality.md).",
        ),
        Table(
            "data_gaps",
            (
                Column("mineral", references="minerals.id"),
                Column("stage", required=False, allowed=STAGES),
                Column("item", allowed=GAP_ITEMS),
                Column("reason"),
            ),
            key=("mineral", "stage", "item"),
            description="Why an item of a critical mineral has no bundled rows (no public "
            "source found after a search, or a source that is still to be entered).",
            lazy=True,
        ),
    )
}

# ---- outlook: facilities, project pipeline, lead times, recycling, security (issue 14) ----
# Lazy: read and checked on first use (`critmin data check` and the build check them all),
# so loading the dataset for other commands costs nothing extra.
#: Statuses of a project, in the order a project passes them (then ``operating``).
PROJECT_PHASES: tuple[str, ...] = (
    "exploration",
    "feasibility",
    "permitting",
    "financing",
    "construction",
    "commissioning",
)
PROJECT_STATUSES = frozenset(PROJECT_PHASES)
#: What a project's lead times are taken from: a mine, or a processing plant.
FACILITY_TYPES = frozenset({"mine", "plant"})
#: Primary production, or a recycling plant (secondary supply).
FACILITY_KINDS = frozenset({"primary", "recycling"})
#: Physical threats the security register records.
THREAT_TYPES = frozenset(
    {"theft", "sabotage", "drone_incursion", "cyber_attack", "armed_violence", "blockade"}
)
SITE_KINDS = frozenset({"facility", "depot", "route", "country"})
SLUG = r"^[a-z0-9][a-z0-9\-]*$"


def _capacity() -> tuple[Column, ...]:
    return (
        Column("capacity", "float", required=False, minimum=0.0, description="nameplate per year"),
        Column("unit", required=False, allowed=frozenset({"t", "GWh"})),
        Column("basis", description="what the capacity counts (product, contained metal, ...)"),
    )


TABLES.update(
    {
        t.name: t
        for t in (
            Table(
                "facilities",
                (
                    Column("id", pattern=SLUG),
                    Column("name"),
                    Column("mineral", references="minerals.id"),
                    Column("stage", allowed=STAGES),
                    Column("kind", allowed=FACILITY_KINDS),
                    Column("country", references="countries.iso3"),
                    Column("owner"),
                    *_capacity(),
                    Column("start_year", "int", required=False, minimum=1850, maximum=2100),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("id",),
                description="Operating mines and plants (processing stages and recycling) as "
                "disclosed by companies and governments; their output is in production already.",
            ),
            Table(
                "projects",
                (
                    Column("id", pattern=SLUG),
                    Column("name"),
                    Column(
                        "facility",
                        required=False,
                        references="facilities.id",
                        description="the operating facility a project expands",
                    ),
                    Column("mineral", references="minerals.id"),
                    Column("stage", allowed=STAGES),
                    Column("kind", allowed=FACILITY_KINDS),
                    Column("country", references="countries.iso3"),
                    Column("owner"),
                    *_capacity(),
                    Column(
                        "chain_factor",
                        "float",
                        required=False,
                        minimum=0.0,
                        unit="ratio",
                        description="chain-basis tonnes per tonne of capacity (empty: unknown)",
                    ),
                    Column(
                        "capex_musd",
                        "float",
                        required=False,
                        minimum=0.0,
                        description="disclosed capital cost, million U.S. dollars",
                    ),
                    Column("status", allowed=PROJECT_STATUSES),
                    Column("status_year", "int", minimum=1990, maximum=2100),
                    Column("announced_start", "int", required=False, minimum=1990, maximum=2100),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("id",),
                description="The project pipeline: planned mines and plants with status, "
                "announced start and nameplate capacity as disclosed.",
            ),
            Table(
                "lead_times",
                (
                    Column("facility_type", allowed=FACILITY_TYPES),
                    Column("phase", allowed=PROJECT_STATUSES),
                    Column("median_years", "float", minimum=0.0, maximum=50.0),
                    Column("p90_years", "float", minimum=0.0, maximum=80.0),
                    Column(
                        "pass_probability",
                        "float",
                        minimum=0.0,
                        maximum=1.0,
                        unit="fraction",
                        description="chance of moving on to the next phase",
                    ),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("facility_type", "phase"),
                description="Duration of each project phase (lognormal: median and 90th "
                "percentile) and the chance of passing it, from historical studies.",
            ),
            Table(
                "lead_time_factors",
                (
                    Column("facility_type", allowed=FACILITY_TYPES),
                    Column("country", references="countries.iso3"),
                    Column("factor", "float", minimum=0.1, maximum=5.0, unit="ratio"),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("facility_type", "country"),
                description="A country's pre-construction phases relative to the world average.",
            ),
            Table(
                "outlook_references",
                (
                    Column(
                        "mineral",
                        required=False,
                        references="minerals.id",
                        description="empty: the mean over the IEA's six focus minerals",
                    ),
                    Column("stage", allowed=STAGES),
                    Column("year", "int", minimum=1990, maximum=2100),
                    Column("metric", allowed=frozenset({"china_share", "top3_share_mean"})),
                    Column("relation", allowed=frozenset({"approx", "gt", "lt"})),
                    Column("value", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                    _source(),
                    _note(),
                ),
                lazy=True,
                key=("mineral", "stage", "year", "metric"),
                description="Published projections the outlook's base case is compared with.",
            ),
            Table(
                "security_incidents",
                (
                    Column("site_kind", allowed=SITE_KINDS),
                    Column("site", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"),
                    Column("country", references="countries.iso3"),
                    Column("stage", allowed=STAGES),
                    Column("mineral", required=False, references="minerals.id"),
                    Column("threat", allowed=THREAT_TYPES),
                    Column("date", pattern=r"^\d{4}-\d{2}-\d{2}$"),
                    Column(
                        "severity",
                        "float",
                        required=False,
                        minimum=0.0,
                        maximum=1.0,
                        unit="fraction",
                        description="share of the site's capacity lost",
                    ),
                    Column("duration_days", "float", required=False, minimum=0.0, unit="days"),
                    _source(),
                    _note(),
                ),
                lazy=True,
                key=("site", "threat", "date"),
                description="Public security incidents at mines, plants, depots and routes "
                "(the bundled part of the security register).",
            ),
            Table(
                "security_priors",
                (
                    Column("threat", allowed=THREAT_TYPES),
                    Column(
                        "rate_per_year",
                        "float",
                        minimum=0.0,
                        maximum=10.0,
                        description="prior mean incidents per producing country-stage-year",
                    ),
                    Column(
                        "strength_years",
                        "float",
                        minimum=0.01,
                        maximum=1000.0,
                        description="prior weight, in country-stage-years of observation",
                    ),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("threat",),
                description="Gamma prior of the incident rate of each threat type.",
            ),
            Table(
                "recycling_flows",
                (
                    Column("mineral", references="minerals.id"),
                    Column("region", pattern=ISO3, description="USA, or WLD for the world"),
                    Column("sector", pattern=SNAKE, description="an end_uses sector"),
                    Column("lifetime_mean_years", "float", minimum=0.1, maximum=100.0),
                    Column("lifetime_sd_years", "float", minimum=0.0, maximum=50.0),
                    Column("collection_rate", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                    Column("recovery_rate", "float", minimum=0.0, maximum=1.0, unit="fraction"),
                    Column(
                        "demand_stage",
                        allowed=frozenset({"mining", "refining", "consumption"}),
                        description="past demand: output of a stage, or U.S. consumption",
                    ),
                    Column(
                        "demand_share",
                        "float",
                        required=False,
                        minimum=0.0,
                        maximum=1.0,
                        unit="fraction",
                        description="the sector's share of the demand proxy, where end_uses has "
                        "none (e.g. NdFeB magnet end uses of magnet rare earths)",
                    ),
                    Column(
                        "demand_growth_per_year",
                        "float",
                        required=False,
                        minimum=-1.0,
                        maximum=1.0,
                        description="log growth of past demand per year, where the demand "
                        "series is too short to fit its own trend",
                    ),
                    Column(
                        "region_share",
                        "float",
                        required=False,
                        minimum=0.0,
                        maximum=1.0,
                        unit="fraction",
                        description="the region's share of the world's demand proxy in this "
                        "sector, where the region has no series of its own (U.S. apparent "
                        "consumption misses the metal in imported cells, vehicles and magnets)",
                    ),
                    _source(),
                    _estimated(),
                    _note(),
                ),
                lazy=True,
                key=("mineral", "region", "sector"),
                description="End-of-life flows: product lifetime, collection and recovery "
                "rates by mineral, region and end-use sector.",
            ),
        )
    }
)

#: Table names in an order where every reference points to a table loaded earlier.
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)


def check_declarations() -> None:
    """Fail fast if a declaration names a unit or a reference that does not exist."""
    for table in TABLES.values():
        names = {c.name for c in table.columns}
        missing = set(table.key) - names
        if missing:
            raise ValueError(f"{table.name}: key columns {sorted(missing)} are not declared")
        for col in table.columns:
            if col.unit is not None and col.unit not in UNITS:
                raise ValueError(f"{table.name}.{col.name}: unknown unit {col.unit!r}")
            if col.references is not None:
                ref_table, _, ref_col = col.references.partition(".")
                if ref_table not in TABLES or ref_col not in {
                    c.name for c in TABLES[ref_table].columns
                }:
                    raise ValueError(f"{table.name}.{col.name}: bad reference {col.references}")


check_declarations()
