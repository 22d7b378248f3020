"""How numbers read on every front end (review page, web application, terminal tables).

One definition each: shares as percentages, dollars in $K/$M/$B with their error, calendar
months for simulation periods, and human column headers.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: Column headers as people read them; a column not listed is title-cased from snake_case.
HEADERS: dict[str, str] = {
    "id": "Id",
    "mineral": "Mineral",
    "stage": "Stage",
    "year": "Year",
    "top_country": "Leader",
    "top_share": "Top share",
    "top3_share": "Top-3 share",
    "hhi": "HHI",
    "hhi_wgi": "HHI-WGI",
    "china_share": "China",
    "feoc_share": "FEOC",
    "allied_share": "Allies",
    "us_nir": "U.S. NIR",
    "bottleneck": "Bottleneck",
    "unit": "Unit",
    "basis": "Basis",
    "source_id": "Source",
    "usgs_2025": "USGS 2025",
    "doe_2023": "DOE 2023",
    "eu_2023": "EU 2023",
    "expected_loss_usd": "Expected loss/yr",
    "expected_loss_horizon_usd": "Expected loss (horizon)",
    "expected_loss_se_usd": "Std. error",
    "p95_loss_usd": "p95 loss/yr",
    "gdp_loss_usd": "GDP loss/yr",
    "welfare_loss_usd": "Welfare loss/yr",
    "domestic_outage_loss_usd": "Domestic-outage loss/yr",
    "on_us_list": "On U.S. list",
    "expected_us_shortfall_share": "U.S. shortfall",
    "tonnes": "Tonnes",
    "usd": "Cost",
    "days_of_cover": "Days of cover",
    "expected_loss_avoided_usd": "Loss avoided",
    "expected_loss_avoided_horizon_usd": "Loss avoided (horizon)",
    "cvar_loss_horizon_usd": "CVaR loss (horizon)",
    "total_cost_horizon_usd": "Total cost (horizon)",
    "avoided_loss_per_usd": "Avoided per $",
    "sr": "Supply risk",
    "ei": "Economic importance",
    "eu_import_reliance": "EU import reliance",
    "eol_rir": "EOL-RIR",
    "online_p50": "Online (median year)",
}

#: Words written as acronyms in a header made from a column name (``hhi_p05`` -> ``HHI p05``).
ACRONYMS = {"hhi": "HHI", "wgi": "WGI", "nir": "NIR", "us": "U.S.", "eu": "EU", "iea": "IEA"}

#: Suffixes of a column holding a statistic of another column (``china_share_p05``): it is
#: shown as that column is (a share in %).
STATISTICS = ("_p05", "_p50", "_p95", "_mean")

#: Columns holding calendar years (besides ``year`` and ``*_year``): never '2,025'.
YEAR_COLUMNS = frozenset({"announced_start", "online_p50"})

#: Columns holding fractions shown as percentages, and columns holding US dollars.
SHARE_COLUMNS = frozenset(
    {
        "top_share",
        "top3_share",
        "china_share",
        "feoc_share",
        "allied_share",
        "us_nir",
        "expected_us_shortfall_share",
        "share",
        "eu_import_reliance",
        "eol_rir",
    }
)


def base(column: str) -> str:
    """The column a statistic column summarises (``china_share_p05`` -> ``china_share``)."""
    for suffix in STATISTICS:
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def is_share(column: str) -> bool:
    """A column of fractions shown as percentages, or a statistic of one."""
    return column in SHARE_COLUMNS or base(column) in SHARE_COLUMNS


def is_year(column: str) -> bool:
    """A column of calendar years."""
    return column == "year" or column.endswith("_year") or column in YEAR_COLUMNS


def header(column: str) -> str:
    """The human header of a column (``expected_loss_usd`` -> ``Expected loss/yr``)."""
    if column in HEADERS:
        return HEADERS[column]
    words = column.replace("_usd", "").replace("_", " ").split()
    text = " ".join(ACRONYMS.get(w, w) for w in words)
    return text[:1].upper() + text[1:]


def is_money(column: str) -> bool:
    """A column of US dollars (``*_usd``, ``usd``); a ratio per dollar (``*_per_usd``) is not."""
    return (column.endswith("_usd") and not column.endswith("_per_usd")) or column == "usd"


def missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def pct(v: Any, digits: int = 0) -> str:
    """A fraction as a percentage: 0.693 -> '69%'."""
    if missing(v):
        return "-"
    return f"{float(v) * 100:.{digits}f}%"


def usd(v: Any, digits: int = 2) -> str:
    """Dollars scaled to $K, $M or $B: 2_162_622_187 -> '$2.16B'. A value that rounds to
    zero reads '$0', never '-$0' (a tiny negative rounding of a difference or quantile)."""
    if missing(v):
        return "-"
    x = float(v)
    sign = "-" if x < 0 else ""
    x = abs(x)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= scale:
            return f"{sign}${x / scale:,.{digits}f}{suffix}"
    text = f"{x:,.0f}"
    return f"{'' if text == '0' else sign}${text}"


def usd_error(v: Any, se: Any) -> str:
    """Dollars with their standard error in the same scale: '$2.16B ± 0.05B'."""
    if missing(v):
        return "-"
    text = usd(v)
    if missing(se):
        return text
    x = abs(float(v))
    scale, suffix = next(
        ((s, n) for s, n in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")) if x >= s),
        (1.0, ""),
    )
    return f"{text} ± {float(se) / scale:,.2f}{suffix}"


def num(v: Any, digits: int = 0) -> str:
    if missing(v):
        return "-"
    return f"{float(v):,.{digits}f}"


def sig(v: Any, digits: int = 3) -> str:
    """``v`` to ``digits`` significant digits in fixed notation (0.0083 -> '0.0083', 0.12065 ->
    '0.121', 11.92 -> '11.9'): for small rates that fixed decimals would round to '0.00'."""
    if missing(v):
        return "-"
    x = float(v)
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


def month_labels(start: str, count: int, months_per_period: int = 1) -> list[str]:
    """Calendar labels for simulation periods from ``start`` ('2025-04'): 'Apr 2025', ...
    A quarter is labelled by its first month."""
    period = pd.Period(start, freq="M")
    return [(period + i * months_per_period).strftime("%b %Y") for i in range(count)]


def month_dates(start: str, count: int, months_per_period: int = 1) -> list[str]:
    """ISO dates (first of month) for simulation periods from ``start``."""
    period = pd.Period(start, freq="M")
    return [
        (period + i * months_per_period).to_timestamp().strftime("%Y-%m-%d") for i in range(count)
    ]


def cell(column: str, v: Any) -> str:
    """One value as a table shows it, by what its column holds."""
    if missing(v):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else ""
    if is_share(column) and isinstance(v, int | float):
        return pct(v, 1 if abs(float(v)) < 0.1 else 0)
    if is_money(column) and isinstance(v, int | float):
        return usd(v)
    if is_year(column) and isinstance(v, float):
        return f"{v:.0f}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            text = f"{v:,.0f}"
        else:
            text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
        # a value that rounds to zero reads '0', never '-0' (a back-test's error of -1e-16)
        return text[1:] if text.startswith("-") and not text.strip("-0.,") else text
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    return str(v)
