"""Read a scenario (a YAML file or a library name), compose library events, validate it all.

Events may be written inline or as ``{use: LIBRARY_EVENT, field: override, ...}``. Labels
(minerals, countries, stages, regions) are checked against the dataset in use. Any problem is
refused with the file, the path to the field and the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from critmin.data.load import Dataset
from critmin.scenarios.spec import (
    ContentRule,
    DemandSurge,
    ExportControl,
    Logistics,
    Outage,
    Release,
    Scenario,
)
from critmin.schema.vocabulary import REGIONS


class ScenarioError(ValueError):
    """A scenario that cannot be used; every line names the file and the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _library() -> Path:
    return Path(str(resources.files("critmin.scenarios") / "library"))


def library_events() -> dict[str, dict[str, Any]]:
    """The event library as raw mappings (validated when a scenario uses them); a fresh copy
    of the file read once per process."""
    return copy.deepcopy(_library_events())


@cache
def _library_events() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((_library() / "events.yaml").read_text(encoding="utf-8"))
    return dict(data)


def library_scenarios() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in (_library() / "scenarios").glob("*.yaml"))


#: The largest scenario file read, and the deepest nesting it may have.
MAX_SCENARIO_BYTES = 2**20
MAX_DEPTH = 20


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that also refuses duplicate keys and nesting deeper than ``MAX_DEPTH``."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the base constructor refuses it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(str(path), [f"larger than {MAX_SCENARIO_BYTES // 1024} KiB"])
        text = path.read_bytes().decode("utf-8")
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(str(path), [f"{where}not valid YAML ({exc.problem})"]) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(str(path), [f"not valid YAML ({exc})"]) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            str(path), [f"byte {exc.start}: not UTF-8 text; save the file as UTF-8"]
        ) from exc
    except RecursionError as exc:
        raise ScenarioError(str(path), ["nested too deeply"]) from exc
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot be read: {exc.strerror}"]) from exc


def _compose(raw: dict[str, Any], source: str) -> dict[str, Any]:
    events = raw.get("events") or {}
    if not isinstance(events, dict):
        raise ScenarioError(source, ["events: must be a mapping of event name to event"])
    library = library_events()
    out: dict[str, Any] = {}
    for name, body in events.items():
        if isinstance(body, dict) and "use" in body:
            base = library.get(str(body["use"]))
            if base is None:
                known = ", ".join(sorted(library))
                raise ScenarioError(
                    source, [f"events.{name}.use: no library event {body['use']!r} ({known})"]
                )
            out[name] = {**base, **{k: v for k, v in body.items() if k != "use"}}
        else:
            out[name] = body
    return {**raw, "events": out}


def _format(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"{loc or '(top level)'}: {err['msg']}")
    return lines


@dataclass(frozen=True)
class Labels:
    """The labels a scenario may name, from the dataset in use."""

    minerals: frozenset[str]
    countries: frozenset[str]
    stages: frozenset[str]

    @classmethod
    def of(cls, ds: Dataset) -> Labels:
        return cls(
            frozenset(ds["minerals"]["id"]),
            frozenset(ds["countries"]["iso3"]),
            frozenset(ds["stages"]["id"]),
        )


def _check(where: str, values: Iterable[str], known: frozenset[str], what: str) -> list[str]:
    return [f"{where}: unknown {what} {v!r}" for v in values if v not in known]


def check_labels(scenario: Scenario, labels: Labels) -> list[str]:
    """Every mineral, country, stage and region an event names must exist."""
    out: list[str] = []
    if scenario.minerals:
        out += _check("minerals", scenario.minerals, labels.minerals, "mineral")
    for name, e in scenario.events.items():
        at = f"events.{name}"
        minerals = [e.mineral] if isinstance(e, Release) else e.minerals
        out += _check(f"{at}.minerals", minerals, labels.minerals, "mineral")
        if isinstance(e, ExportControl | ContentRule | Outage):
            out += _check(f"{at}.country", [e.country], labels.countries, "country")
        if isinstance(e, ExportControl | ContentRule):
            out += _check(f"{at}.stages", e.stages, labels.stages, "stage")
        if isinstance(e, ExportControl) and e.destinations != "all":
            out += _check(f"{at}.destinations", e.destinations, labels.countries, "country")
        if isinstance(e, Outage):
            out += _check(f"{at}.stage", [e.stage], labels.stages, "stage")
        if isinstance(e, Logistics):
            out += _check(f"{at}.between", e.between, labels.countries, "country")
        if isinstance(e, DemandSurge) and e.regions != "all":
            out += _check(f"{at}.regions", e.regions, frozenset(REGIONS), "region")
        if isinstance(e, Release):
            out += _check(f"{at}.region", [e.region], frozenset(REGIONS), "region")
    for i, h in enumerate(scenario.hazards):
        if h.minerals != "all":
            out += _check(f"hazards.{i}.minerals", h.minerals, labels.minerals, "mineral")
        if h.stages != "all":
            out += _check(f"hazards.{i}.stages", h.stages, labels.stages, "stage")
    return out


def parse_scenario(raw: Any, source: str, labels: Labels | None = None) -> Scenario:
    """Validate a raw mapping as a scenario (and its labels, if given)."""
    if not isinstance(raw, dict):
        raise ScenarioError(source, ["(top level): a scenario must be a YAML mapping"])
    try:
        scenario = Scenario.model_validate(_compose(raw, source))
    except ValidationError as exc:
        raise ScenarioError(source, _format(exc)) from exc
    problems = check_labels(scenario, labels) if labels is not None else []
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(name_or_path: str | Path, labels: Labels | None = None) -> Scenario:
    """A scenario from a YAML file, or a bundled one by name (see :func:`library_scenarios`)."""
    path = Path(name_or_path)
    if path.is_dir():
        raise ScenarioError(str(path), ["is a folder, not a scenario file"])
    if not path.exists():
        bundled = _library() / "scenarios" / f"{name_or_path}.yaml"
        if not bundled.exists():
            known = ", ".join(library_scenarios())
            raise ScenarioError(
                str(name_or_path), [f"no such file and no library scenario (library: {known})"]
            )
        path = bundled
    return parse_scenario(_read_yaml(path), str(path), labels)
