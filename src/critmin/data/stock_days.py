"""U.S. commercial stock cover in days, per mineral, from the USGS salient statistics.

``commercial_stock_days`` (the consumer-region stocks the engine draws, critmin.economics.market.
stock_draw) = mean yearend commercial stocks / mean U.S. consumption x 365.25, over the mineral's
pre-shock years: the years of the release up to its base year (critmin.economics.price.
base_year: 2024, or the year before the first library event naming the mineral), in which every
stock and consumption row the rule names is reported. The 2025 figures of MCS 2026 are
estimates and never used. A ratio of means (not a mean of yearly ratios), so one year of odd
consumption (bismuth 2022) does not swing the cover.

Which rows count is declared per mineral in ``data-src/mappings/us_stock_days.csv``: the stock
rows summed (commercial stocks held in the U.S.: consumers, producers of the consumed form,
dealers, and exchange warehouses where the exchange stock is deliverable industrial metal), the
consumption rows summed (on the same basis: content or gross weight), the stock rows left out
and why (Treasury and government stocks; input stocks of a processing stage, which are supplier
side; investment metal), and the rules that derive nothing (stocks withheld, W). Values come
from the normalised ``us_supply`` rows, already in tonnes (kg, thousand and million metric tons
converted by the build's USGS unit table), and from the hand-entered rows of earlier USGS
editions (``data-src/manual/us_stock_editions.csv``, same columns) for a mineral whose stock
row MCS 2026 no longer carries (antimony: MCS 2020, the latest edition read that carries its
yearend stocks). A derived row cites the source of the rows it used; one rule never mixes
editions.
"""

from __future__ import annotations

import math

import pandas as pd

from critmin.schema.validate import DataError, Problem, is_true
from critmin.schema.vocabulary import DAYS_PER_YEAR

PARAMETER = "commercial_stock_days"
RULES_FILE = "data-src/mappings/us_stock_days.csv"


def _details(cell: object) -> list[str]:
    return [d.strip() for d in str(cell or "").split("|") if d.strip()]


def stock_days(
    us_supply: pd.DataFrame,
    rules: pd.DataFrame,
    base_years: dict[str, int],
    source_id: str,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """``market_parameters`` rows of ``commercial_stock_days`` for every rule that derives one,
    and, per rule that cannot, why (mineral -> reason)."""
    out: list[dict[str, object]] = []
    skipped: dict[str, str] = {}
    for rule in rules.to_dict(orient="records"):
        mineral = str(rule["mineral"])
        stocks, consumption = _details(rule["stocks"]), _details(rule["consumption"])
        if not stocks or not consumption:
            skipped[mineral] = str(rule["note"])
            continue
        mine = us_supply[(us_supply["mineral"] == mineral) & (us_supply["unit"] == "t")]
        mine = mine[pd.to_numeric(mine["value"], errors="coerce").notna()]
        year = pd.to_numeric(mine["year"]).astype(int)
        base = base_years[mineral]
        complete = []
        for y in sorted(set(year)):
            at = mine[year == y]
            if set(stocks) <= set(at["detail"]) and set(consumption) <= set(at["detail"]):
                complete.append(y)
        before = [y for y in complete if y <= base]
        years = before or complete[:1]
        if not years:
            skipped[mineral] = "no year reports every stock and consumption row it names"
            continue
        used = mine[year.isin(years)]
        values = pd.to_numeric(used["value"])
        s = float(values[used["detail"].isin(stocks)].sum()) / len(years)
        c = float(values[used["detail"].isin(consumption)].sum()) / len(years)
        if not (math.isfinite(s) and math.isfinite(c)) or c <= 0 or s < 0:
            skipped[mineral] = f"stocks {s} t or consumption {c} t/yr not usable"
            continue
        days = s / c * DAYS_PER_YEAR
        named = used[used["detail"].isin(stocks + consumption)]
        cited = sorted({str(x) for x in named.get("source_id", pd.Series(dtype=str)) if x})
        if len(cited) > 1:
            rule_text = (
                f"the rule for {mineral} names rows from {', '.join(cited)}; "
                "one rule takes its stocks and consumption from one edition"
            )
            raise DataError([Problem(RULES_FILE, None, "stocks", rule_text)])
        source = cited[0] if cited else source_id
        edition, left_out = (
            ("the USGS MCS 2026 salient statistics", "2025 estimates")
            if source == source_id
            else (
                f"the USGS salient statistics of {source} (an earlier edition)",
                "the edition's estimated last year",
            )
        )
        derived = any(
            is_true(e) for e in used[used["detail"].isin(consumption)]["estimated"].tolist()
        )
        contiguous = years == list(range(years[0], years[-1] + 1))
        span = (
            f"{years[0]}-{years[-1]}"
            if contiguous and len(years) > 1
            else ", ".join(str(y) for y in years)
        )
        note = (
            f"U.S. commercial stock cover derived by critmin from {edition}: mean yearend "
            f"stocks {s:,.4g} t / mean consumption {c:,.4g} t/yr x {DAYS_PER_YEAR:g}, over {span} "
            f"(base year {base}; {left_out} and shock years left out). "
            f"Stocks: {'; '.join(stocks)}. Consumption: {'; '.join(consumption)}. "
            f"Basis: {rule['basis']}. {rule['note']}. "
            + (f"Left out: {'; '.join(_details(rule['excluded']))}. " if rule["excluded"] else "")
            + "The U.S. figure is used for every consuming region (no comparable stock "
            "statistics for China or the rest of the world)."
        )
        out.append(
            {
                "mineral": mineral,
                "parameter": PARAMETER,
                "value": f"{days:.1f}",
                "unit": "days",
                "source_id": source,
                "estimated": "true" if derived else "false",
                "note": note,
            }
        )
    frame = pd.DataFrame(
        out, columns=["mineral", "parameter", "value", "unit", "source_id", "estimated", "note"]
    )
    return frame, skipped
