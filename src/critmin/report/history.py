"""The review's history: each review's key numbers in a small JSON file next to its output, so
that the next review (and the web overview) can say what changed since the previous review.

``OUT/history.json`` is a list of records, oldest first, each with the date, seed, runs and
inputs of the review and its key numbers: each chain's bottleneck (stage, leader and shares),
the top risks in dollars with their standard error, the reserve plan's spend and expected loss,
and China's refining share at the end of the outlook. Where no earlier review is stored, the
change is taken against the previous data year and labelled so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from critmin.report.findings import Bottleneck, Change

#: The history's file name inside a review's output folder.
HISTORY_FILE = "history.json"
#: Schema version of a record (a reader refuses records of another version).
VERSION = 1


@dataclass(frozen=True)
class Moved:
    """One key number before and after: a share (fraction) or dollars a year."""

    mineral: str
    item: str
    unit: str  # "share" or "usd"
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def weight(self) -> float:
        """How large the move is, comparable across units: points of share, or the relative
        change of a dollar figure (in the same points)."""
        if self.unit == "share":
            return abs(self.delta)
        return abs(self.delta) / max(abs(self.before), 1.0)


@dataclass(frozen=True)
class WhatChanged:
    """What the review and the overview show under "what changed", and against what."""

    basis: str  # "review" (a stored earlier review) or "data-year" (the fallback)
    label: str
    moved: list[Moved]
    year_changes: list[Change]
    note: str = ""


def key_numbers(
    found: Sequence[Bottleneck],
    risks: Sequence[dict[str, Any]],
    reserve: dict[str, Any] | None,
    outlook: Sequence[dict[str, Any]],
    *,
    date: str,
    seed: int,
    runs: int,
    inputs: dict[str, Any],
) -> dict[str, Any]:
    """One review's record: when, with what, and its key numbers."""
    return {
        "version": VERSION,
        "date": date,
        "seed": seed,
        "runs": runs,
        "inputs": inputs,
        "bottlenecks": [asdict(b) for b in found],
        "risks": [
            {
                "mineral": r["mineral"],
                "expected_loss_usd": float(r["expected_loss_usd"]),
                "expected_loss_se_usd": r.get("expected_loss_se_usd"),
            }
            for r in risks
        ],
        "reserve": None
        if reserve is None
        else {
            "spent_usd": float(reserve["spent_usd"]),
            "expected_loss_usd": float(reserve["expected_loss_usd"]),
        },
        "outlook": [dict(o) for o in outlook],
    }


class HistoryError(ValueError):
    """A history file that cannot be read: the file and why."""


def load_history(path: Path) -> list[dict[str, Any]]:
    """The stored records, oldest first ([] where there is no file yet)."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"{path}: not a review history ({exc})") from exc
    if not isinstance(data, list) or not all(
        isinstance(r, dict) and r.get("version") == VERSION for r in data
    ):
        raise HistoryError(f"{path}: not a review history (a list of version-{VERSION} records)")
    return data


def append_history(path: Path, record: dict[str, Any]) -> None:
    """Add ``record`` to the history, written whole or not at all."""
    records = [*load_history(path), record]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(records, indent=1), encoding="utf-8")
    tmp.replace(path)


def compare(previous: dict[str, Any], current: dict[str, Any]) -> list[Moved]:
    """Key numbers that moved between two records, largest first: at each chain's bottleneck
    the leader's, China's and the allies' share; each top risk's expected loss; China's
    refining share at the end of the outlook; the reserve plan's expected loss."""
    out: list[Moved] = []
    before = {b["mineral"]: b for b in previous.get("bottlenecks", [])}
    for b in current.get("bottlenecks", []):
        old = before.get(b["mineral"])
        if old is None:
            continue
        where = b["stage"] if old["stage"] == b["stage"] else f"{old['stage']}->{b['stage']}"
        if old["top_country"] == b["top_country"]:
            out.append(
                Moved(
                    b["mineral"],
                    f"{b['top_country']} share at {where}",
                    "share",
                    old["top_share"],
                    b["top_share"],
                )
            )
        for key, name in (("china_share", "China"), ("allied_share", "allies'")):
            out.append(Moved(b["mineral"], f"{name} share at {where}", "share", old[key], b[key]))
    risks = {r["mineral"]: r for r in previous.get("risks", [])}
    for r in current.get("risks", []):
        old = risks.get(r["mineral"])
        if old is not None:
            out.append(
                Moved(
                    r["mineral"],
                    "expected U.S. loss a year",
                    "usd",
                    old["expected_loss_usd"],
                    r["expected_loss_usd"],
                )
            )
    ahead = {(o["mineral"], o["stage"]): o for o in previous.get("outlook", [])}
    for o in current.get("outlook", []):
        old = ahead.get((o["mineral"], o["stage"]))
        if old is not None and old.get("year") == o.get("year"):
            out.append(
                Moved(
                    o["mineral"],
                    f"China's {o['stage']} share in {o['year']} (outlook)",
                    "share",
                    old["china_share"],
                    o["china_share"],
                )
            )
    if previous.get("reserve") and current.get("reserve"):
        out.append(
            Moved(
                "reserve",
                "expected loss with the plan",
                "usd",
                previous["reserve"]["expected_loss_usd"],
                current["reserve"]["expected_loss_usd"],
            )
        )
    moved = [m for m in out if abs(m.delta) > 1e-9]
    return sorted(moved, key=lambda m: -m.weight)


def what_changed(
    history: list[dict[str, Any]],
    current: dict[str, Any],
    year_changes: list[Change],
    *,
    note: str = "",
    limit: int = 6,
) -> WhatChanged:
    """Against the latest stored review if there is one, else against the previous data year
    (labelled so)."""
    if history:
        previous = history[-1]
        label = (
            f"Since the previous review ({previous['date']}, seed {previous['seed']}, "
            f"{previous['runs']} runs)"
        )
        return WhatChanged("review", label, compare(previous, current)[:limit], [], note)
    label = (
        "No earlier review is stored: the leader's share at each bottleneck against the "
        "previous data year on record"
    )
    return WhatChanged("data-year", label, [], year_changes[:limit], note)
