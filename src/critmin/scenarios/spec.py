"""Scenario files as validated data: named events, declared uncertainties, background hazards.

A scenario is a list of small, named events (calliope-style overrides of a library), plus the
distributions that make it an ensemble. Every field is checked before anything is computed.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Month = Annotated[
    str, Field(pattern=r"^(19|2[0-1])\d{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, 1900-2199")
]
#: The longest event or outage, in months (50 years).
MAX_MONTHS = 600
#: Bounds on any number in a distribution (far beyond any tonnage, price or factor used).
LIMIT = 1e12


class Regime(StrEnum):
    """How an export control works: no exports, or exports as licences are approved."""

    BAN = "ban"
    LICENSING = "licensing"


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class Strict(BaseModel):
    """No unknown fields; no NaN or infinity in any number."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled with the names of the fields set in sorted order, not in the process's
        string-hash order: an equal model pickles to the same bytes in every process (the
        ensemble driver names the context it ships to Dask workers by that hash)."""
        state = super().__getstate__()
        return {**state, "__pydantic_fields_set__": sorted(state["__pydantic_fields_set__"])}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        names = set(state["__pydantic_fields_set__"])
        super().__setstate__({**state, "__pydantic_fields_set__": names})


def month_index(month: str) -> int:
    """Months since year 0 for a 'YYYY-MM' string (for period arithmetic)."""
    d = dt.date.fromisoformat(f"{month}-01")
    return d.year * 12 + d.month - 1


class EventBase(Strict):
    """Fields every event has: when it starts and, optionally, how long it lasts."""

    start: Month
    duration_months: Annotated[int, Field(ge=1, le=MAX_MONTHS)] | None = None
    probability: Share = Field(
        default=1.0, description="annual probability, used when ranking minerals by risk"
    )
    state: Literal["in_force", "tightened", "suspended", "lifted"] | None = Field(
        default=None, description="where a library regime stands (critmin.scenarios.probability)"
    )
    sets_base_year: bool = Field(
        default=True,
        description="whether the regime marks its minerals' pre-shock base year "
        "(critmin.economics.price.shock_years); false where the base year's market already "
        "reflects it and no pre-regime year is in the data",
    )
    note: str = ""


class ExportControl(EventBase):
    """A country restricts exports of minerals at some stages, to all or some destinations."""

    kind: Literal["export_control"]
    country: str
    minerals: list[str] = Field(min_length=1)
    stages: list[str] = Field(min_length=1)
    destinations: list[str] | Literal["all"] = "all"
    regime: Regime
    approval: list[Share] = Field(
        default_factory=list,
        description="monthly licence approval rate from the start; the last value persists",
    )
    coverage: Share = Field(default=1.0, description="share of the flow the control reaches")
    tightening_stages: Literal["major", "own"] = Field(
        default="major",
        description="the stages a new restriction by the country reaches when this regime "
        "shapes it (critmin.simulate.disruptions): every stage it is a major supplier of (a "
        "strategic control), or only this regime's (a raw-material ban that keeps processed "
        "exports open)",
    )

    @model_validator(mode="after")
    def _approval_matches_regime(self) -> ExportControl:
        if self.regime is Regime.LICENSING and not self.approval:
            raise ValueError("a licensing regime needs an approval path (monthly rates)")
        if self.regime is Regime.BAN and self.approval:
            raise ValueError("a ban has no approval path (use regime: licensing)")
        return self


class ContentRule(EventBase):
    """Extraterritorial rule: third-country output whose traced content from ``country``
    exceeds ``threshold`` falls under that country's regime for the same minerals."""

    kind: Literal["content_rule"]
    country: str
    minerals: list[str] = Field(min_length=1)
    stages: list[str] = Field(min_length=1)
    threshold: Share = 0.001
    regime: Regime = Regime.LICENSING
    approval: list[Share] = Field(default_factory=list)


class Outage(EventBase):
    """Lost capacity of a country at a stage (share of capacity, for a duration)."""

    kind: Literal["outage"]
    country: str
    minerals: list[str] = Field(min_length=1)
    stage: str
    share: Share


class DemandSurge(EventBase):
    """Demand for a mineral rises by ``factor`` in some regions (e.g. defense mobilisation)."""

    kind: Literal["demand_surge"]
    minerals: list[str] = Field(min_length=1)
    regions: list[str] | Literal["all"] = "all"
    sector: str = "all"
    factor: Annotated[float, Field(gt=0.0, le=10.0)]


class Logistics(EventBase):
    """Shipping between two countries cut by ``share`` (both directions)."""

    kind: Literal["logistics"]
    minerals: list[str] = Field(min_length=1)
    between: tuple[str, str]
    share: Share


class Release(EventBase):
    """A holder releases stock into a region: tonnes per month."""

    kind: Literal["release"]
    mineral: str
    region: str
    holder: str = "reserve"
    tonnes_per_month: Annotated[float, Field(ge=0.0, le=LIMIT)]


Event = Annotated[
    ExportControl | ContentRule | Outage | DemandSurge | Logistics | Release,
    Field(discriminator="kind"),
]


class Distribution(Strict):
    """A declared distribution; parameters as scipy.stats names them."""

    dist: Literal["uniform", "triangular", "normal", "lognormal", "beta", "choice"]
    low: Annotated[float, Field(ge=-LIMIT, le=LIMIT)] | None = None
    high: Annotated[float, Field(ge=-LIMIT, le=LIMIT)] | None = None
    mode: Annotated[float, Field(ge=-LIMIT, le=LIMIT)] | None = None
    mean: Annotated[float, Field(ge=-LIMIT, le=LIMIT)] | None = None
    sd: Annotated[float, Field(gt=0.0, le=LIMIT)] | None = None
    a: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    b: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    values: (
        Annotated[list[Annotated[float, Field(ge=-LIMIT, le=LIMIT)]], Field(min_length=1)] | None
    ) = None

    def support(self) -> tuple[float, float] | None:
        """The range of values drawn, where the parameters bound it."""
        if self.dist in {"uniform", "triangular"} and self.low is not None:
            return (self.low, self.high if self.high is not None else self.low)
        if self.dist == "choice" and self.values:
            return (min(self.values), max(self.values))
        if self.dist == "beta":
            return (0.0, 1.0)
        if self.mean is not None:  # normal, lognormal: at least the centre must be in range
            return (self.mean, self.mean)
        return None

    def within(self, low: float, high: float, what: str) -> None:
        span = self.support()
        if span is not None and (span[0] < low or span[1] > high):
            raise ValueError(
                f"{what} draws from {span[0]:g}..{span[1]:g}, outside {low:g}..{high:g}"
            )

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("mean", "sd"),
            "beta": ("a", "b"),
            "choice": ("values",),
        }[self.dist]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.dist} needs {', '.join(missing)}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class Uncertainty(Strict):
    """A distribution for one numeric field of one event: ``event.field`` (``scale`` multiplies
    an approval path; ``start_shift_months`` moves the start)."""

    target: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+\.[a-z_]+$")]
    distribution: Distribution


class Hazard(Strict):
    """Random background outages per supplier and stage: yearly probability, duration, severity."""

    minerals: list[str] | Literal["all"] = "all"
    stages: list[str] | Literal["all"] = "all"
    countries: list[str] | Literal["all"] = "all"
    exclude_countries: list[str] = Field(
        default_factory=list, description="countries the hazard spares (e.g. USA: foreign only)"
    )
    annual_probability: Share
    country_probability: dict[str, Share] = Field(
        default_factory=dict,
        description="annual probability per country, where it differs from annual_probability",
    )
    duration_months: Distribution
    severity: Distribution

    @model_validator(mode="after")
    def _ranges(self) -> Hazard:
        self.duration_months.within(0.0, MAX_MONTHS, "duration_months")
        self.severity.within(0.0, 1.0, "severity")
        return self


#: The range a drawn value of each field must stay in.
RANGES: dict[str, tuple[float, float]] = {
    "duration_months": (1.0, MAX_MONTHS),
    "start_shift_months": (-MAX_MONTHS, MAX_MONTHS),
    "share": (0.0, 1.0),
    "severity": (0.0, 1.0),
    "probability": (0.0, 1.0),
    "threshold": (0.0, 1.0),
    "scale": (0.0, 100.0),
    "factor": (0.0, 10.0),
    "tonnes_per_month": (0.0, LIMIT),
}


class Scenario(Strict):
    """A named list of events (library names with overrides, or inline), an ensemble set-up."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]
    description: str = ""
    start: Month
    minerals: list[str] | None = Field(
        default=None, description="chains to simulate (default: every mineral an event names)"
    )
    events: dict[str, Event] = Field(default_factory=dict)
    uncertainties: list[Uncertainty] = Field(default_factory=list)
    hazards: list[Hazard] = Field(default_factory=list)

    @field_validator("events")
    @classmethod
    def _names(cls, v: dict[str, Event]) -> dict[str, Event]:
        for name in v:
            if not name or any(ch.isspace() for ch in name):
                raise ValueError(f"event name {name!r} must be a non-empty word")
        return v

    @model_validator(mode="after")
    def _targets_exist(self) -> Scenario:
        for u in self.uncertainties:
            event, _, fieldname = u.target.rpartition(".")
            if event not in self.events:
                raise ValueError(f"uncertainty target {u.target!r}: no event named {event!r}")
            allowed = set(type(self.events[event]).model_fields) | {"scale", "start_shift_months"}
            if fieldname not in allowed:
                raise ValueError(f"uncertainty target {u.target!r}: no field {fieldname!r}")
            bounds = RANGES.get(fieldname)
            if bounds is not None:
                u.distribution.within(*bounds, f"uncertainty target {u.target!r}")
        return self

    def event_minerals(self) -> list[str]:
        """Every mineral an event names, in first-mention order."""
        out: list[str] = []
        for e in self.events.values():
            names = [e.mineral] if isinstance(e, Release) else list(e.minerals)
            out.extend(m for m in names if m not in out)
        return out
