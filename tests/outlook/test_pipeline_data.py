"""The bundled pipeline covers every chain family named in the issue, each row sourced."""

from __future__ import annotations

from critmin.chain import SupplyChain
from critmin.outlook.capacity import run_outlook
from critmin.outlook.policy import Policy


def test_copper_manganese_and_pgm_have_projects_with_known_sources(bundled: SupplyChain) -> None:
    projects = bundled.dataset["projects"]
    sources = set(bundled.dataset["sources"]["id"])
    for mineral in ("copper", "manganese", "platinum", "palladium"):
        assert (projects["mineral"] == mineral).any(), mineral
    assert set(projects["source_id"]) <= sources


def test_us_recycling_plants_in_the_pipeline(bundled: SupplyChain) -> None:
    result = run_outlook(bundled, Policy(), draws=100, seed=0, minerals=["cobalt"])
    p = result.pipeline.projects
    us = p[(p["kind"] == "recycling") & (p["country"] == "USA")]
    assert {"cobalt", "lithium", "nickel"} <= set(us["mineral"])
    assert (us["chain_capacity"] > 0).all()
    # plants whose input has no stated metal content are listed as skipped, not invented
    skipped = result.pipeline.skipped
    assert "cyclic-mesa" in set(skipped["id"])
