"""The key findings of the review in one screen, shared by the web overview and the review
page: each chain's bottleneck with China's and the allies' shares, the top risks in dollars with
their error, the reserve's position, and what changed (critmin.report.history: since the
previous stored review, else the previous data year on record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from critmin.schema.vocabulary import OTHER_COUNTRIES

if TYPE_CHECKING:
    from critmin.chain import SupplyChain


@dataclass(frozen=True)
class Bottleneck:
    mineral: str
    name: str
    stage: str
    year: int
    top_country: str
    top_share: float
    china_share: float
    allied_share: float
    hhi_wgi: float
    source_id: str


@dataclass(frozen=True)
class Change:
    mineral: str
    stage: str
    country: str
    before_year: int
    before: float
    after_year: int
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


def bottlenecks(chain: SupplyChain, table: pd.DataFrame) -> list[Bottleneck]:
    """The bottleneck stage of each declared chain, in declaration order."""
    names = chain.dataset["minerals"].set_index("id")["name"]
    declared = chain.dataset["chains"].sort_values("position", kind="stable")
    out = []
    for mineral in dict.fromkeys(declared["mineral"]):
        rows = table[(table["mineral"] == mineral) & table["bottleneck"]]
        if not len(rows):
            continue
        r = rows.iloc[0]
        out.append(
            Bottleneck(
                mineral=str(mineral),
                name=str(names.get(mineral, mineral)),
                stage=str(r["stage"]),
                year=int(r["year"]),
                top_country=str(r["top_country"]),
                top_share=float(r["top_share"]),
                china_share=float(r["china_share"]),
                allied_share=float(r["allied_share"]),
                hhi_wgi=float(r["hhi_wgi"]),
                source_id=str(r["source_id"]),
            )
        )
    return out


def changes(chain: SupplyChain, found: list[Bottleneck]) -> list[Change]:
    """At each bottleneck, the leading country's share in the latest year against the year
    before it that has data (largest moves first)."""
    shares = chain.shares()
    out = []
    for b in found:
        s = shares.sel(mineral=b.mineral, stage=b.stage)
        years = [int(y) for y in s.year.values if bool(s.sel(year=y).notnull().any())]
        earlier = [y for y in years if y < b.year]
        if not earlier or b.top_country == OTHER_COUNTRIES:
            continue
        before_year = earlier[-1]
        before = s.sel(year=before_year, country=b.top_country).item()
        after = s.sel(year=b.year, country=b.top_country).item()
        out.append(
            Change(
                b.mineral,
                b.stage,
                b.top_country,
                before_year,
                0.0 if pd.isna(before) else float(before),
                b.year,
                float(after),
            )
        )
    return sorted(out, key=lambda c: -abs(c.delta))


@dataclass(frozen=True)
class MineralCount:
    """One count of minerals everywhere (CLI, review, web), saying what each number counts."""

    declared: int
    with_production: int
    chains: int

    def sentence(self) -> str:
        return (
            f"{self.declared} minerals declared, {self.with_production} with country "
            f"production data, {self.chains} mapped as multi-stage chains"
        )


def mineral_count(chain: SupplyChain) -> MineralCount:
    return MineralCount(
        declared=len(chain.dataset["minerals"]),
        with_production=int(chain.production.sizes["mineral"]),
        chains=len(set(chain.dataset["chains"]["mineral"])),
    )


def top_risks(ranked: list[dict[str, Any]] | None, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` minerals with the highest expected annual U.S. loss (ranked rows only)."""
    if not ranked:
        return []
    return [r for r in ranked if r.get("rank") is not None][:n]
