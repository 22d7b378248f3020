"""Background outage hazards by country and stage, fed by the security register.

The library's ``background`` hazard gives one yearly outage probability to every producing
country at every stage (an ASSUMPTION). The security register's Gamma-Poisson posterior
(critmin.security.hazard) gives one per (country, stage) instead. A scenario's flat hazard is
rewritten as one hazard per stage, each with the register's probability per country
(``country_probability``) and the prior's probability for a country the register has no node
for; severity, duration, minerals and the countries it spares are kept. The engine
(critmin.simulate.shocks) reads these as it reads any hazard: nothing else changes.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from critmin.scenarios.spec import Hazard, Scenario


def register_hazards(base: Hazard, probability: xr.DataArray, prior: float) -> list[Hazard]:
    """``base`` split by stage: ``probability`` (yearly chance of an outage by country and
    stage) per country, ``prior`` where the register has no value; stages ``probability``
    does not name keep ``base`` at ``prior``."""
    wanted = None if base.stages == "all" else set(base.stages)
    out: list[Hazard] = []
    named: list[str] = []
    for stage in (str(s) for s in probability.stage.values):
        if wanted is not None and stage not in wanted:
            continue
        col = probability.sel(stage=stage)
        rates = {
            str(c): float(v)
            for c, v in zip(col.country.values, col.values, strict=True)
            if np.isfinite(v)
            and abs(float(v) - prior) > 1e-12  # a country at the prior needs no entry
            and (base.countries == "all" or str(c) in base.countries)
        }
        named.append(stage)
        out.append(
            base.model_copy(
                update={
                    "stages": [stage],
                    "annual_probability": prior,
                    "country_probability": rates,
                }
            )
        )
    # the register names every stage with output (the chain model's stages come from the same
    # production table); a listed stage it does not name keeps the prior
    rest = [s for s in (wanted or ()) if s not in named]
    if rest:
        out.append(
            base.model_copy(
                update={"stages": rest, "annual_probability": prior, "country_probability": {}}
            )
        )
    return out


def with_register_hazards(scenario: Scenario, probability: xr.DataArray, prior: float) -> Scenario:
    """``scenario`` with every hazard rewritten by :func:`register_hazards`."""
    hazards: list[Hazard] = []
    for h in scenario.hazards:
        hazards += register_hazards(h, probability, prior)
    description = (
        scenario.description.rstrip()
        + " Outage probabilities by country and stage from the security register "
        "(Gamma-Poisson posterior; critmin.security.hazard)."
    ).strip()
    return scenario.model_copy(
        update={"name": f"{scenario.name}-register", "hazards": hazards, "description": description}
    )
