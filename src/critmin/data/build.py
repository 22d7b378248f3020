"""Build the bundled tables from the raw public releases and the hand-entered tables.

Raw in (``--from DIR``: ``geopolrisk/`` with World Mining Data, WGI, BACI; ``usgs/`` with the
Mineral Commodity Summaries data release), plus ``data-src/`` kept in the repo (mappings from
raw commodity names to critmin ids, and hand-entered figures with their sources). Validated
tables out. The output is written to a temporary folder, checked with the same loader users
meet, and only then moved into place, so a failed build leaves the old tables untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from critmin.data import elements
from critmin.data.bea import io_tables
from critmin.data.load import collect
from critmin.data.stock_days import PARAMETER as STOCK_DAYS
from critmin.data.stock_days import stock_days
from critmin.economics.price import base_year, shock_years
from critmin.metrics import governance as gov
from critmin.scenarios.load import library_events
from critmin.schema.tables import TABLES
from critmin.schema.validate import DataError, Problem
from critmin.schema.vocabulary import BACI_SOURCE as BACI
from critmin.schema.vocabulary import (
    IMPORT_FORM,
    IMPORT_TOTAL,
    INHERITED_SOURCES,
    OTHER_COUNTRIES,
    STAGE_NAMES,
    STAGE_ORDER,
    WORLD,
    WORLD_MARKET,
)
from critmin.schema.vocabulary import USGS_SOURCE as USGS

WMD = "WMD_2026"
WGI = "WB_WGI_2025"
WGI6 = "WB_WGI6_2024"
#: A BACI partner counts as a U.S. import source from this share of U.S. imports (quantity) on
BACI_PARTNER_MIN = 0.01
EOL = "EU_CRM_2023_EOLRIR"
DEFAULT_PRIORITY = 2
GOVERNANCE_FROM = 2015
#: Hand-entered outlook tables (issue 14), each read as is from data-src/manual.
OUTLOOK_TABLES = (
    "facilities",
    "projects",
    "lead_times",
    "lead_time_factors",
    "outlook_references",
    "security_incidents",
    "security_priors",
    "recycling_flows",
)

#: USGS unit strings -> (critmin unit, factor to that unit).
USGS_UNITS: dict[str, tuple[str, float]] = {
    "metric tons": ("t", 1.0),
    "tons": ("t", 1.0),
    "thousand metric tons": ("t", 1e3),
    "thousand metric dry tons": ("t", 1e3),
    "million metric tons": ("t", 1e6),
    "kilograms": ("t", 1e-3),
    "million carats": ("carat", 1e6),
    "million cubic meters": ("m3", 1e6),
    "million liters": ("L", 1e6),
    "percent": ("fraction", 0.01),
    "dollars per metric ton": ("USD/t", 1.0),
    "dollars per ton": ("USD/t", 1.0),
    "dollars per short ton": ("USD/short_t", 1.0),
    "dollars per kilogram": ("USD/kg", 1.0),
    "dollars per gram": ("USD/g", 1.0),
    "dollars per 10-grams": ("USD/10g", 1.0),
    "dollars per 25 grams": ("USD/25g", 1.0),
    "dollars per 50 grams": ("USD/50g", 1.0),
    "dollars per pound": ("USD/lb", 1.0),
    "cents per pound": ("USc/lb", 1.0),
    "dollars per troy ounce": ("USD/ozt", 1.0),
    "dollars per carat": ("USD/carat", 1.0),
    "dollars per dry metric ton unit": ("USD/dmtu", 1.0),
    "dollars per 100 mililiters": ("USD/100mL", 1.0),
    "dollars per 100 milliliters": ("USD/100mL", 1.0),
    "index": ("index", 1.0),
}

US_STATISTIC = {
    "Production": "production",
    "Import": "imports",
    "Export": "exports",
    "Consumption": "consumption",
    "Stock": "stocks",
    "Net import reliance": "net_import_reliance",
}

#: World Mining Data unit strings -> (critmin unit, factor).
WMD_UNITS: dict[str, tuple[str, float]] = {
    "metr. t": ("t", 1.0),
    "kg": ("t", 1e-3),
    "ct": ("carat", 1.0),
    "Mio m3": ("m3", 1e6),
}

#: A production column of the earlier MCS world-data files: ``Prod_kt_2020``, ``Prod_t_est_2023``.
PROD_COLUMN = re.compile(r"^Prod_(?P<unit>kt|t|kg)_(?P<est>est_)?(?P<year>\d{4})$", re.IGNORECASE)

#: USGS symbols that carry no number (withheld, not available, ...).
NO_VALUE = {"W", "NA", "XX", "s", "", "--"}


@dataclass
class BuildLog:
    """What the build did and what it could not map (printed at the end)."""

    counts: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, set[str]] = field(default_factory=dict)

    def skip(self, what: str, label: str) -> None:
        self.unmapped.setdefault(what, set()).add(label)

    def lines(self) -> list[str]:
        out = [f"{name}: {n:,} rows" for name, n in self.counts.items()]
        for what, labels in sorted(self.unmapped.items()):
            shown = ", ".join(sorted(labels)[:40])
            more = f" (+{len(labels) - 40} more)" if len(labels) > 40 else ""
            out.append(f"not mapped ({what}): {shown}{more}")
        return out


def _csv(path: Path, **kw: object) -> pd.DataFrame:
    frame: pd.DataFrame = pd.read_csv(path, dtype=str, keep_default_na=False, **kw)  # type: ignore[call-overload]
    return frame


def _concat_manual(folder: Path, pattern: str) -> pd.DataFrame:
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} in {folder}")
    return pd.concat([_csv(f) for f in files], ignore_index=True)


def _optional_manual(folder: Path, pattern: str, columns: list[str]) -> pd.DataFrame:
    """The hand-entered files matching ``pattern`` (none is fine), with the given columns."""
    files = sorted(folder.glob(pattern))
    if not files:
        return pd.DataFrame(columns=columns)
    return pd.concat([_csv(f) for f in files], ignore_index=True)[columns]


def parse_usgs_value(text: str) -> tuple[float | None, str]:
    """Parse a USGS cell: ``'1,234'`` -> (1234, exact); ``'>95'`` -> (95, gt); ``'E'`` -> net
    exporter; an em dash is zero; withheld or unavailable -> (None, exact)."""
    s = text.strip().replace(",", "")
    if s == "E":
        return None, "net_exporter"
    if s in {"\u2014", "\u2013", "-"}:
        return 0.0, "exact"
    if s in NO_VALUE:
        return None, "exact"
    qualifier = "exact"
    if s[:1] in "<>":
        qualifier = "gt" if s[0] == ">" else "lt"
        s = s[1:].strip()
    try:
        return float(s), qualifier
    except ValueError:
        return None, "exact"


def snake(name: str) -> str:
    """A USGS commodity name as a critmin id: ``'Graphite (Natural)'`` -> ``graphite_natural``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class Builder:
    """Reads the raw releases and the repo's data-src folder; makes every bundled table."""

    def __init__(self, raw: Path, src: Path) -> None:
        self.raw = raw
        self.src = src
        self.log = BuildLog()
        self.usgs = _csv(raw / "usgs" / "MCS2026_Commodities_Data.csv", encoding="cp1252")
        self.usgs["Section"] = self.usgs["Section"].str.replace("\u2014", "-")
        self.minerals = _csv(src / "manual" / "minerals.csv")
        self.mineral_ids = set(self.minerals["id"])
        self.usgs_names = _csv(src / "mappings" / "usgs_commodities.csv").set_index(
            "usgs_commodity"
        )["mineral"]
        self.aliases: dict[str, str] = {}
        self.countries = self._countries()
        self.country_ids = set(self.countries["iso3"])

    # ---- labels -------------------------------------------------------------------------
    def _countries(self) -> pd.DataFrame:
        geo = self.raw / "geopolrisk"
        frames = [
            _csv(geo / "baci_countries.csv")[["iso3", "country"]],
            _csv(geo / "wgi_political_stability.csv")[["country_iso3", "country"]].rename(
                columns={"country_iso3": "iso3"}
            ),
            _csv(geo / "wmd_production.csv")[["country_iso3", "country"]].rename(
                columns={"country_iso3": "iso3"}
            ),
        ]
        names = pd.concat(frames).rename(columns={"country": "name"})
        names = names[names["iso3"].str.fullmatch(r"[A-Z]{3}")]
        for _, row in names.iterrows():
            self.aliases.setdefault(row["name"].lower(), row["iso3"])
        self.fixes = _csv(self.src / "mappings" / "country_aliases.csv")
        for _, row in self.fixes.iterrows():
            self.aliases[row["name"].lower()] = row["iso3"]
        self.codes: dict[str, str] = dict(
            _csv(self.src / "mappings" / "country_codes.csv")[["raw_code", "iso3"]].itertuples(
                index=False
            )
        )
        fixed = self.fixes[self.fixes["iso3"].str.fullmatch(r"[A-Z]{3}")]
        names = pd.concat([fixed[["iso3", "name"]], names]).drop_duplicates("iso3")
        extra = pd.DataFrame(
            {
                "iso3": [OTHER_COUNTRIES, WORLD],
                "name": ["Other countries (not attributed)", "World"],
            }
        )
        out = pd.concat([names, extra]).drop_duplicates("iso3").sort_values("iso3")
        return out.reset_index(drop=True)

    def iso3(self, name: str) -> str | None:
        code = self.aliases.get(name.strip().lower())
        if code is None:
            self.log.skip("country", name)
        return code

    def mineral_of(self, commodity: str) -> str | None:
        mineral = self.usgs_names.get(commodity, snake(commodity))
        if mineral not in self.mineral_ids:
            self.log.skip("USGS commodity", commodity)
            return None
        return str(mineral)

    # ---- tables ---------------------------------------------------------------------------
    def sources(self) -> pd.DataFrame:
        frames = [_csv(self.src / "sources_raw.csv")]
        frames += [_csv(f) for f in sorted((self.src / "manual").glob("*sources*.csv"))]
        out = pd.concat(frames, ignore_index=True).drop_duplicates("id", keep="first")
        if "priority" not in out.columns:
            out["priority"] = ""
        out["priority"] = out["priority"].replace("", str(DEFAULT_PRIORITY))
        return out[[c.name for c in TABLES["sources"].columns]]

    def stages(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": list(STAGE_ORDER),
                "name": [STAGE_NAMES[s] for s in STAGE_ORDER],
                "position": list(STAGE_ORDER.values()),
            }
        )

    def commodity_map(self) -> pd.DataFrame:
        wmd = _csv(self.src / "mappings" / "wmd_commodities.csv")
        wmd = wmd[wmd["mineral"] != ""]
        usgs = _csv(self.src / "mappings" / "usgs_world.csv")
        hs = _csv(self.src / "mappings" / "hs6.csv")
        editions = _csv(self.src / "mappings" / "usgs_world_editions.csv")
        forms = _csv(self.src / "mappings" / "usgs_import_forms.csv")
        bad = [
            Problem(
                str(self.src / "mappings" / "usgs_import_forms.csv"),
                i,
                "total",
                f"{v!r}: not yes or no",
            )
            for i, v in enumerate(forms["total"], start=2)
            if v not in ("yes", "no")
        ]
        if bad:
            raise DataError(bad)
        frames = [
            pd.DataFrame(
                {
                    "source_id": editions["source_id"],
                    "raw_commodity": editions["file"],
                    "raw_detail": editions["type"],
                    "mineral": editions["mineral"],
                    "stage": editions["stage"],
                    "basis": editions["basis"],
                    "note": editions["note"],
                }
            ),
            pd.DataFrame(
                {
                    "source_id": WMD,
                    "raw_commodity": wmd["wmd_commodity"],
                    "raw_detail": "",
                    "mineral": wmd["mineral"],
                    "stage": wmd["stage"],
                    "basis": wmd["basis"],
                    "note": wmd["note"],
                }
            ),
            pd.DataFrame(
                {
                    "source_id": USGS,
                    "raw_commodity": usgs["usgs_commodity"],
                    "raw_detail": usgs["statistic"] + ": " + usgs["detail"],
                    "mineral": usgs["mineral"],
                    "stage": usgs["stage"],
                    "basis": usgs["basis"],
                    "note": usgs["note"],
                }
            ),
            pd.DataFrame(
                {
                    "source_id": BACI,
                    "raw_commodity": "HS " + hs["hs6"],
                    "raw_detail": "",
                    "mineral": hs["mineral"],
                    "stage": hs["stage"],
                    "basis": "gross weight of the traded product",
                    "note": hs["note"],
                }
            ),
            # which chain stage's form a USGS import-source category is
            # (critmin.simulate.intermediaries.import_source_shares)
            pd.DataFrame(
                {
                    "source_id": USGS,
                    "raw_commodity": forms["category"],
                    "raw_detail": forms["total"].map({"yes": IMPORT_TOTAL, "no": IMPORT_FORM}),
                    "mineral": forms["mineral"],
                    "stage": forms["stage"],
                    "basis": "share of U.S. imports of the form",
                    "note": forms["note"],
                }
            ),
        ]
        return pd.concat(frames, ignore_index=True)

    def _wmd_production(self) -> pd.DataFrame:
        geo = self.raw / "geopolrisk"
        raw = _csv(geo / "wmd_production.csv")
        cmap = _csv(self.src / "mappings" / "wmd_commodities.csv").set_index("wmd_commodity")
        for name in sorted(set(raw["commodity"]) - set(cmap.index)):
            self.log.skip("WMD commodity", name)
        raw = raw[raw["commodity"].isin(cmap.index)]
        m = cmap.loc[raw["commodity"]].reset_index(drop=True)
        raw = raw.reset_index(drop=True)
        keep = m["mineral"] != ""
        for name in sorted(set(raw.loc[~keep, "commodity"])):
            self.log.skip("WMD commodity (not a tonnage of a mineral)", name)
        raw, m = raw[keep], m[keep]
        # The raw table's ISO3 codes win unless the alias table corrects a country by name.
        fixes = dict(zip(self.fixes["name"], self.fixes["iso3"], strict=True))
        raw["country_iso3"] = [
            fixes.get(name, self.codes.get(code, code))
            for name, code in zip(raw["country"], raw["country_iso3"], strict=True)
        ]
        unit = raw["unit"].map(lambda u: WMD_UNITS[u])
        # a basis factor converts a compound basis to the element (Li2O -> Li), so that
        # every source of a mineral and stage counts the same thing
        factor = pd.to_numeric(m["factor"].replace("", "1")) if "factor" in m else 1.0
        value = pd.to_numeric(raw["value"]) * unit.map(lambda x: x[1]) * factor
        flag = raw["flag"].map({"e": "WMD flag: estimated", "r": "WMD flag: reported"})
        flag = flag.fillna("")
        if "factor" in m:
            converted = m["factor"] != ""
            flag = flag.where(
                ~converted,
                flag + "; critmin: WMD basis converted to " + m["basis"] + " x " + m["factor"],
            )
        out = pd.DataFrame(
            {
                "mineral": m["mineral"].to_numpy(),
                "stage": m["stage"].to_numpy(),
                "country": raw["country_iso3"].to_numpy(),
                "year": raw["year"].to_numpy(),
                "value": value.to_numpy(),
                "unit": unit.map(lambda x: x[0]).to_numpy(),
                "basis": m["basis"].to_numpy(),
                "source_id": WMD,
                "estimated": "false",
                "note": flag.fillna("").to_numpy(),
            }
        )
        # two WMD commodities may be one mineral (gem and industrial diamonds): sum them
        keys = ["mineral", "stage", "country", "year", "unit", "basis", "source_id", "estimated"]
        return out.groupby(keys, as_index=False).agg(value=("value", "sum"), note=("note", "first"))

    def _usgs_world(self, statistic: str) -> pd.DataFrame:
        rows = self.usgs[
            self.usgs["Section"].str.startswith("World") & (self.usgs["Statistics"] == statistic)
        ].copy()
        rows["detail"] = rows["Statistics_detail"].str.replace(r"[:,] rounded$", "", regex=True)
        cmap = _csv(self.src / "mappings" / "usgs_world.csv")
        cmap = cmap[cmap["statistic"] == statistic]
        merged = rows.merge(
            cmap,
            left_on=["Commodity", "detail"],
            right_on=["usgs_commodity", "detail"],
            how="left",
        )
        unmapped = merged[merged["mineral"].isna()].drop_duplicates(["Commodity", "detail"])
        for _, r in unmapped.iterrows():
            self.log.skip(f"USGS world {statistic.lower()}", f"{r['Commodity']} [{r['detail']}]")
        merged = merged[merged["mineral"].notna() & (merged["Country"] != "World total")]
        parsed = merged["Value"].map(parse_usgs_value)
        merged["num"] = [v for v, _ in parsed]
        merged = merged[merged["num"].notna()]
        unit = merged["Unit"].map(lambda u: USGS_UNITS[u.strip()])
        merged["value"] = merged["num"] * unit.map(lambda x: x[1])
        merged["unit"] = unit.map(lambda x: x[0])
        merged["country"] = merged["Country"].map(self.iso3)
        merged = merged[merged["country"].notna()]
        merged["year"] = merged["Year"].str[:4]
        merged["estimated"] = "false"
        merged["note"] = merged["Notes"].str.slice(0, 200)
        keys = ["mineral", "stage", "country", "year", "unit", "basis"]
        out = merged.groupby(keys, as_index=False).agg(
            value=("value", "sum"), note=("note", "first")
        )
        out["source_id"] = USGS
        out["estimated"] = "false"
        return out

    def _usgs_editions(self, current: pd.DataFrame) -> pd.DataFrame:
        """Rows from earlier MCS world-data releases (the per-commodity files copied to
        ``data-src/raw/usgs_mcs_world``, mapped in ``mappings/usgs_world_editions.csv``) for the
        years the current release does not cover. Per (mineral, stage, year) the newest edition
        reporting it wins, so a year is never a mix of editions; USGS estimates (the second
        year of each edition) are marked estimated."""
        cols = [c.name for c in TABLES["production"].columns]
        rules = _csv(self.src / "mappings" / "usgs_world_editions.csv")
        have = set(
            zip(current["mineral"], current["stage"], current["year"].astype(str), strict=True)
        )
        frames = []
        for rule in rules.to_dict(orient="records"):
            raw = _csv(
                self.src / "raw" / "usgs_mcs_world" / str(rule["file"]), encoding="utf-8-sig"
            )
            raw = raw[raw["Type"].str.strip() == str(rule["type"])]
            note_cols = [c for c in raw.columns if re.fullmatch(r"(?i)prod_notes?", c)]
            notes = raw[note_cols[0]] if note_cols else pd.Series("", index=raw.index)
            for col in raw.columns:
                found = PROD_COLUMN.match(col)
                if found is None:
                    continue
                scale = {"kt": 1e3, "t": 1.0, "kg": 1e-3}[found["unit"].lower()]
                for label, cell, note in zip(raw["Country"], raw[col], notes, strict=True):
                    value, _ = parse_usgs_value(str(cell))
                    name = re.sub(r"\d+$", "", str(label)).strip()
                    if value is None or name.startswith("World total"):
                        continue
                    country = self.iso3(name)
                    if country not in self.country_ids:
                        continue
                    est = found["est"] is not None or "also estimated" in str(note)
                    frames.append(
                        {
                            "mineral": rule["mineral"],
                            "stage": rule["stage"],
                            "country": country,
                            "year": found["year"],
                            "value": value * scale,
                            "unit": "t",
                            "basis": rule["basis"],
                            "source_id": rule["source_id"],
                            "estimated": "true" if est else "false",
                            "note": f"{rule['note']}; column {col}"
                            + ("; USGS estimate" if est else ""),
                            "edition": int(rule["edition"]),
                        }
                    )
        if not frames:
            return pd.DataFrame(columns=cols)
        out = pd.DataFrame(frames)
        out = out[
            [
                (m, s, y) not in have
                for m, s, y in zip(out["mineral"], out["stage"], out["year"], strict=True)
            ]
        ]
        newest = out.groupby(["mineral", "stage", "year"])["edition"].transform("max")
        out = out[out["edition"] == newest]
        keys = [c for c in cols if c != "value"]
        summed = out.groupby(keys, as_index=False).agg(value=("value", "sum"))
        return summed[cols]

    def _bgs_refined_shares(self) -> pd.DataFrame:
        """Country shares of refined output from BGS World Mineral Statistics (the copy in
        ``data-src/raw/bgs_wms_refined``: whole per cent of reported output, countries under 1%
        left out), for the minerals and years ``mappings/bgs_refined_shares.csv`` names. What
        the named countries leave of 100% goes to ``OTH``; a code not in the country list is
        added to ``OTH`` as well."""
        cols = [c.name for c in TABLES["production"].columns]
        rules = _csv(self.src / "mappings" / "bgs_refined_shares.csv")
        raw = json.loads(
            (self.src / "raw" / "bgs_wms_refined" / "refined_years.json").read_text("utf-8")
        )
        iso2 = _csv(self.raw / "geopolrisk" / "baci_countries.csv")
        to_iso3 = dict(zip(iso2["iso2"], iso2["iso3"], strict=True))
        rows = []
        for rule in rules.to_dict(orient="records"):
            for year in range(int(rule["first_year"]), int(rule["last_year"]) + 1):
                shares: dict[str, float] = {}
                for entry in raw[str(rule["key"])][str(year)]:
                    code = to_iso3.get(str(entry["c"]), OTHER_COUNTRIES)
                    if code not in self.country_ids:
                        code = OTHER_COUNTRIES
                    shares[code] = shares.get(code, 0.0) + float(entry["v"]) / 100
                rest = 1.0 - sum(shares.values())
                if rest > 1e-9:
                    shares[OTHER_COUNTRIES] = shares.get(OTHER_COUNTRIES, 0.0) + rest
                for country, share in shares.items():
                    rows.append(
                        {
                            "mineral": rule["mineral"],
                            "stage": rule["stage"],
                            "country": country,
                            "year": str(year),
                            "value": round(share, 4),
                            "unit": "fraction",
                            "basis": rule["basis"],
                            "source_id": rule["source_id"],
                            "estimated": "true",
                            "note": f"{rule['note']}, {year}: share of reported output, whole "
                            "per cent (BGS via the OGC API copy in data-src/raw/bgs_wms_refined; "
                            "countries under 1% and the rounding remainder are in OTH)",
                        }
                    )
        return pd.DataFrame(rows, columns=cols)

    def production(self) -> pd.DataFrame:
        usgs = self._usgs_world("Production")
        manual = _concat_manual(self.src / "manual", "stage_production*.csv")
        cols = [c.name for c in TABLES["production"].columns]
        earlier = self._usgs_editions(usgs)
        bgs = self._bgs_refined_shares()
        out = pd.concat(
            [self._wmd_production(), usgs[cols], earlier[cols], bgs[cols], manual[cols]],
            ignore_index=True,
        )
        out = pd.concat([out, self._ree_elements(out)[cols]], ignore_index=True)
        out["value"] = out["value"].astype(str)
        return out[cols]

    def _ree_elements(self, prod: pd.DataFrame) -> pd.DataFrame:
        """Element rows derived from aggregates (see ``critmin.data.elements``): rare earths
        by element (mine output, separation of Nd/Pr/La/Ce and of Sm/Eu, magnets) and PGM
        refining by country of refining."""
        inputs = elements.ReeInputs.read(self.src / "elements")
        ree = prod[prod["mineral"] == "rare_earths"].copy()
        ree["value"] = pd.to_numeric(ree["value"])
        ree["year"] = ree["year"].astype(int)
        reo = ree[(ree["stage"] == "mining") & (ree["country"] != WORLD)]
        # WMD for the years it covers, USGS for the years after (one split per country-year)
        wmd_years = set(reo.loc[reo["source_id"] == WMD, "year"])
        reo = reo[(reo["source_id"] == WMD) | ~reo["year"].isin(wmd_years)]
        mine = elements.ree_mining(reo, inputs)
        if mine.empty:
            return mine.reindex(columns=[c.name for c in TABLES["production"].columns])
        magnet_reo = ree[
            (ree["stage"] == "refining") & ree["basis"].str.contains("magnet REE", regex=False)
        ]
        separated = elements.ree_separation(magnet_reo, mine, inputs)
        covered = elements.ree_separation_by_coverage(
            magnet_reo,
            elements.read_separators(self.src / "elements", set(self.sources()["id"])),
        )
        magnets = elements.inherit(
            ree[ree["stage"] == "magnets"],
            elements.MAGNET_REE,
            "critmin: the element's magnet content is taken to follow the country shares of "
            "sintered NdFeB magnet output (rare_earths magnets rows, same source)",
        )
        pgm = elements.pgm_refining(
            prod[(prod["source_id"] == WMD) & (prod["stage"] == "mining")],
            _csv(self.src / "elements" / "pgm_refining.csv"),
            "JM_PGM_NOTES",
        )
        frames = [mine, separated, covered, magnets, pgm]
        out = pd.concat([f for f in frames if not f.empty], ignore_index=True)
        out["year"] = out["year"].astype(str)
        return out

    def reserves(self) -> pd.DataFrame:
        res = self._usgs_world("Reserves")
        return res[[c.name for c in TABLES["reserves"].columns]]

    def trade(self) -> pd.DataFrame:
        geo = self.raw / "geopolrisk"
        raw = pd.read_csv(geo / "baci_trade.csv", dtype={"hs6": str})
        hs = _csv(self.src / "mappings" / "hs6.csv")
        for code in sorted(set(raw["hs6"]) - set(hs["hs6"])):
            self.log.skip("HS-6 code", code)
        out = raw.merge(hs[["hs6", "mineral", "stage"]], on="hs6", how="inner")
        for col in ("exporter_iso3", "importer_iso3"):
            out[col] = out[col].replace(self.codes)
        known = out["exporter_iso3"].isin(self.country_ids) & out["importer_iso3"].isin(
            self.country_ids
        )
        for code in sorted(
            set(out.loc[~known, "exporter_iso3"]) | set(out.loc[~known, "importer_iso3"])
        ):
            if code not in self.country_ids:
                self.log.skip("BACI country code", str(code))
        out = out[known]
        return pd.DataFrame(
            {
                "year": out["year"],
                "exporter": out["exporter_iso3"],
                "importer": out["importer_iso3"],
                "hs6": out["hs6"],
                "mineral": out["mineral"],
                "stage": out["stage"],
                "value_kusd": out["value_kusd"],
                "quantity_t": out["quantity_t"],
                "source_id": BACI,
            }
        )

    def _salient(self) -> pd.DataFrame:
        rows = self.usgs[self.usgs["Section"].str.startswith("Salient")].copy()
        rows["mineral"] = rows["Commodity"].map(self.mineral_of)
        return rows[rows["mineral"].notna()]

    def us_supply(self) -> pd.DataFrame:
        rows = self._salient()
        rows = rows[rows["Statistics"].isin(US_STATISTIC)].copy()
        parsed = rows["Value"].map(parse_usgs_value)
        rows["num"] = [v for v, _ in parsed]
        rows["qualifier"] = [q for _, q in parsed]
        usable = rows["num"].notna() | (rows["qualifier"] == "net_exporter")
        rows = rows[usable & rows["Unit"].str.strip().isin(USGS_UNITS)]
        unit = rows["Unit"].map(lambda u: USGS_UNITS[u.strip()])
        rows["value"] = rows["num"] * unit.map(lambda x: x[1])
        rows["unit"] = unit.map(lambda x: x[0])
        rows["statistic"] = rows["Statistics"].map(US_STATISTIC)
        rows["detail"] = rows["Commodity"] + ": " + rows["Statistics_detail"]
        rows["estimated"] = "false"
        rows["note"] = rows["Notes"].str.slice(0, 200)
        rows["year"] = rows["Year"].str[:4]
        rows["source_id"] = USGS
        rows = rows.drop_duplicates(["mineral", "year", "statistic", "detail"])
        cols = [c.name for c in TABLES["us_supply"].columns]
        out = pd.concat([rows[cols], self._inherited("us_supply", rows[cols])], ignore_index=True)
        out = pd.concat([out, self._apparent_consumption(out)[cols]], ignore_index=True)
        manual = _optional_manual(self.src / "manual", "us_supply*.csv", cols)
        out = pd.concat([out, manual], ignore_index=True)
        return out.drop_duplicates(["mineral", "year", "statistic", "detail"])

    def _apparent_consumption(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Apparent consumption = production + imports - exports, for the minerals whose
        consumption USGS withholds (``data-src/mappings/us_demand.csv`` names the rows summed);
        marked estimated, and the note says which terms were missing."""
        rules = _csv(self.src / "mappings" / "us_demand.csv")
        out = []
        for rule in rules.to_dict(orient="records"):
            mineral = str(rule["mineral"])
            mine = rows[(rows["mineral"] == mineral) & (rows["unit"] == "t")]
            if (mine["statistic"] == "consumption").any():
                continue
            for year, group in mine.groupby("year"):
                terms: dict[str, float] = {}
                for stat, sign in (("production", 1.0), ("imports", 1.0), ("exports", -1.0)):
                    prefix = str(rule[stat])
                    if not prefix:
                        continue
                    picked = group[
                        (group["statistic"] == stat)
                        & group["detail"].str.startswith(prefix)
                        & group["value"].notna()
                    ]
                    if not picked.empty:
                        terms[stat] = sign * float(picked["value"].sum())
                if "imports" not in terms:
                    continue
                value = sum(terms.values())
                missing = [s for s in ("production", "imports", "exports") if s not in terms]
                out.append(
                    {
                        "mineral": mineral,
                        "year": year,
                        "statistic": "consumption",
                        "detail": f"{mineral}: apparent consumption (critmin: production + "
                        "imports - exports)",
                        "value": max(value, 0.0),
                        "unit": "t",
                        "qualifier": "exact",
                        "source_id": USGS,
                        "estimated": "true",
                        "note": (
                            f"derived from USGS salient statistics; terms used: "
                            f"{', '.join(sorted(terms))}"
                            + (f"; not reported: {', '.join(missing)}" if missing else "")
                            + f". {rule['note']}"
                        )[:400],
                    }
                )
        return pd.DataFrame(out, columns=[c.name for c in TABLES["us_supply"].columns])

    def _inherited(
        self, table: str, rows: pd.DataFrame, have: set[str] | None = None
    ) -> pd.DataFrame:
        """Rows an element takes from its aggregate (data-src/elements/inherit.csv), marked
        estimated, for elements USGS does not report on their own (not in ``have``, by default
        the minerals of ``rows``)."""
        rules = _csv(self.src / "elements" / "inherit.csv")
        rules = rules[rules["table"] == table]
        have = set(rows["mineral"]) if have is None else have
        frames = []
        for rule in rules.to_dict(orient="records"):
            if rule["to_mineral"] in have:
                continue
            match = rows[
                (rows["mineral"] == rule["from_mineral"])
                & rows["detail"].str.contains(str(rule["detail_contains"]), regex=False)
            ].copy()
            match["mineral"] = str(rule["to_mineral"])
            match["estimated"] = "true"
            match["note"] = str(rule["note"])
            frames.append(match)
        return pd.concat(frames, ignore_index=True) if frames else rows.iloc[0:0]

    def import_sources(self) -> pd.DataFrame:
        rows = self.usgs[self.usgs["Section"] == "Import Sources"].copy()
        rows["mineral"] = rows["Commodity"].map(self.mineral_of)
        rows = rows[rows["mineral"].notna()]
        rows["share"] = rows["Value"].map(lambda v: parse_usgs_value(v)[0])
        rows = rows[rows["share"].notna()]
        rows["share"] = rows["share"] / 100.0
        rows["country"] = rows["Country"].map(self.iso3)
        rows = rows[rows["country"].notna()]
        out = pd.DataFrame(
            {
                "mineral": rows["mineral"],
                "period": rows["Year"].str.replace("\u2013", "-"),
                "category": rows["Commodity"] + ": " + rows["Statistics_detail"],
                "country": rows["country"],
                "share": rows["share"],
                "source_id": USGS,
            }
        )
        out = out.drop_duplicates(["mineral", "period", "category", "country"])
        cols = [c.name for c in TABLES["import_sources"].columns]
        manual = _optional_manual(self.src / "manual", "us_import_shares*.csv", cols)
        # elements USGS does not report take their aggregate's sources (USGS's and the manual
        # rows, such as the aggregate's magnet import shares), labelled as such
        both = pd.concat([out, manual], ignore_index=True)
        inherited = self._inherited(
            "import_sources", both.rename(columns={"category": "detail"}), set(out["mineral"])
        )
        inherited = inherited.rename(columns={"detail": "category"})
        inherited["category"] = INHERITED_SOURCES + inherited["category"]
        baci = self._baci_import_sources(set(out["mineral"]))
        return pd.concat([out, inherited[cols], baci[cols], manual], ignore_index=True)

    def _baci_import_sources(self, covered: set[str]) -> pd.DataFrame:
        """U.S. import sources from CEPII BACI (shares of quantity, 2021-2024) for the minerals
        ``data-src/mappings/baci_import_sources.csv`` names and USGS does not cover."""
        rules = _csv(self.src / "mappings" / "baci_import_sources.csv")
        rules = rules[~rules["mineral"].isin(covered)]
        if rules.empty:
            return pd.DataFrame(columns=[c.name for c in TABLES["import_sources"].columns])
        raw = pd.read_csv(self.raw / "geopolrisk" / "baci_trade.csv", dtype={"hs6": str})
        raw = raw[(raw["importer_iso3"] == "USA") & raw["year"].between(2021, 2024)]
        frames = []
        for rule in rules.to_dict(orient="records"):
            codes = str(rule["hs6"]).split()
            rows = raw[raw["hs6"].isin(codes)].copy()
            rows["exporter_iso3"] = rows["exporter_iso3"].replace(self.codes)
            rows = rows[rows["exporter_iso3"].isin(self.country_ids)]
            by = rows.groupby("exporter_iso3")["quantity_t"].sum()
            if by.sum() <= 0:
                continue
            share = (by / by.sum()).sort_values(ascending=False)
            share = share[share >= BACI_PARTNER_MIN]
            frames.append(
                pd.DataFrame(
                    {
                        "mineral": rule["mineral"],
                        "period": "2021-24",
                        "category": f"critmin from CEPII BACI: U.S. imports of HS "
                        f"{', '.join(codes)} by quantity (partners with 1% or more)",
                        "country": share.index,
                        "share": share.to_numpy(),
                        "source_id": BACI,
                    }
                )
            )
        if not frames:
            return pd.DataFrame(columns=[c.name for c in TABLES["import_sources"].columns])
        return pd.concat(frames, ignore_index=True)

    def governance_indicators(self) -> pd.DataFrame:
        """The six WGI estimates (``wgi/wgi_six_dimensions_1996_2023.csv``), long format."""
        path = self.raw / "wgi" / "wgi_six_dimensions_1996_2023.csv"
        if not path.exists():
            self.log.skip("raw file", str(path.relative_to(self.raw)))
            return pd.DataFrame(columns=[c.name for c in TABLES["governance_indicators"].columns])
        raw = _csv(path)
        raw["iso3c"] = raw["iso3c"].replace(self.codes)
        for code in sorted(set(raw["iso3c"]) - self.country_ids):
            self.log.skip("WGI country code", code)
        raw = raw[raw["iso3c"].isin(self.country_ids)]
        dims = [c for c in raw.columns if c.endswith(".EST")]
        long = raw.melt(id_vars=["iso3c", "year"], value_vars=dims, var_name="indicator")
        long = long[~long["value"].isin(["", "NA", "None"])]
        return pd.DataFrame(
            {
                "country": long["iso3c"],
                "year": long["year"],
                "indicator": long["indicator"].str.removesuffix(".EST"),
                "estimate": pd.to_numeric(long["value"]),
                "source_id": WGI6,
            }
        ).drop_duplicates(["country", "year", "indicator"])

    def governance(self) -> pd.DataFrame:
        """EU governance scores: mean of the six WGI (to 2023) and political stability alone
        (the geopolrisk series, to 2024)."""
        raw = _csv(self.raw / "geopolrisk" / "wgi_political_stability.csv")
        raw = raw[~raw["estimate"].isin(["", "None"]) & raw["country_iso3"].isin(self.country_ids)]
        ps = gov.political_stability(
            pd.DataFrame(
                {
                    "country": raw["country_iso3"],
                    "year": raw["year"],
                    "estimate": pd.to_numeric(raw["estimate"]),
                }
            )
        ).assign(source_id=WGI)
        six = self.governance_indicators()
        mean = gov.mean_of_six(six).assign(source_id=WGI6)
        out = pd.concat([mean, ps], ignore_index=True)
        # the scores the exposure metrics read, from 2015 on (the indicators keep the rest)
        return out[pd.to_numeric(out["year"]) >= GOVERNANCE_FROM]

    def prices(self) -> pd.DataFrame:
        rows = self._salient()
        rows = rows[rows["Statistics"] == "Price"].copy()
        rows["num"] = rows["Value"].map(lambda v: parse_usgs_value(v)[0])
        rows = rows[rows["num"].notna() & rows["Unit"].str.strip().isin(USGS_UNITS)]
        unit = rows["Unit"].map(lambda u: USGS_UNITS[u.strip()])
        # USGS gives the unit column as "dollars per metric ton" where the quote is per metric
        # ton UNIT (manganese): the detail says so, and the vocabulary converts USD/mtu
        detail = rows["Statistics_detail"].fillna("")
        unit = pd.Series(
            [
                ("USD/mtu", 1.0)
                if "per metric ton unit" in d and u[0] == "USD/t"
                else ("USD/flask", 1.0)
                if "per flask" in d
                else u
                for u, d in zip(unit, detail, strict=True)
            ],
            index=rows.index,
        )
        rows["note"] = rows["Notes"].str.slice(0, 200)
        estimated = rows["Notes"].fillna("").str.startswith("Estimated")
        out = pd.DataFrame(
            {
                "mineral": rows["mineral"],
                "year": rows["Year"].str[:4],
                "detail": rows["Commodity"] + ": " + rows["Statistics_detail"],
                "value": rows["num"] * unit.map(lambda x: x[1]),
                "unit": unit.map(lambda x: x[0]),
                "source_id": USGS,
                "estimated": estimated.map({True: "true", False: "false"}),
                "note": rows["note"],
            }
        )
        out = out.drop_duplicates(["mineral", "year", "detail"])
        return pd.concat([out, self._inherited("prices", out)], ignore_index=True)

    def recycling(self) -> pd.DataFrame:
        raw = _csv(self.raw / "geopolrisk" / "wmd_commodities.csv")
        cmap = _csv(self.src / "mappings" / "wmd_commodities.csv").set_index("wmd_commodity")
        raw = raw[raw["commodity"].isin(cmap.index) & (raw["eol_rir_2023"] != "")]
        mineral = cmap.loc[raw["commodity"], "mineral"].to_numpy()
        out = pd.DataFrame(
            {
                "mineral": mineral,
                "eol_rir": raw["eol_rir_2023"].to_numpy(),
                "year": "2023",
                "source_id": EOL,
                "note": "EU 2023 CRM study EoL-RIR for WMD commodity " + raw["commodity"],
            }
        )
        out = out[out["mineral"] != ""]
        return out.drop_duplicates(["mineral", "source_id"])

    def _stock_days(self, have: set[tuple[str, str]]) -> pd.DataFrame:
        """``commercial_stock_days`` derived from the USGS stock and consumption rows
        (critmin.data.stock_days; rules in ``data-src/mappings/us_stock_days.csv``; earlier
        editions' rows in ``data-src/manual/us_stock_editions.csv``), on each mineral's
        pre-shock base years, for the minerals without a hand-entered row."""
        rules = _csv(self.src / "mappings" / "us_stock_days.csv")
        parents = {
            str(m): str(p)
            for m, p in zip(self.minerals["id"], self.minerals["parent"], strict=True)
            if p
        }
        shocks = shock_years(library_events(), parents)
        bases = {str(m): base_year(str(m), shocks) for m in rules["mineral"]}
        # rows of earlier USGS editions, for a stock row MCS 2026 no longer carries; used here
        # only (they are not us_supply rows: nothing else reads them as this year's supply)
        editions = _csv(self.src / "manual" / "us_stock_editions.csv")
        rows = pd.concat([self.us_supply(), editions], ignore_index=True)
        derived, skipped = stock_days(rows, rules, bases, USGS)
        for mineral, why in sorted(skipped.items()):
            self.log.skip("commercial stock days (default kept)", f"{mineral}: {why[:60]}")
        keep = [(m, STOCK_DAYS) not in have for m in derived["mineral"]]
        return derived[keep]

    def market_parameters(self) -> pd.DataFrame:
        """Hand-entered sourced rows as entered; then ``commercial_stock_days`` derived from
        the USGS stocks where no hand-entered row exists (:meth:`_stock_days`); rows for
        mineral ``all`` fill every other mineral lacking that parameter (and are marked as the
        critmin default in their note)."""
        path = self.src / "manual" / "market_parameters.csv"
        raw = _csv(path)
        _check_world_market(raw, str(path))
        specific = raw[raw["mineral"] != "all"]
        have = set(zip(specific["mineral"], specific["parameter"], strict=True))
        specific = pd.concat([specific, self._stock_days(have)], ignore_index=True)
        have = set(zip(specific["mineral"], specific["parameter"], strict=True))
        fill = [
            {**row, "mineral": m}
            for row in raw[raw["mineral"] == "all"].to_dict(orient="records")
            for m in sorted(self.mineral_ids)
            if (m, row["parameter"]) not in have
        ]
        return pd.concat([specific, pd.DataFrame(fill)], ignore_index=True)

    def us_demand_stages(self) -> pd.DataFrame:
        """data-src/manual/us_demand_stages.csv, each row's stage checked against the
        mineral's chain (chains.csv): U.S. demand is delivered at a stage the chain has."""
        path = self.src / "manual" / "us_demand_stages.csv"
        rows = _csv(path)
        chains = _csv(self.src / "manual" / "chains.csv")
        have = set(zip(chains["mineral"], chains["stage"], strict=True))
        bad = [
            Problem(str(path), i, "stage", f"{s!r}: not a stage of {m}'s chain (chains.csv)")
            for i, (m, s) in enumerate(zip(rows["mineral"], rows["stage"], strict=True), start=2)
            if (m, s) not in have
        ]
        if bad:
            raise DataError(bad)
        return rows

    def manual(self, name: str) -> Callable[[], pd.DataFrame]:
        return lambda: _csv(self.src / "manual" / f"{name}.csv")

    def tables(self) -> dict[str, pd.DataFrame]:
        makers: dict[str, Callable[[], pd.DataFrame]] = {
            "sources": self.sources,
            "minerals": lambda: self.minerals,
            "stages": self.stages,
            "chains": self.manual("chains"),
            "countries": lambda: self.countries,
            "country_groups": self.manual("country_groups"),
            "commodity_map": self.commodity_map,
            "production": self.production,
            "reserves": self.reserves,
            "trade": self.trade,
            "us_supply": self.us_supply,
            "import_sources": self.import_sources,
            "governance_indicators": self.governance_indicators,
            "governance": self.governance,
            "prices": self.prices,
            "end_uses": self.manual("end_uses"),
            "io_dependency": self.manual("io_dependency"),
            "byproducts": self.manual("byproducts"),
            "recycling": self.recycling,
            "trade_parameters": self.manual("trade_parameters"),
            "demand_shares": self.manual("demand_shares"),
            "us_demand_stages": self.us_demand_stages,
            "market_parameters": self.market_parameters,
            "reserve_forms": self.manual("reserve_forms"),
            "reserve_candidates": self.manual("reserve_candidates"),
            "reserve_eligibility": self.manual("reserve_eligibility"),
            "reserve_needs": self.manual("reserve_needs"),
            "reserve_conversions": self.manual("reserve_conversions"),
            "export_restrictions": self.manual("export_restrictions"),
            "data_gaps": self.manual("data_gaps"),
            **{name: self.manual(name) for name in OUTLOOK_TABLES},
        }
        io, dropped = io_tables(self.raw, self.src)
        for label in dropped:
            self.log.skip("BEA bridge code", label)
        for name, frame in io.items():
            makers[name] = _const(frame)
        out = {}
        for name, make in makers.items():
            frame = make()
            self.log.counts[name] = len(frame)
            out[name] = frame
        return out


def _const(frame: pd.DataFrame) -> Callable[[], pd.DataFrame]:
    return lambda: frame


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> None:
    """Write each table under its declared file name (gzip for compressed tables)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        table = TABLES[name]
        cols = [c.name for c in table.columns]
        # a column that may be empty may be left out, as in a user's file: it is written empty
        missing = [c.name for c in table.columns if c.required and c.name not in frame]
        if missing:
            raise KeyError(f"{name}: required columns {missing} not built")
        data = frame.reindex(columns=cols)
        for col in table.columns:
            if col.kind == "float":
                data[col.name] = pd.to_numeric(data[col.name], errors="coerce")
        if table.compressed:
            data.to_csv(
                out / table.file,
                index=False,
                na_rep="",
                compression={"method": "gzip", "mtime": 0, "compresslevel": 9},
                float_format="%.6g",
            )
        else:
            data.to_csv(out / table.file, index=False, na_rep="", float_format="%.10g")


def build(raw: Path, src: Path, out: Path) -> BuildLog:
    """Build every table, validate them all together, then replace ``out`` atomically."""
    builder = Builder(raw, src)
    tables = builder.tables()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staging = Path(tmp) / "bundled"
        write_tables(tables, staging)
        dataset, problems = collect(base_dir=staging, include_lazy=True)
        if dataset is None:
            raise DataError(problems)
        backup = Path(tmp) / "previous"
        if out.exists():
            out.rename(backup)
        shutil.move(str(staging), str(out))
    return builder.log


def _check_world_market(rows: pd.DataFrame, file: str) -> None:
    """A ``world_market`` row (the mineral's declared market) is a flag: value 0 or 1, unit
    ``flag``; DataError naming the row otherwise."""
    bad: list[Problem] = []
    for i, (name, value, unit) in enumerate(
        zip(rows["parameter"], rows["value"], rows["unit"], strict=True), start=2
    ):
        if str(name) != WORLD_MARKET:
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = float("nan")
        if v not in (0.0, 1.0):
            bad.append(Problem(file, i, "value", f"world_market is a flag (0 or 1), got {value!r}"))
        if str(unit) != "flag":
            bad.append(Problem(file, i, "unit", f"world_market's unit is 'flag', got {unit!r}"))
    if bad:
        raise DataError(bad)
