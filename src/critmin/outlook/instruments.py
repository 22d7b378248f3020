"""Instruments the reserve optimiser can be offered: each project (mine, plant, recycling
plant) and each partner commitment, with cost, capacity, lead time and completion probability.

Data only: the optimiser (``critmin.optimize``) decides whether and how to use them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.outlook.alliance import members as group_members
from critmin.outlook.capacity import Outlook, base_capacity

COLUMNS = [
    "id",
    "kind",
    "mineral",
    "stage",
    "country",
    "capacity_t_per_year",
    "cost_musd",
    "cost_basis",
    "lead_time_p10_years",
    "lead_time_p50_years",
    "lead_time_p90_years",
    "completion_probability",
    "source_id",
]


def project_instruments(result: Outlook) -> pd.DataFrame:
    """One instrument per project with a chain-basis capacity."""
    p = result.pipeline.projects
    lead = result.draws.lead_time
    q = lead.quantile([0.1, 0.5, 0.9], "draw").to_numpy()
    capex = p["capex_musd"].to_numpy(float)
    return pd.DataFrame(
        {
            "id": p["id"],
            "kind": np.where(p["kind"] == "recycling", "recycling_plant", "project"),
            "mineral": p["mineral"],
            "stage": p["stage"],
            "country": p["country"],
            "capacity_t_per_year": p["chain_capacity"].to_numpy(float),
            "cost_musd": capex,
            "cost_basis": np.where(np.isfinite(capex), "disclosed capex", "not disclosed"),
            "lead_time_p10_years": q[0],
            "lead_time_p50_years": q[1],
            "lead_time_p90_years": q[2],
            "completion_probability": result.pipeline.completion_probability.to_numpy(),
            "source_id": p["source_id"],
        }
    )


def commitment_instruments(chain: SupplyChain, result: Outlook) -> pd.DataFrame:
    """One instrument per mineral for the policy's alliance: the committed share of members'
    current capacity at the alliance's stage (a treaty term, so no cost and no lead time)."""
    action = result.policy.alliance
    if action is None:
        return pd.DataFrame(columns=COLUMNS)
    partners = group_members(chain, action.group) - group_members(chain, action.cut_off_group)
    partners.discard("USA")  # the partners commit to the United States
    rows = []
    chain_minerals = set(chain.dataset["chains"]["mineral"])
    for (mineral, stage), row in base_capacity(chain).values.items():
        if stage != action.stage or mineral not in chain_minerals:
            continue
        volume = action.committed_share * float(row[row.index.isin(partners)].sum())
        if volume <= 0:
            continue
        rows.append(
            {
                "id": f"{action.group}-commitment-{mineral}",
                "kind": "partner_commitment",
                "mineral": mineral,
                "stage": stage,
                "country": action.group,
                "capacity_t_per_year": volume,
                "cost_musd": np.nan,
                "cost_basis": "treaty term (not priced)",
                "lead_time_p10_years": 0.0,
                "lead_time_p50_years": 0.0,
                "lead_time_p90_years": 0.0,
                "completion_probability": 1.0,
                "source_id": "policy file",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def instruments(chain: SupplyChain, result: Outlook) -> pd.DataFrame:
    """Every instrument: projects, recycling plants and partner commitments."""
    parts = [project_instruments(result), commitment_instruments(chain, result)]
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)[COLUMNS]
