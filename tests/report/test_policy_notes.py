"""The review names the comparison policies cut or scaled to the budget, and why."""

from __future__ import annotations

from critmin.report.review import policy_notes


def test_only_the_policies_with_a_note_are_named() -> None:
    reserve = {
        "policies": [
            {"name": "no reserve", "note": ""},
            {
                "name": "import reliance",
                "note": "scaled to 0.792 of it: $279 exceeds the $200 budget",
            },
            {"name": "60-day cover", "note": ""},
            {"name": "optimised", "note": ""},
        ]
    }
    assert policy_notes(reserve) == [
        "comparison policy import reliance: scaled to 0.792 of it: $279 exceeds the $200 budget"
    ]


def test_a_plan_without_notes_or_no_plan_names_none() -> None:
    assert policy_notes({"policies": [{"name": "no reserve", "expected_loss_usd": 1.0}]}) == []
    assert policy_notes(None) == []
