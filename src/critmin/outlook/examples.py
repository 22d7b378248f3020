"""The outlook tables of the small world (tests, docs, bug reports): two projects, the phase
lead times and one country factor, in the small world's example source."""

from __future__ import annotations

import pandas as pd

from critmin.schema.tables import PROJECT_PHASES, TABLES, THREAT_TYPES

PHASES = {
    # phase: (median years, p90 years, pass probability), mine then plant
    "mine": {
        "exploration": (4.6, 7.0, 0.7),
        "feasibility": (1.41, 2.0, 0.85),
        "permitting": (3.16, 5.0, 0.85),
        "financing": (1.41, 2.0, 0.9),
        "construction": (2.6, 3.95, 0.97),
        "commissioning": (1.0, 1.5, 1.0),
    },
    "plant": {
        "feasibility": (1.41, 2.0, 0.8),
        "permitting": (1.5, 3.0, 0.9),
        "financing": (1.41, 2.0, 0.75),
        "construction": (2.4, 3.6, 0.95),
        "commissioning": (1.0, 1.5, 0.98),
    },
}


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame(columns=[c.name for c in TABLES[name].columns])


def small_outlook_tables(source: str) -> dict[str, pd.DataFrame]:
    """Outlook tables for the small world, citing ``source``."""
    common = {"source_id": source, "estimated": True, "note": "example"}
    projects = pd.DataFrame(
        [
            {
                "id": "aus-cobalt-refinery",
                "name": "Example cobalt refinery",
                "facility": None,
                "mineral": "cobalt",
                "stage": "refining",
                "kind": "primary",
                "country": "AUS",
                "owner": "Example Ltd",
                "capacity": 30.0,
                "unit": "t",
                "basis": "contained cobalt",
                "chain_factor": 1.0,
                "capex_musd": 120.0,
                "status": "permitting",
                "status_year": 2024,
                "announced_start": 2027,
                **common,
            },
            {
                "id": "aus-cobalt-mine",
                "name": "Example cobalt mine",
                "facility": None,
                "mineral": "cobalt",
                "stage": "mining",
                "kind": "primary",
                "country": "AUS",
                "owner": "Example Ltd",
                "capacity": 20.0,
                "unit": "t",
                "basis": "contained cobalt",
                "chain_factor": 1.0,
                "capex_musd": None,
                "status": "feasibility",
                "status_year": 2024,
                "announced_start": None,
                **common,
            },
        ]
    )
    lead = pd.DataFrame(
        [
            {
                "facility_type": kind,
                "phase": phase,
                "median_years": m,
                "p90_years": p90,
                "pass_probability": p,
                **common,
            }
            for kind, phases in PHASES.items()
            for phase, (m, p90, p) in phases.items()
            if phase in PROJECT_PHASES
        ]
    )
    factors = pd.DataFrame([{"facility_type": "mine", "country": "USA", "factor": 1.2, **common}])
    return {
        "facilities": _empty("facilities"),
        "projects": projects,
        "lead_times": lead,
        "lead_time_factors": factors,
        "outlook_references": _empty("outlook_references"),
        "security_incidents": _empty("security_incidents"),
        "recycling_flows": _empty("recycling_flows"),
        "security_priors": pd.DataFrame(
            [
                {"threat": t, "rate_per_year": 0.0083, "strength_years": 5.0, **common}
                for t in sorted(THREAT_TYPES)
            ]
        ),
    }
