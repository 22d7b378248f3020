"""The build: raw releases in, validated tables out, all or nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.data.build import build, parse_usgs_value, snake
from critmin.data.load import collect
from critmin.schema.validate import DataError

REPO = Path(__file__).resolve().parents[1]
USGS_COLS = [
    "MCS chapter",
    "Section",
    "Commodity",
    "Country",
    "Statistics",
    "Statistics_detail",
    "Unit",
    "Year",
    "Value",
    "Notes",
    "Is critical mineral 2025",
    "Other notes",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", (1234.0, "exact")),
        (">95", (95.0, "gt")),
        ("<25", (25.0, "lt")),
        ("E", (None, "net_exporter")),
        ("W", (None, "exact")),
        ("—", (0.0, "exact")),
        ("NA", (None, "exact")),
        ("10,000 - 15,000", (None, "exact")),
    ],
)
def test_usgs_cells(text: str, expected: tuple[float | None, str]) -> None:
    assert parse_usgs_value(text) == expected


def test_snake() -> None:
    assert snake("Graphite (Natural)") == "graphite_natural"


def usgs_row(**kw: str) -> dict[str, str]:
    row = dict.fromkeys(USGS_COLS, "")
    row.update(kw)
    return row


def tiny_raw(root: Path, cobalt_value: str = "226,000") -> Path:
    """A raw folder with the real files' columns and a handful of rows."""
    geo, usgs = root / "geopolrisk", root / "usgs"
    geo.mkdir(parents=True)
    usgs.mkdir()
    rows = [
        usgs_row(
            Section="World Mine Production and Reserves",
            Commodity="Cobalt",
            Country="Congo (Kinshasa)",
            Statistics="Production",
            Statistics_detail="Mine production",
            Unit="metric tons",
            Year="2024",
            Value=cobalt_value,
        ),
        usgs_row(
            Section="World Mine Production and Reserves",
            Commodity="Cobalt",
            Country="Other countries",
            Statistics="Production",
            Statistics_detail="Mine production",
            Unit="metric tons",
            Year="2024",
            Value="76,000",
        ),
        usgs_row(
            Section="Salient Statistics\u2014United States",
            Commodity="Cobalt",
            Country="United States",
            Statistics="Net import reliance",
            Statistics_detail="Net import reliance as a percentage of apparent consumption",
            Unit="percent",
            Year="2024",
            Value="74",
        ),
        usgs_row(
            Section="Salient Statistics\u2014United States",
            Commodity="Cobalt",
            Country="United States",
            Statistics="Price",
            Statistics_detail="Price, average, dollars per pound: LME cash",
            Unit="dollars per pound",
            Year="2024",
            Value="11.84",
        ),
        usgs_row(
            Section="Import Sources",
            Commodity="Cobalt",
            Country="Norway",
            Statistics="Import sources 2021-2024",
            Statistics_detail="Metal",
            Unit="percent",
            Year="2021\u201324",
            Value="26",
        ),
    ]
    pd.DataFrame(rows, columns=USGS_COLS).to_csv(
        usgs / "MCS2026_Commodities_Data.csv", index=False, encoding="cp1252"
    )
    # every country the repo's hand-entered tables name, as the real BACI list has them
    named = {"COD", "CHN", "NOR"}
    for f in (REPO / "data-src" / "manual").glob("*.csv"):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        named |= set(frame.get("country", pd.Series(dtype=str)))
    codes = sorted(c for c in named if len(c) == 3 and c.isupper())
    names = {"COD": "DR Congo", "CHN": "China", "NOR": "Norway"}
    pd.DataFrame(
        {
            "baci_code": range(len(codes)),
            "country": [names.get(c, c) for c in codes],
            "iso2": "",
            "iso3": codes,
        }
    ).to_csv(geo / "baci_countries.csv", index=False)
    pd.DataFrame(
        {
            "country": ["China", "Congo"],
            "country_iso3": ["CHN", "COD"],
            "year": [2024, 2024],
            "estimate": [-0.5, -1.8],
            "std_error": [0.2, 0.2],
            "normalized_0_1": [0.6, 0.9],
        }
    ).to_csv(geo / "wgi_political_stability.csv", index=False)
    pd.DataFrame(
        {
            "commodity": ["Cobalt"],
            "country": ["Congo, D.R."],
            "country_iso3": ["COD"],
            "year": [2023],
            "value": [140121.0],
            "unit": ["metr. t"],
            "flag": ["r"],
        }
    ).to_csv(geo / "wmd_production.csv", index=False)
    pd.DataFrame(
        {
            "commodity": ["Cobalt"],
            "category": ["Non-Ferrous Metals"],
            "reference_id": ["Cobalt"],
            "trade_stage": ["Processing"],
            "symbol": ["Co"],
            "factsheet": [""],
            "eol_rir_2023": ["0.22"],
            "hs_code": ["282200"],
            "hs_code_complementary": [""],
            "hs_description": [""],
        }
    ).to_csv(geo / "wmd_commodities.csv", index=False)
    pd.DataFrame(
        {
            "year": [2024],
            "exporter_iso3": ["COD"],
            "importer_iso3": ["CHN"],
            "hs6": ["282200"],
            "value_kusd": [100.0],
            "quantity_t": [5.0],
        }
    ).to_csv(geo / "baci_trade.csv", index=False)
    tiny_bea(root / "bea")
    return root


def tiny_bea(bea: Path) -> None:
    """A small BEA release with the real files' layout (codes as rows and columns): three
    industries with intermediate flows, plus every other industry the bundled essential product
    lines (io_dependency) name, with output but no intermediate inputs."""
    bea.mkdir()
    base = ["331410", "334413", "335920"]
    named = pd.read_csv(REPO / "data-src" / "manual" / "io_dependency.csv", dtype=str)["industry"]
    extra = sorted(set(named) - set(base))
    codes = base + extra
    names = [
        "Nonferrous metal smelting and refining",
        "Semiconductor manufacturing",
        "Communication and energy wire and cable manufacturing",
    ] + [f"Industry {c}" for c in extra]
    for kind in ("industry", "commodity"):
        col = f"BEA_2017_Detail_{kind.title()}_Code"
        pd.DataFrame({col: codes, col.replace("Code", "Name"): names}).to_csv(
            bea / f"{kind}_codes_2017.csv", index=False
        )
    output = np.array([100.0, 150.0, 80.0] + [100.0] * len(extra))
    flows = np.zeros((len(codes), len(codes)))
    flows[:2, :3] = [[10.0, 5.0, 0.0], [0.0, 20.0, 0.0]]
    value_added = output - flows.sum(axis=0)
    value_added[:3] = [40.0, 60.0, 30.0]
    use = pd.DataFrame(
        np.vstack([flows, value_added, output]),
        index=pd.Index([*codes, "T006", "T008"], name="code"),
        columns=codes,
    )
    use.to_csv(bea / "use_2017_detail_producer_prices.csv")
    make = pd.DataFrame(np.diag(output), index=pd.Index(codes, name="code"), columns=codes)
    make.to_csv(bea / "make_2017_detail.csv")
    (make * 0.1).to_csv(bea / "import_matrix_2017_detail.csv")
    pd.DataFrame({"code": codes, "2023": [120.0, 200.0, 90.0] + [110.0] * len(extra)}).to_csv(
        bea / "gross_output_1997_2023_detail.csv", index=False
    )


def test_build_from_raw_releases(tmp_path: Path) -> None:
    out = tmp_path / "bundled"
    log = build(tiny_raw(tmp_path / "raw"), REPO / "data-src", out)
    assert log.counts["trade"] == 1
    dataset, problems = collect(base_dir=out, include_lazy=True)
    assert problems == []
    assert dataset is not None
    prod = dataset["production"]
    cobalt = prod[(prod["mineral"] == "cobalt") & (prod["stage"] == "mining")]
    assert set(cobalt["source_id"]) == {"WMD_2026", "USGS_MCS2026_DR"}
    usgs = cobalt[cobalt["source_id"] == "USGS_MCS2026_DR"].set_index("country")["value"]
    assert usgs.to_dict() == {"COD": 226000.0, "OTH": 76000.0}
    nir = dataset["us_supply"]
    assert nir.loc[nir["statistic"] == "net_import_reliance", "value"].tolist() == [0.74]
    src = dataset["import_sources"]
    src = src[src["source_id"] == "USGS_MCS2026_DR"]
    assert src[["country", "share", "period"]].values.tolist() == [["NOR", 0.26, "2021-24"]]
    prices = dataset["prices"]
    assert prices.loc[prices["source_id"] == "USGS_MCS2026_DR", "unit"].tolist() == ["USD/lb"]
    assert dataset["recycling"].set_index("mineral")["eol_rir"]["cobalt"] == 0.22
    assert any("Other" not in line for line in log.lines())
    io = dataset["io_industries"].set_index("code")
    assert io.loc["334413", "gross_output"] == 150.0
    flows = dataset["io_flows"]
    assert len(flows[flows["table"] == "use"]) == 3  # zero cells are left out
    assert set(dataset["io_bridge"]["code"]) <= set(io.index)


def test_failed_build_leaves_previous_tables_untouched(tmp_path: Path) -> None:
    out = tmp_path / "bundled"
    build(tiny_raw(tmp_path / "raw"), REPO / "data-src", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tiny_raw(tmp_path / "raw2", cobalt_value="-5")
    with pytest.raises(DataError, match="must be >= 0"):
        build(bad, REPO / "data-src", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_build_bundles_six_governance_dimensions(tmp_path: Path) -> None:
    raw = tiny_raw(tmp_path / "raw")
    (raw / "wgi").mkdir()
    pd.DataFrame(
        {
            "country": ["China", "Congo, Dem. Rep."],
            "iso3c": ["CHN", "ZAR"],
            "year": [2023, 2023],
            "CC.EST": [-0.1, -1.4],
            "GE.EST": [0.5, -1.6],
            "PV.EST": [-0.4, -2.0],
            "RQ.EST": [-0.2, -1.2],
            "RL.EST": [-0.1, -1.5],
            "VA.EST": [-1.6, "NA"],
        }
    ).to_csv(raw / "wgi" / "wgi_six_dimensions_1996_2023.csv", index=False)
    out = tmp_path / "bundled"
    log = build(raw, REPO / "data-src", out)
    dataset, problems = collect(base_dir=out, include_lazy=True)
    assert problems == []
    assert dataset is not None
    ind = dataset["governance_indicators"]
    assert len(ind[ind["country"] == "CHN"]) == 6
    gov = dataset["governance"].set_index(["country", "variant"])
    six = gov.loc[("CHN", "mean_of_six")]
    assert six["estimate"] == pytest.approx((-0.1 + 0.5 - 0.4 - 0.2 - 0.1 - 1.6) / 6)
    assert six["score"] == pytest.approx((2.5 - six["estimate"]) * 2)
    # the political-stability variant comes from the geopolrisk series (2024 rows)
    assert gov.loc[("CHN", "political_stability"), "estimate"] == pytest.approx(-0.5)
    # ZAR (the old code for DR Congo) is mapped by country_codes.csv or logged, never dropped
    # silently
    mapped = ("COD", "mean_of_six") in gov.index
    assert mapped != any("ZAR" in line for line in log.lines())


def test_an_import_form_total_that_is_not_yes_or_no_is_refused(tmp_path: Path) -> None:
    """data-src/mappings/usgs_import_forms.csv: a ``total`` other than yes/no names its file,
    row and column (it decides whether routing reads USGS's total alone)."""
    src = tmp_path / "data-src"
    shutil.copytree(REPO / "data-src", src)
    path = src / "mappings" / "usgs_import_forms.csv"
    forms = pd.read_csv(path, dtype=str, keep_default_na=False)
    forms.loc[0, "total"] = "maybe"
    forms.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"usgs_import_forms\.csv, row 2, column 'total'"):
        build(tiny_raw(tmp_path / "raw"), src, tmp_path / "bundled")
