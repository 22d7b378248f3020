"""Colours shared by every chart (matplotlib in the review, plotly.js on the web): a country
looks the same everywhere."""

from __future__ import annotations

#: Fixed colours for the countries that recur, so a country looks the same in every chart.
COUNTRY_COLOURS: dict[str, str] = {
    "CHN": "#c0392b",
    "RUS": "#8e44ad",
    "COD": "#d35400",
    "IDN": "#e67e22",
    "AUS": "#2980b9",
    "USA": "#1f3a93",
    "CAN": "#3498db",
    "CHL": "#16a085",
    "JPN": "#27ae60",
    "KOR": "#2ecc71",
    "ZAF": "#f1c40f",
    "BRA": "#7f8c8d",
    "MYS": "#9b59b6",
    "OTH": "#d5d8dc",
}
PALETTE = ["#5d6d7e", "#a04000", "#117864", "#b7950b", "#6c3483", "#1b4f72", "#784212"]
