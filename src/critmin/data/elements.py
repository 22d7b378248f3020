"""Element-level rows of the build: rare earths by element and the rows each element inherits.

Mine output by element = a country's REO mine output x the element's share of total REO in the
deposit types the country mines (``data-src/elements/ree_distributions.csv``, weighted by
``ree_deposit_mix.csv``). Separation output of Nd, Pr, La and Ce = a country's refined
magnet-REE output (IEA) x the element's share of the magnet elements in that country's feed.
Separation of the elements ``ree_separators.csv`` covers (Sm, Eu) = a country's share of that
series x the share of its separation with a circuit for the element (sourced statements).
Every derived row is ``estimated`` and its note says how it was made. Heavy-element separation
and element magnet shares are entered by hand (``stage_production_elements.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Elements the rare-earth distributions cover (promethium is not mined; scandium is not in
#: REO mine output).
REE_ELEMENTS: tuple[str, ...] = (
    "lanthanum",
    "cerium",
    "praseodymium",
    "neodymium",
    "samarium",
    "europium",
    "gadolinium",
    "terbium",
    "dysprosium",
    "holmium",
    "erbium",
    "thulium",
    "ytterbium",
    "lutetium",
    "yttrium",
)

#: The magnet rare earths of the IEA "refined magnet REE" series.
MAGNET_REE: tuple[str, ...] = ("neodymium", "praseodymium", "dysprosium", "terbium")

#: Elements whose separation is derived from the IEA magnet-REE series (the heavy ones are
#: entered by hand from a published share).
DERIVED_SEPARATION: tuple[str, ...] = ("neodymium", "praseodymium", "lanthanum", "cerium")

#: Countries whose separation plants ran heavy-element circuits before 2025 (only China; the
#: first separated dysprosium outside China came from Lynas Malaysia in May 2025).
HEAVY_SEPARATORS: frozenset[str] = frozenset({"CHN"})

#: Mine output a country's separation plants take as feed besides their own (concentrate from
#: Myanmar and Laos goes to China).
SEPARATION_FEED: dict[str, tuple[str, ...]] = {"CHN": ("CHN", "MMR", "LAO")}

ANY_COUNTRY = "*"


@dataclass(frozen=True)
class ReeInputs:
    """The two hand-entered tables behind the element split."""

    distributions: pd.DataFrame
    """(deposit, element) -> share of total REO (normalised to 1 per deposit)."""
    mix: pd.DataFrame
    """(country, year_from, year_to, deposit, weight, source_id, note)."""

    @classmethod
    def read(cls, folder: Path) -> ReeInputs:
        dist = pd.read_csv(folder / "ree_distributions.csv", dtype={"percent": float})
        unknown = set(dist["element"]) - set(REE_ELEMENTS)
        if unknown:
            raise ValueError(f"ree_distributions.csv: unknown elements {sorted(unknown)}")
        total = dist.groupby("deposit")["percent"].transform("sum")
        dist = dist.assign(share=dist["percent"] / total)
        mix = pd.read_csv(folder / "ree_deposit_mix.csv", dtype={"country": str})
        missing = set(mix["deposit"]) - set(dist["deposit"])
        if missing:
            raise ValueError(f"ree_deposit_mix.csv: deposits without a distribution {missing}")
        return cls(distributions=dist, mix=mix)

    def mix_rows(self, country: str, year: int) -> pd.DataFrame:
        """The deposit-mix rows in force for ``country`` in ``year`` (the any-country rows
        where the country has none)."""
        rows = self.mix[
            (self.mix["year_from"] <= year)
            & (self.mix["year_to"] >= year)
            & (self.mix["country"] == country)
        ]
        if rows.empty:
            rows = self.mix[self.mix["country"] == ANY_COUNTRY]
        return rows

    def composition(self, country: str, year: int) -> pd.Series:
        """Element shares of total REO in ``country``'s mine output in ``year`` (sums to 1)."""
        rows = self.mix_rows(country, year)
        table = self.distributions.pivot_table(
            index="element", columns="deposit", values="share", fill_value=0.0
        )
        weights = rows.set_index("deposit")["weight"]
        comp = (table[weights.index] * weights).sum(axis=1) / weights.sum()
        return comp.reindex(list(REE_ELEMENTS), fill_value=0.0)

    def mix_note(self, country: str, year: int) -> str:
        rows = self.mix_rows(country, year)
        parts = [f"{d} {w:g}" for d, w in zip(rows["deposit"], rows["weight"], strict=True)]
        sources = sorted(set(rows["source_id"]))
        return f"deposit mix {', '.join(parts)} ({', '.join(sources)})"


def ree_mining(reo: pd.DataFrame, inputs: ReeInputs) -> pd.DataFrame:
    """Mine output by element from REO mine output rows (one source per row kept as is)."""
    out = []
    for row in reo.itertuples(index=False):
        year = int(str(row.year))
        comp = inputs.composition(str(row.country), year)
        note = (
            f"critmin split: {row.source_id} REO mine output {float(str(row.value)):,.0f} t x the "
            f"element's share of REO by deposit type (LONG_USGS_2010 Table 2); "
            f"{inputs.mix_note(str(row.country), year)}"
        )
        for element, share in comp.items():
            out.append(
                {
                    "mineral": element,
                    "stage": "mining",
                    "country": row.country,
                    "year": year,
                    "value": float(str(row.value)) * float(share),
                    "unit": "t",
                    "basis": "element oxide content (REO basis)",
                    "source_id": row.source_id,
                    "estimated": "true",
                    "note": note,
                }
            )
    return pd.DataFrame(out)


def _feed(country: str, year: int, mine: pd.DataFrame, inputs: ReeInputs) -> pd.Series:
    """Element composition of a country's separation feed."""
    members = SEPARATION_FEED.get(country)
    if members:
        rows = mine[(mine["year"] == year) & mine["country"].isin(members)]
        if not rows.empty:
            comp = rows.groupby("mineral")["value"].sum()
            return (comp / comp.sum()).reindex(list(REE_ELEMENTS), fill_value=0.0)
    return inputs.composition(country, year)


def ree_separation(magnet_reo: pd.DataFrame, mine: pd.DataFrame, inputs: ReeInputs) -> pd.DataFrame:
    """Separated Nd, Pr, La, Ce by country from refined magnet-REE output by country.

    ``magnet_reo``: rare_earths refining rows whose basis is the IEA magnet-REE content.
    ``mine``: element mine rows of one source (to compose China's feed from its own, Myanmar's
    and Laos' mine output). Outside China the magnet REE are Nd and Pr only (no heavy circuits
    before 2025).
    """
    out = []
    for row in magnet_reo.itertuples(index=False):
        year, country = int(str(row.year)), str(row.country)
        feed = _feed(country, year, mine, inputs)
        magnets = [m for m in MAGNET_REE if country in HEAVY_SEPARATORS or m in MAGNET_REE[:2]]
        denom = float(feed[magnets].sum())
        if denom <= 0:
            continue
        for element in DERIVED_SEPARATION:
            out.append(
                {
                    "mineral": element,
                    "stage": "refining",
                    "country": country,
                    "year": year,
                    "value": float(str(row.value)) * float(feed[element]) / denom,
                    "unit": row.unit,
                    "basis": "separated element oxide (REO basis)",
                    "source_id": row.source_id,
                    "estimated": "true",
                    "note": (
                        f"critmin split of {row.source_id} refined magnet REE ({row.value:g} "
                        f"{row.unit}) by the {element} : ({'+'.join(magnets)}) ratio of the "
                        f"separation feed ({'+'.join(SEPARATION_FEED.get(country, (country,)))} "
                        "mine output by element)"
                    ),
                }
            )
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    frac = frame["unit"] == "fraction"
    if frac.any():
        total = frame[frac].groupby(["mineral", "year"])["value"].transform("sum")
        frame.loc[frac, "value"] = frame.loc[frac, "value"] / total
    return frame


def read_separators(folder: Path, sources: set[str]) -> pd.DataFrame:
    """``ree_separators.csv``: per element, country and years, the share (0..1) of that
    country's rare-earth separation that has a circuit for the element, each row sourced."""
    name = "ree_separators.csv"
    table = pd.read_csv(folder / name, dtype={"country": str, "source_id": str})
    coverage = pd.to_numeric(table["coverage"], errors="coerce")
    for i, (element, cov, source) in enumerate(
        zip(table["element"], coverage, table["source_id"], strict=True), start=2
    ):
        if element not in REE_ELEMENTS:
            raise ValueError(f"{name} row {i}: element: unknown rare earth {element!r}")
        if element in DERIVED_SEPARATION:
            raise ValueError(
                f"{name} row {i}: element: {element} is split from the magnet-REE series"
            )
        if not 0.0 <= cov <= 1.0:
            raise ValueError(f"{name} row {i}: coverage: {cov} is not a share in [0, 1]")
        if source not in sources:
            raise ValueError(f"{name} row {i}: source_id: {source!r} not in sources")
    return table.assign(coverage=coverage)


def ree_separation_by_coverage(magnet_reo: pd.DataFrame, separators: pd.DataFrame) -> pd.DataFrame:
    """Separation shares of the elements ``separators`` covers (e.g. Sm, Eu): a country's
    share of the aggregate's separation (IEA refined magnet-REE output, the only separation
    series by country) x the share of its separation with a circuit for the element (sourced
    company and press statements), renormalised to 1 per element and year.

    A country with separation output and no coverage row for the element is refused, so that
    no separator is silently dropped.
    """
    out = []
    tonnes = magnet_reo[(magnet_reo["unit"] == "t") & (magnet_reo["value"] > 0)]
    for (year, source), group in tonnes.groupby(["year", "source_id"]):
        output = group.set_index("country")["value"].astype(float)
        share = output / float(output.sum())
        current = separators[(separators["year_from"] <= year) & (separators["year_to"] >= year)]
        for element, rows in current.groupby("element"):
            by_country = rows.set_index("country")
            missing = sorted(set(output.index) - set(by_country.index))
            if missing:
                raise ValueError(
                    f"ree_separators.csv: {element} {year}: no coverage row for separators "
                    f"{missing}"
                )
            coverage = by_country["coverage"].astype(float).reindex(output.index)
            weight = share * coverage
            if float(weight.sum()) <= 0:
                raise ValueError(f"ree_separators.csv: {element} {year}: no separator covers it")
            for country in output.index:
                out.append(
                    {
                        "mineral": element,
                        "stage": "refining",
                        "country": country,
                        "year": int(str(year)),
                        "value": float(weight[country]) / float(weight.sum()),
                        "unit": "fraction",
                        "basis": "share of separated element output",
                        "source_id": source,
                        "estimated": "true",
                        "note": (
                            f"critmin: {country}'s share of {source} refined magnet-REE output "
                            f"({float(share[country]):.3f}) x coverage "
                            f"{float(coverage[country]):g} of its separation by an {element} "
                            f"circuit ({by_country.loc[country, 'source_id']}: "
                            f"{by_country.loc[country, 'note']}), renormalised over the separators"
                        )[:600],
                    }
                )
    return pd.DataFrame(out)


def inherit(rows: pd.DataFrame, members: tuple[str, ...], how: str) -> pd.DataFrame:
    """Copy an aggregate's rows onto its member elements, marked estimated with ``how``."""
    frames = []
    for member in members:
        copy = rows.copy()
        copy["mineral"] = member
        copy["estimated"] = "true"
        copy["note"] = how
        frames.append(copy)
    return pd.concat(frames, ignore_index=True) if frames else rows.iloc[0:0]


#: Platinum-group metals whose refining is derived from mine output.
PGM_REFINED: tuple[str, ...] = ("platinum", "palladium", "rhodium")


def pgm_refining(mine: pd.DataFrame, moves: pd.DataFrame, source_id: str) -> pd.DataFrame:
    """Refined PGM output by country = mine output, with the countries whose concentrate and
    matte are refined abroad moved to their refiner (``moves``: mine_country ->
    refining_country). ``mine``: WMD mine rows of the PGMs, one source."""
    move = dict(zip(moves["mine_country"], moves["refining_country"], strict=True))
    rows = mine[mine["mineral"].isin(PGM_REFINED)].copy()
    if rows.empty:
        return rows
    rows["value"] = pd.to_numeric(rows["value"])
    rows["country"] = rows["country"].map(lambda c: move.get(str(c), str(c)))
    out = rows.groupby(["mineral", "country", "year", "unit"], as_index=False)["value"].sum()
    moved = ", ".join(f"{a} -> {b}" for a, b in move.items())
    out["stage"] = "refining"
    out["basis"] = "refined metal (mine output by country of refining)"
    out["source_id"] = source_id
    out["estimated"] = "true"
    out["note"] = (
        "critmin: WMD_2026 mine output with the mine output of countries without PGM refineries "
        f"reassigned to their refiner ({moved}); recycling and stock sales not counted"
    )
    return pd.DataFrame(out)
