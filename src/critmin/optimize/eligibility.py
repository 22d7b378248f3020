"""Which minerals the reserve may hold: the board's rule, as data (reserve_eligibility.csv).

A mineral is eligible when any rule admits it; the plan names the rule that did. Kinds:

- ``net_import_reliance_at_least``: the U.S. net import reliance USGS reports in the
  mineral's pre-shock base year (``SupplyChain.us_nir_base``: the year of its reference price
  and U.S. demand, so the rule reads the baseline the plan is built on, not a 2025 estimate
  that carries a control's stock-building; the largest over the mineral's forms) is at least
  ``value``;
- ``export_restriction_since``: a foreign export restriction (export_restrictions.csv) on the
  mineral started in or after the month ``value`` (optionally only by ``countries``);
- ``listed``: the mineral is one of the space-separated names in ``value``;
- ``all``: every mineral (a board that wants no restriction says so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.schema.vocabulary import ELIGIBILITY_KINDS


@dataclass(frozen=True)
class Rule:
    rule: str
    kind: str
    value: str = ""
    countries: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" by {', '.join(self.countries)}" if self.countries else ""
        return {
            "net_import_reliance_at_least": f"U.S. net import reliance >= {self.value}",
            "export_restriction_since": f"foreign export restriction{where} since {self.value}",
            "listed": f"listed by the board ({self.value})",
            "all": "every mineral",
        }.get(self.kind, self.kind)


@dataclass(frozen=True)
class Eligibility:
    """The rules in force; :meth:`admit` says, per mineral, which rule admits it."""

    rules: tuple[Rule, ...]

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> Eligibility:
        rows = []
        for _, r in table.iterrows():
            countries = (
                str(r.get("countries") or "").split() if pd.notna(r.get("countries")) else []
            )
            value = "" if pd.isna(r.get("value")) else str(r.get("value"))
            rows.append(Rule(str(r["rule"]), str(r["kind"]), value, tuple(countries)))
        return cls(tuple(rows))

    @classmethod
    def of(cls, chain: SupplyChain) -> Eligibility:
        return cls.from_table(chain.dataset["reserve_eligibility"])

    @classmethod
    def parse(cls, text: str) -> Eligibility:
        """``nir>=0.9``, ``restriction>=2020-01``, ``listed=a b``, ``all``, joined by ``,``."""
        rules = []
        for i, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
            if part == "all":
                rules.append(Rule(f"rule_{i}", "all"))
            elif part.startswith("nir>="):
                v = float(part[5:])
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"net import reliance threshold must be in [0, 1], got {v}")
                rules.append(Rule(f"rule_{i}", "net_import_reliance_at_least", part[5:]))
            elif part.startswith("restriction>="):
                month = part[len("restriction>=") :]
                pd.Period(month, "M")  # raises on a bad month
                rules.append(Rule(f"rule_{i}", "export_restriction_since", month))
            elif part.startswith("listed="):
                rules.append(Rule(f"rule_{i}", "listed", part[7:]))
            else:
                raise ValueError(
                    f"unknown eligibility rule {part!r} (nir>=X, restriction>=YYYY-MM, "
                    "listed=NAME NAME, all)"
                )
        return cls(tuple(rules))

    def admit(self, chain: SupplyChain, minerals: Iterable[str]) -> dict[str, str | None]:
        """Per mineral: the first rule that admits it (its description), or None."""
        nir = chain.us_nir_base()
        restr = chain.dataset["export_restrictions"]
        out: dict[str, str | None] = {}
        for m in minerals:
            out[m] = None
            for rule in self.rules:
                if rule.kind not in ELIGIBILITY_KINDS:
                    raise ValueError(f"unknown eligibility kind {rule.kind!r}")
                hit = False
                if rule.kind == "all":
                    hit = True
                elif rule.kind == "listed":
                    hit = m in rule.value.split()
                elif rule.kind == "net_import_reliance_at_least":
                    if m in nir.mineral.values:
                        at = nir.sel(mineral=m)
                        value = float(at)
                        hit = bool(np.isfinite(value) and value >= float(rule.value) - 1e-12)
                        if hit:
                            year, want = int(at.nir_year), chain.base_year(m)
                            when = (
                                "the base year"
                                if year == want
                                else f"base year {want} not reported"
                            )
                            out[m] = f"{rule.describe()} ({value:.2f} in {year}, {when})"
                            break
                elif rule.kind == "export_restriction_since":
                    rows = restr[(restr["mineral"] == m) & (restr["start"] >= rule.value)]
                    if rule.countries:
                        rows = rows[rows["country"].isin(rule.countries)]
                    hit = not rows.empty
                    if hit:
                        last = rows.sort_values("start").iloc[-1]
                        out[m] = (
                            f"{rule.describe()} "
                            f"({last['country']} {last['measure']}, {last['start']})"
                        )
                        break
                if hit:
                    out[m] = rule.describe()
                    break
        return out
