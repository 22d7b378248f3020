"""An outlook policy file: the permitting-reform lever, alliance actions and run settings.

A policy is declared data (YAML), validated before anything is computed; a mistake is refused
with the file, the field and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from critmin.data.load import Dataset
from critmin.scenarios.load import ScenarioError, _format, _read_yaml

#: The last year of the outlook.
HORIZON = 2040
#: The permitting lever's key for "every country not named".
ALL_COUNTRIES = "all"


class PolicyError(ValueError):
    """A policy file that cannot be used: the file and one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


Change = Annotated[float, Field(gt=-1.0, le=3.0, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllianceAction(Strict):
    """What a partner group does in a shock: commit a share of its members' capacity to the
    United States, and release pooled stocks (in the chain's basis)."""

    group: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    cut_off_group: str = Field(
        default="feoc",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the countries whose supply to the United States stops in the shock",
    )
    stage: str = Field(default="refining", pattern=r"^[a-z]+$")
    committed_share: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    pooled_stock_t: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="pooled stock released to the U.S. by mineral, t"
    )
    us_requirement_t: dict[str, Annotated[float, Field(gt=0.0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="U.S. yearly requirement by mineral in the stage's basis, t (default: "
        "USGS apparent consumption)",
    )


class Policy(Strict):
    """Settings of one outlook run."""

    name: str = Field(default="base", pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    permitting_change: dict[str, Change] = Field(
        default_factory=dict,
        description="fractional change of the permitting phase by country (ISO3) or 'all': "
        "-0.5 halves it",
    )
    start_year: Annotated[int, Field(ge=2000, le=HORIZON)] = 2024
    end_year: Annotated[int, Field(ge=2000, le=2100)] = HORIZON
    exclude_projects: list[str] = Field(default_factory=list)
    alliance: AllianceAction | None = None

    @field_validator("permitting_change")
    @classmethod
    def _keys(cls, v: dict[str, float]) -> dict[str, float]:
        for key in v:
            if key != ALL_COUNTRIES and not (len(key) == 3 and key.isupper()):
                raise ValueError(f"{key!r} is neither an ISO3 country code nor 'all'")
        return v

    def permitting_factor(self, country: str) -> float:
        """Multiplier of the permitting phase in ``country`` (1 = unchanged)."""
        change = self.permitting_change.get(country, self.permitting_change.get(ALL_COUNTRIES))
        return 1.0 + (change or 0.0)


def parse_policy(
    raw: Any,
    source: str,
    countries: frozenset[str],
    groups: frozenset[str] = frozenset(),
    minerals: frozenset[str] = frozenset(),
) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError(source, ["(top level): must be a mapping of settings"])
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(source, _format(exc)) from exc
    unknown = sorted(set(policy.permitting_change) - countries - {ALL_COUNTRIES})
    if unknown:
        raise PolicyError(source, [f"permitting_change: unknown country {', '.join(unknown)}"])
    if policy.alliance is not None:
        a = policy.alliance
        for field, group in (("group", a.group), ("cut_off_group", a.cut_off_group)):
            if group not in groups:
                known = ", ".join(sorted(groups))
                raise PolicyError(source, [f"alliance.{field}: unknown group {group!r} ({known})"])
        for field, keys in (
            ("pooled_stock_t", a.pooled_stock_t),
            ("us_requirement_t", a.us_requirement_t),
        ):
            bad = sorted(set(keys) - minerals)
            if bad:
                raise PolicyError(source, [f"alliance.{field}: unknown mineral {', '.join(bad)}"])
    if policy.end_year < policy.start_year:
        raise PolicyError(source, ["end_year: must not be before start_year"])
    return policy


def load_policy(
    path: Path,
    countries: frozenset[str],
    groups: frozenset[str] = frozenset(),
    minerals: frozenset[str] = frozenset(),
) -> Policy:
    """Read and validate a policy YAML file against the labels of the dataset in use."""
    try:
        raw = _read_yaml(path)
    except ScenarioError as exc:
        raise PolicyError(str(path), exc.problems) from exc
    return parse_policy(raw, str(path), countries, groups, minerals)


def policy_for(path: Path | None, dataset: Dataset) -> Policy:
    """The policy in ``path`` checked against ``dataset``'s countries, groups and minerals, or
    the base case (no policy) without a path."""
    if path is None:
        return Policy()
    return load_policy(
        path,
        frozenset(dataset["countries"]["iso3"]),
        frozenset(dataset["country_groups"]["group"]),
        frozenset(dataset["minerals"]["id"]),
    )
