"""Scenario files are validated before anything runs; errors name the file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from critmin.chain import SupplyChain
from critmin.scenarios.load import (
    Labels,
    ScenarioError,
    library_events,
    library_scenarios,
    load_scenario,
    parse_scenario,
)


@pytest.fixture(scope="module")
def labels(bundled: SupplyChain) -> Labels:
    return Labels.of(bundled.dataset)


def test_library_scenarios_and_events_validate(labels: Labels) -> None:
    assert {"china-2025-04", "china-2025-10", "background"} <= set(library_scenarios())
    for name in library_scenarios():
        load_scenario(name, labels)
    for name in library_events():
        parse_scenario(
            {"name": "one", "start": "2025-01", "events": {name: {"use": name}}}, name, labels
        )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"use": "china-2025-04", "minerals": ["unobtainium"]},
            "events.e.minerals: unknown mineral 'unobtainium'",
        ),
        ({"use": "china-2025-04", "country": "ZZZ"}, "events.e.country: unknown country 'ZZZ'"),
        (
            {
                "kind": "outage",
                "country": "CHN",
                "minerals": ["cobalt"],
                "stage": "refining",
                "share": 1.5,
                "start": "2025-01",
            },
            "events.e.outage.share: Input should be less than or equal to 1",
        ),
        (
            {"use": "china-2025-04", "start": "2025-13"},
            "events.e.export_control.start: String should match pattern",
        ),
        (
            {
                "kind": "outage",
                "country": "CHN",
                "minerals": ["cobalt"],
                "start": "2025-01",
                "share": 0.5,
            },
            "events.e.outage.stage: Field required",
        ),
        ({"use": "no-such-event"}, "events.e.use: no library event 'no-such-event'"),
        ({"use": "china-2025-04", "approval": []}, "a licensing regime needs an approval path"),
    ],
)
def test_bad_scenarios_are_refused(tmp_path: Path, labels: Labels, event, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "start": "2025-01", "events": {"e": event}}))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, labels)
    assert any(p.startswith(message) or message in p for p in info.value.problems), (
        info.value.problems
    )
    assert str(info.value).startswith(str(path))


def test_yaml_syntax_error_names_line(tmp_path: Path, labels: Labels) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nstart: 2025-01\nevents: {e: [\n")
    with pytest.raises(ScenarioError, match=r"line \d+, column \d+: not valid YAML"):
        load_scenario(path, labels)


def test_uncertainty_target_must_exist(labels: Labels) -> None:
    raw = {
        "name": "s",
        "start": "2025-01",
        "events": {"e": {"use": "china-2025-04"}},
        "uncertainties": [
            {"target": "f.scale", "distribution": {"dist": "uniform", "low": 0, "high": 1}}
        ],
    }
    with pytest.raises(ScenarioError, match="no event named 'f'"):
        parse_scenario(raw, "s", labels)
