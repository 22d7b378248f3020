"""Partner-government contributions to the reserve: earmarks, cost shares and release rights.

A partner's money buys only lots of its earmarked minerals (all when none), pays at most its
``cost_share`` of each lot it funds, and gives it the right to draw ``release_right`` of the
tonnes its money bought in a shock: those tonnes are held for the partner and never meet a
U.S. need (the conservative reading: the partner's shock is the U.S. shock). A partner from a
foreign entity of concern (country_groups group ``feoc``, the list the ledger refuses) is
refused, as the ledger refuses its contribution.
"""

from __future__ import annotations

from dataclasses import dataclass

from critmin.chain import SupplyChain
from critmin.ledger.reference import FEOC_GROUP


@dataclass(frozen=True)
class Partner:
    country: str  # ISO3
    amount_usd: float
    earmark: tuple[str, ...] = ()  # minerals; empty: any
    cost_share: float = 1.0  # largest share of a lot's cost the partner pays
    release_right: float = 0.0  # share of the tonnes it funds it may draw in a shock

    @classmethod
    def parse(cls, text: str) -> Partner:
        """``ISO3:USD[:MINERAL+MINERAL][:share=S][:rights=R]``, e.g.
        ``JPN:3e8:gallium+germanium:share=0.5:rights=0.3``."""
        parts = text.split(":")
        if len(parts) < 2:
            raise ValueError(
                f"partner must be ISO3:USD[:minerals][:share=S][:rights=R], got {text!r}"
            )
        country, amount = parts[0].strip().upper(), float(parts[1])
        earmark: tuple[str, ...] = ()
        share, rights = 1.0, 0.0
        for p in parts[2:]:
            if p.startswith("share="):
                share = float(p[6:])
            elif p.startswith("rights="):
                rights = float(p[7:])
            elif p:
                earmark = tuple(m for m in p.split("+") if m)
        if not (amount >= 0 and 0 < share <= 1 and 0 <= rights <= 1):
            raise ValueError(f"partner {text!r}: USD >= 0, 0 < share <= 1, 0 <= rights <= 1")
        return cls(country, amount, earmark, share, rights)


def refusal(chain: SupplyChain, partner: Partner) -> str | None:
    """Why the reserve refuses ``partner`` (None: it does not): a foreign entity of concern
    (country_groups group ``feoc``) or a country countries.csv does not know. The one rule the
    plan (``screen``) and the CLI's check before the draws both apply."""
    groups = chain.dataset["country_groups"]
    feoc = set(groups.loc[groups["group"] == FEOC_GROUP, "country"].astype(str))
    if partner.country in feoc:
        return (
            f"{partner.country} is a foreign entity of concern (country group {FEOC_GROUP}); "
            "the reserve does not deal with it"
        )
    if partner.country not in set(chain.dataset["countries"]["iso3"].astype(str)):
        return f"unknown country {partner.country!r} (ISO3 of countries.csv)"
    return None


def screen(chain: SupplyChain, partners: list[Partner]) -> tuple[list[Partner], list[str]]:
    """Partners accepted, and one line ``ISO3: reason`` per partner refused (``refusal``)."""
    ok, refused = [], []
    for p in partners:
        why = refusal(chain, p)
        if why is None:
            ok.append(p)
        else:
            refused.append(f"{p.country}: {why}")
    return ok, refused
