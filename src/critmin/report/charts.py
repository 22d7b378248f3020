"""Charts for the review, rendered to inline SVG so the page opens offline."""

from __future__ import annotations

import io
import textwrap

import matplotlib as mpl

mpl.use("Agg")
mpl.rcParams["svg.fonttype"] = "none"
mpl.rcParams["svg.hashsalt"] = "critmin"

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from critmin.report.colours import COUNTRY_COLOURS, PALETTE  # noqa: E402


def _svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog), then closed."""
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _colour(country: str, index: int) -> str:
    return COUNTRY_COLOURS.get(country, PALETTE[index % len(PALETTE)])


def stage_shares_svg(shares: pd.DataFrame, title: str, top_n: int = 5) -> str:
    """A horizontal stacked bar per stage: the top countries' shares, the rest as 'others'.

    ``shares``: index = stage (chain order), columns = countries, values = fractions.
    """
    stages = list(shares.index)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(stages) + 1.2))
    left = pd.Series(0.0, index=stages)
    shown: dict[str, str] = {}
    for stage in stages:
        row = shares.loc[stage].dropna().sort_values(ascending=False)
        named = row.drop("OTH", errors="ignore")
        for c in named.index[:top_n]:
            shown.setdefault(str(c), _colour(str(c), len(shown)))
    for country, colour in shown.items():
        vals = shares.get(country, pd.Series(0.0, index=stages)).reindex(stages).fillna(0.0)
        ax.barh(stages, vals, left=left, color=colour, label=country, edgecolor="white")
        for stage in stages:
            if vals[stage] >= 0.07:
                ax.text(
                    left[stage] + vals[stage] / 2,
                    stage,
                    f"{country} {vals[stage]:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
        left += vals
    rest = (1.0 - left).clip(lower=0.0)
    ax.barh(stages, rest, left=left, color="#d5d8dc", label="others", edgecolor="white")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(
        ncol=min(len(shown) + 1, 8),
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        frameon=False,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def fan_svg(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    periods: np.ndarray,
    title: str,
    ylabel: str,
    baseline: float | None = 1.0,
    labels: list[str] | None = None,
    cap: float | None = None,
) -> str:
    """One line per region (median) with its 5-95% band: ``series[name] = (p5, p50, p95)``.
    ``labels``: calendar months for the periods; ``cap``: a ceiling to draw and name."""
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    for i, (name, (lo, mid, hi)) in enumerate(series.items()):
        colour = COUNTRY_COLOURS.get(name, PALETTE[i % len(PALETTE)])
        ax.fill_between(periods, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.plot(periods, mid, color=colour, label=name, linewidth=1.6)
    if baseline is not None:
        ax.axhline(baseline, color="#7f8c8d", linewidth=0.8, linestyle=":")
        y0, y1 = ax.get_ylim()
        ax.set_ylim(min(y0, baseline * 0.9), max(y1, baseline * 1.1))
    if cap is not None and cap > 0 and ax.get_ylim()[1] >= cap * 0.8:
        ax.axhline(cap, color="#a93226", linewidth=0.8, linestyle="--")
        ax.text(
            periods[0],
            cap,
            f" price cap: {cap:g} x baseline (model ceiling)",
            fontsize=8,
            color="#a93226",
            va="bottom",
        )
        ax.set_ylim(ax.get_ylim()[0], max(ax.get_ylim()[1], cap * 1.12))
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel, fontsize=9)
    if labels is not None:
        step = max(1, len(labels) // 6)
        ax.set_xticks(periods[::step], labels[::step])
    else:
        ax.set_xlabel("period", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def bars_svg(values: pd.Series, title: str, xlabel: str) -> str:
    """Horizontal bars, largest at the top (the reserve plan's loss avoided per dollar)."""
    values = values.sort_values()
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(values) + 1.2))
    ax.barh([str(i) for i in values.index], values.to_numpy(float), color="#1f3a93")
    for y, v in enumerate(values.to_numpy(float)):
        ax.text(v, y, f" {v:,.2f}", va="center", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def outlook_svg(
    years: list[int],
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    title: str,
    references: list[tuple[int, float, str]] | None = None,
) -> str:
    """Shares by calendar year, one line (median) and 5-95% band per series; ``references``:
    published projections drawn as labelled points (year, share, label)."""
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    colours = {"China": COUNTRY_COLOURS.get("CHN", PALETTE[0]), "allies": "#1f3a93"}
    for i, (name, (lo, mid, hi)) in enumerate(series.items()):
        colour = colours.get(name, PALETTE[i % len(PALETTE)])
        ax.fill_between(years, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.plot(years, mid, color=colour, label=f"{name} (median, 5-95%)", linewidth=1.6)
    for year, value, label in references or []:
        ax.plot([year], [value], marker="D", color="#7f8c8d", markersize=5, linestyle="none")
        ax.annotate(
            label,
            (year, value),
            fontsize=7,
            color="#566573",
            xytext=(-6, -12),
            ha="right",
            textcoords="offset points",
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.set_ylabel("share of world output", fontsize=9)
    step = max(1, len(years) // 6)
    ax.set_xticks(years[::step], [str(y) for y in years[::step]])
    ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=9, loc="left")
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, frameon=False, loc="best")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)
