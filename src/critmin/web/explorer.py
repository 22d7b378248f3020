"""The chain explorer's data: plotly figure specs (plain dicts, drawn by plotly.js in the
browser) for one mineral, with the source and assumptions of every number in its hover text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.metrics.concentration import select
from critmin.records import json_records
from critmin.report.colours import COUNTRY_COLOURS, PALETTE
from critmin.report.numbers import num, pct
from critmin.schema.vocabulary import BACI_SOURCE, OTHER_COUNTRIES
from critmin.web.state import WebState

TOP_N = 6
LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "font": {"size": 13},
    "legend": {"orientation": "h", "y": -0.15},
    "autosize": True,
}


def colour(country: str, index: int) -> str:
    return COUNTRY_COLOURS.get(country, PALETTE[index % len(PALETTE)])


def source_line(state: WebState, source_id: str) -> str:
    s = state.sources.get(source_id)
    if s is None:
        return f"source {source_id}"
    return f"source: {s['title']} ({s['publisher']}, {s['year']})"


@dataclass(frozen=True)
class _Lookup:
    source: dict[tuple[Any, ...], str]
    share: dict[tuple[Any, ...], float]
    rows: dict[tuple[str, int, str], dict[str, Any]]


class Explorer:
    """Figures and tables for one mineral, memoised per (mineral, year, stage)."""

    def __init__(self, state: WebState) -> None:
        self.state = state
        self.figures = lru_cache(maxsize=512)(self._figures)
        self.lookup = lru_cache(maxsize=256)(self._lookup)

    def _rows(self, mineral: str) -> pd.DataFrame:
        """The production rows the chain chose (its source per mineral, stage and year)."""
        chain = self.state.chain()
        prod = chain.dataset["production"]
        rows = prod[prod["mineral"] == mineral]
        chosen = chain.source.sel(mineral=mineral).to_series().dropna().reset_index()
        chosen.columns = ["stage", "year", "source_id"]
        return rows.merge(chosen, on=["stage", "year", "source_id"])

    def _lookup(self, mineral: str) -> _Lookup:
        """Dictionaries for one mineral's hover text (built once per mineral)."""
        chain = self.state.chain()
        src = chain.source.sel(mineral=mineral).to_series().dropna()
        share = self.state.shares.sel(mineral=mineral).to_series().dropna()
        rows = self._rows(mineral)
        return _Lookup(
            source={_key(k): str(v) for k, v in src.items()},
            share={_key(k): float(v) for k, v in share.items()},
            rows={
                (str(r["stage"]), int(r["year"]), str(r["country"])): r for r in json_records(rows)
            },
        )

    def _figures(self, mineral: str, year: int | None, stage: str | None) -> dict[str, Any]:
        chain = self.state.chain()
        names = self.state.country_names
        sel = select(chain, mineral=[mineral], year=year)
        shares = sel.shares.sel(mineral=mineral)
        stages = [
            s for s in shares.stage.values.tolist() if bool(shares.sel(stage=s).notnull().any())
        ]
        years = {s: int(shares.year.sel(stage=s)) for s in stages}
        table = self.state.exposure if year is None else None
        if table is None:
            from critmin.metrics.exposure import exposure_table

            table = exposure_table(chain, mineral=[mineral], year=year)
        table = table[table["mineral"] == mineral]
        bottleneck = table.loc[table["bottleneck"], "stage"]
        focus = stage if stage in stages else (str(bottleneck.iloc[0]) if len(bottleneck) else None)
        if focus is None and stages:
            focus = stages[0]

        # -- stage x country shares ----------------------------------------------------------
        frame = _table(shares.sel(stage=stages).transpose("country", "stage"))
        totals = frame.drop(index=OTHER_COUNTRIES, errors="ignore").fillna(0).max(axis="columns")
        top = [str(c) for c in totals.sort_values(ascending=False).index[: TOP_N + 2]]
        top = [c for c in top if totals[c] > 0][:TOP_N]
        traces: list[dict[str, Any]] = []
        for i, c in enumerate(top):
            row = frame.loc[c].reindex(stages).fillna(0.0)
            vals: list[float] = [float(v) for v in row.to_numpy(dtype=float)]
            hover = [self._hover(mineral, s, years[s], c) for s in stages]
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": names.get(c, c),
                    "y": [f"{s} ({years[s]})" for s in stages],
                    "x": [round(float(v) * 100, 2) for v in vals],
                    "marker": {"color": colour(c, i)},
                    "text": [f"{c} {v:.0%}" if v >= 0.08 else "" for v in vals],
                    "textposition": "inside",
                    # fixed, unscaled labels: plotly need not try angles and sizes per bar
                    "textangle": 0,
                    "constraintext": "none",
                    "insidetextanchor": "middle",
                    "hovertext": hover,
                    "hoverinfo": "text",
                }
            )
        rest = [max(0.0, 100 - sum(t["x"][k] for t in traces)) for k in range(len(stages))]
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "others",
                "y": [f"{s} ({years[s]})" for s in stages],
                "x": rest,
                "marker": {"color": "#d5d8dc"},
                "hovertext": [
                    f"all other producers: {r:.1f}% (incl. unattributed)<br>"
                    + source_line(
                        self.state,
                        self.lookup(mineral).source.get((s, years[s]), ""),
                    )
                    for s, r in zip(stages, rest, strict=True)
                ],
                "hoverinfo": "text",
            }
        )
        mineral_name = self.state.names.get(mineral, mineral)
        labels = [f"{s} ({years[s]})" for s in stages]
        stage_fig = {
            "data": traces,
            "layout": {
                **LAYOUT,
                # a left margin fitted to the labels, not automargin (which lays the chart out
                # twice on every redraw)
                "margin": {**LAYOUT["margin"], "l": _label_margin(labels)},
                "barmode": "stack",
                "title": {"text": f"{mineral_name}: share of output by stage (%)"},
                "xaxis": {"range": [0, 100], "ticksuffix": "%", "fixedrange": True},
                "yaxis": {"autorange": "reversed", "automargin": False, "fixedrange": True},
                "height": 120 + 48 * max(1, len(stages)),
            },
        }

        # -- world map at the focus stage --------------------------------------------------------
        map_fig: dict[str, Any] = {"data": [], "layout": {**LAYOUT}}
        if focus is not None:
            col = frame[focus].dropna().drop(index=OTHER_COUNTRIES, errors="ignore")
            col = col[col > 0]
            map_fig = {
                "data": [
                    {
                        "type": "choropleth",
                        "locationmode": "ISO-3",
                        "locations": [str(c) for c in col.index],
                        "z": [round(float(v) * 100, 2) for v in col.values],
                        "colorscale": "Reds",
                        "zauto": False,
                        "zmin": 0,
                        "zmax": round(float(col.max()) * 100, 2),
                        "colorbar": {"ticksuffix": "%", "len": 0.8, "thickness": 12},
                        "hovertext": [
                            self._hover(mineral, focus, years[focus], str(c)) for c in col.index
                        ],
                        "hoverinfo": "text",
                    }
                ],
                "layout": {
                    **LAYOUT,
                    "title": {"text": f"{focus} ({years[focus]}): share by country"},
                    "geo": {
                        "projection": {"type": "natural earth"},
                        "fitbounds": False,
                        "lataxis": {"range": [-58, 85]},
                        "lonaxis": {"range": [-180, 180]},
                        "showframe": False,
                        # coastlines, and the borders of the countries shaded; the layer of
                        # every country's border would be redrawn on each update (~50 ms)
                        "showcoastlines": True,
                        "coastlinecolor": "#999",
                        "showcountries": False,
                    },
                    "height": 420,
                },
            }

        # -- time series: shares of the leading countries, HHI and HHI-WGI by year ---------------
        series = self.series(mineral, focus)
        imports = self.imports(mineral)
        return {
            "mineral": mineral,
            "name": mineral_name,
            "stages": stages,
            "stage": focus,
            "years": sorted({int(y) for y in chain.production.year.values}),
            "figures": {
                "stages": stage_fig,
                "map": map_fig,
                "share_series": series["shares"],
                "hhi_series": series["hhi"],
                "imports": imports,
            },
            "table": json_records(table),
        }

    def _hover(self, mineral: str, stage: str, year: int, country: str) -> str:
        names = self.state.country_names
        look = self.lookup(mineral)
        sid = look.source.get((stage, year), "")
        share = look.share.get((stage, country, year))
        parts = [f"<b>{names.get(country, country)}</b> · {stage} {year}: {pct(share, 1)}"]
        row = look.rows.get((stage, year, country))
        if row is not None:
            parts.append(f"{num(row['value'])} {row['unit']} ({row['basis']})")
            if bool(row["estimated"]):
                parts.append("estimated")
            note = row["note"]
            if isinstance(note, str) and note:
                parts.append(_wrap(note))
        parts.append(_wrap(source_line(self.state, sid)))
        return "<br>".join(parts)

    def series(self, mineral: str, stage: str | None) -> dict[str, dict[str, Any]]:
        names = self.state.country_names
        shares = self.state.shares.sel(mineral=mineral)
        years = [int(y) for y in shares.year.values]
        share_traces: list[dict[str, Any]] = []
        if stage is not None:
            st = _table(shares.sel(stage=stage).transpose("country", "year"))
            st = st.drop(index=OTHER_COUNTRIES, errors="ignore")
            has = [y for y in years if bool(st[y].notna().any())]
            peak = st[has].max(axis="columns").dropna()
            lead = peak[peak > 0].sort_values(ascending=False).index[:TOP_N]
            for i, c in enumerate(lead):
                share_traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": names.get(str(c), str(c)),
                        "x": has,
                        "y": [_round(st.loc[c, y] * 100) for y in has],
                        "line": {"color": colour(str(c), i)},
                        "customdata": [
                            _wrap(
                                source_line(
                                    self.state,
                                    self.lookup(mineral).source.get((stage, y), ""),
                                )
                            )
                            for y in has
                        ],
                        "hovertemplate": f"{c} %{{x}}: %{{y:.1f}}%<br>%{{customdata}}"
                        "<extra></extra>",
                    }
                )
        hhi: dict[str, list[float | None]] = {}
        wgi: dict[str, list[float | None]] = {}
        for y, ds in self.state.yearly.items():
            if y not in years or mineral not in ds.mineral.values:
                continue
            for s in ds.stage.values.tolist():
                ok = int(ds["year"].sel(mineral=mineral, stage=s)) >= 0
                hhi.setdefault(s, [None] * len(years))[years.index(y)] = (
                    _round(float(ds["hhi"].sel(mineral=mineral, stage=s))) if ok else None
                )
                wgi.setdefault(s, [None] * len(years))[years.index(y)] = (
                    _round(float(ds["hhi_wgi"].sel(mineral=mineral, stage=s)), 3) if ok else None
                )
        hhi_traces: list[dict[str, Any]] = []
        for i, s in enumerate(hhi):
            if not any(v is not None for v in hhi[s]):
                continue
            c = PALETTE[i % len(PALETTE)]
            hhi_traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{s} HHI",
                    "x": years,
                    "y": hhi[s],
                    "line": {"color": c},
                    "connectgaps": False,
                    "hovertemplate": f"{s} %{{x}}: HHI %{{y:,.0f}}<extra></extra>",
                }
            )
            hhi_traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{s} HHI-WGI",
                    "x": years,
                    "y": wgi[s],
                    "yaxis": "y2",
                    "line": {"color": c, "dash": "dot"},
                    "connectgaps": False,
                    "hovertemplate": f"{s} %{{x}}: HHI-WGI %{{y:.2f}} (0-10)<extra></extra>",
                }
            )
        return {
            "shares": {
                "data": share_traces,
                "layout": {
                    **LAYOUT,
                    "title": {"text": f"{stage}: share of the leading countries by year"},
                    "yaxis": {
                        "ticksuffix": "%",
                        "rangemode": "tozero",
                        "fixedrange": True,
                        "automargin": True,
                    },
                    "xaxis": {"dtick": 1, "fixedrange": True},
                    "height": 360,
                },
            },
            "hhi": {
                "data": hhi_traces,
                "layout": {
                    **LAYOUT,
                    "title": {"text": "HHI (solid, 0-10,000) and governance-weighted HHI (dotted)"},
                    "yaxis": {
                        "title": {"text": "HHI"},
                        "rangemode": "tozero",
                        "fixedrange": True,
                        "automargin": True,
                    },
                    "yaxis2": {
                        "title": {"text": "HHI-WGI"},
                        "overlaying": "y",
                        "side": "right",
                        "automargin": True,
                        "rangemode": "tozero",
                        "fixedrange": True,
                    },
                    "xaxis": {"dtick": 1, "fixedrange": True},
                    "height": 380,
                },
            },
        }

    def imports(self, mineral: str) -> dict[str, Any]:
        """U.S. import sources as USGS reports them (by category), beside BACI's value shares."""
        names = self.state.country_names
        usgs = self.state.chain().dataset["import_sources"]
        usgs = usgs[usgs["mineral"] == mineral]
        traces = []
        for i, ((category, period, sid), g) in enumerate(
            usgs.groupby(["category", "period", "source_id"], sort=True)
        ):
            g = g.sort_values("share")  # noqa: PLW2901
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": f"USGS {period}: {category}",
                    "y": [names.get(str(c), str(c)) for c in g["country"]],
                    "x": [_round(float(v) * 100) for v in g["share"]],
                    "marker": {"color": PALETTE[i % len(PALETTE)]},
                    "hovertemplate": f"%{{y}}: %{{x:.0f}}% of U.S. imports ({category}, "
                    f"{period})<br>{_wrap(source_line(self.state, str(sid)))}<extra></extra>",
                }
            )
        baci = self.state.baci
        b = baci[baci["mineral"] == mineral].head(8).iloc[::-1]
        if len(b):
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": "BACI 2021-24, by value",
                    "y": [names.get(str(c), str(c)) for c in b["exporter"]],
                    "x": [_round(float(v) * 100) for v in b["share"]],
                    "marker": {"color": "#95a5a6"},
                    "hovertemplate": "%{y}: %{x:.1f}% of U.S. imports by value, 2021-24<br>"
                    + _wrap(source_line(self.state, BACI_SOURCE))
                    + "<extra></extra>",
                }
            )
        return {
            "data": traces,
            "layout": {
                **LAYOUT,
                "barmode": "group",
                "title": {"text": "U.S. import sources (%)"},
                "xaxis": {"ticksuffix": "%", "fixedrange": True},
                "yaxis": {"automargin": True, "fixedrange": True},
                "height": 200 + 22 * sum(len(t["y"]) for t in traces),
            },
        }


def _key(k: Any) -> tuple[Any, ...]:
    """A (stage, ..., year) index entry as plain Python values (the year as an int)."""
    return (*(str(x) for x in k[:-1]), int(k[-1]))


def _table(arr: xr.DataArray) -> pd.DataFrame:
    """A two-dimensional labelled array as a frame (rows: first dimension)."""
    rows, cols = arr.dims
    return pd.DataFrame(
        arr.values, index=arr[rows].values.tolist(), columns=arr[cols].values.tolist()
    )


def _label_margin(labels: list[str], font: int = 13) -> int:
    """Pixels for the longest axis label (about 0.6 em a character) plus a gap."""
    return int(max((len(x) for x in labels), default=4) * font * 0.6) + 12


def _round(v: Any, digits: int = 2) -> float | None:
    x = float(v)
    return None if np.isnan(x) else round(x, digits)


def _wrap(text: str, width: int = 60) -> str:
    """Break long hover text into lines (plotly does not wrap)."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return "<br>".join(lines)
