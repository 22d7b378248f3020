"""Back-tests: replay historical episodes on the engine and set the modelled changes beside the
observed ones, each observation with its source (``scenarios/library/backtests.yaml``).

Each episode's chain is read as of the year before the episode starts (``SupplyChain.as_of``):
world production by stage and country, U.S. demand, net import reliance, import sources and
the price in that year, or where the bundled data do not reach back so far, the earliest year
they have (the 2010 rare-earth quota is replayed on 2018's chain, the bundled data's first
year; each record names its years). The market parameters are today's. An observation
marked ``in_sample`` was used to fit a parameter (the April 2025 approval path), is the
scenario's own input (the 2010 quota), or missed and had a parameter sourced because it did
(the 2025 cobalt suspension: cobalt's plant input stock), so it is shown and never scored.
An episode may name the ``stages`` whose market it replays (the 2010 quota was a quota on
oxides, and the price observed is an oxide price: that market is the chain up to separation,
not the magnets a longer chain sells to consumers).

Score (:func:`score`): the mean absolute log error ``|ln(modelled / observed)|`` over the
observations with both figures positive, out-of-sample and in-sample apart (the in-sample one
is a plumbing check); an observation of 0 (exports that stopped) is shown, not scored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.scenarios.spec import Scenario
from critmin.simulate.engine import Trace, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks


@dataclass(frozen=True)
class Record:
    episode: str
    quantity: str
    unit: str
    observed: float
    modelled: float
    source_id: str
    in_sample: bool
    #: the chain's base year (SupplyChain.base_year, as of the year before the episode) and
    #: the year each stage's production was read in ("mining 2022, refining 2022")
    base_year: int = 0
    production_years: str = ""

    @property
    def error(self) -> float:
        return self.modelled - self.observed

    @property
    def log_error(self) -> float:
        """``ln(modelled / observed)``; NaN where either is not positive."""
        if self.observed > 0 and self.modelled > 0:
            return float(np.log(self.modelled / self.observed))
        return float("nan")


@dataclass(frozen=True)
class Score:
    """Mean absolute log error over the scorable observations of one kind."""

    in_sample: bool
    mean_abs_log_error: float
    scored: int
    unscored: int

    def describe(self) -> str:
        kind = "in-sample (plumbing check)" if self.in_sample else "out-of-sample"
        return (
            f"{kind}: mean |ln(modelled/observed)| = {self.mean_abs_log_error:.3f} over "
            f"{self.scored} observations ({self.unscored} not scorable: an observed 0)"
        )


def score(records: list[Record]) -> tuple[Score, Score]:
    """The out-of-sample score and, apart, the in-sample (plumbing) one."""
    out = []
    for flag in (False, True):
        errs = [abs(r.log_error) for r in records if r.in_sample == flag]
        ok = [e for e in errs if np.isfinite(e)]
        mean = float(np.mean(ok)) if ok else float("nan")
        out.append(Score(flag, mean, len(ok), len(errs) - len(ok)))
    return out[0], out[1]


def episodes() -> dict[str, dict[str, Any]]:
    path = Path(str(resources.files("critmin.scenarios") / "library" / "backtests.yaml"))
    data: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


#: the shortest run of an episode, months (an episode's own span may be shorter)
MIN_MONTHS = 12


@dataclass(frozen=True)
class EpisodeInputs:
    """What one back-test episode runs on (``episode_inputs``)."""

    #: the chain as of the year before the episode starts
    chain: SupplyChain
    scenario: Scenario
    model: ChainModel
    #: one draw (seed 0) of the episode's scenario over ``months``
    shocks: Shocks
    #: the months run: the episode's own span, at least MIN_MONTHS
    months: int
    #: the episode's own span, months (backtests.yaml ``months``)
    span: int


def episode_inputs(chain: SupplyChain, name: str, **changes: Any) -> EpisodeInputs:
    """The chain model and shocks ``critmin backtest`` replays episode ``name`` on: the chain
    as of the year before the episode's start, the episode's mineral and ``stages`` (all
    stages where it names none), one draw of its scenario with seed 0. ``changes`` replace
    fields of the episode's record in backtests.yaml (``scenario``; ``stages``, None for the
    whole chain), for a diagnosis beside the back-test's own run."""
    ep = {**episodes()[name], **changes}
    raw = {"name": name, **ep["scenario"]}
    scenario = parse_scenario(raw, f"backtests.yaml:{name}", Labels.of(chain.dataset))
    as_of = replace(chain, as_of=int(str(ep["scenario"]["start"])[:4]) - 1)
    model = build_model(as_of, ep["mineral"], ep.get("stages"))
    span = int(ep["months"])
    months = max(span, MIN_MONTHS)
    parents = parents_of_dataset(chain.dataset)
    shocks = build_shocks(scenario, model, parents, 1, months, np.random.default_rng(0))
    return EpisodeInputs(as_of, scenario, model, shocks, months, span)


def _measure(model: ChainModel, trace: Trace, base: Trace, m: dict[str, Any]) -> float:
    kind = m["kind"]
    if kind in ("exports", "exports_to"):
        k = model.stages.index(m["stage"])
        o = model.countries.index(m["origin"])
        t = int(m["month"]) - 1
        if kind == "exports":
            got, ref = trace.exports[0, t, k, o], base.exports[0, t, k, o]
        else:
            r = model.regions.index(m["region"])
            got, ref = trace.final[0, t, o, r], base.final[0, t, o, r]
        return float(got / ref) if ref > 0 else float("nan")
    r = model.regions.index(m["region"])
    price = trace.price_ratio[0, :, r]
    if kind == "price_max":
        return float(price[: int(m["months"])].max())
    if kind == "price_mean":
        return float(price[int(m["from"]) - 1 : int(m["to"])].mean())
    raise ValueError(f"backtests.yaml: unknown measure kind {kind!r}")


def backtest(chain: SupplyChain, only: Collection[str] | None = None) -> list[Record]:
    """Every episode's observations (or those of the episodes named in ``only``) against the
    engine's figures."""
    out: list[Record] = []
    for name, ep in episodes().items():
        if only is not None and name not in only:
            continue
        inputs = episode_inputs(chain, name)
        model = inputs.model
        years = ", ".join(
            f"{s} {y}" for s, y in zip(model.stages, model.production_years, strict=True)
        )
        trace = run(model, inputs.shocks)
        base = run(model, Shocks.neutral(model, 1, inputs.months))
        for obs in ep["observations"]:
            out.append(
                Record(
                    episode=name,
                    quantity=str(obs["quantity"]),
                    unit=str(obs["unit"]),
                    observed=float(obs["observed"]),
                    modelled=_measure(model, trace, base, obs["measure"]),
                    source_id=str(obs["source_id"]),
                    in_sample=bool(obs["in_sample"]),
                    base_year=model.base_year,
                    production_years=years,
                )
            )
    return out


def backtest_records(records: list[Record]) -> list[dict[str, Any]]:
    return [
        {
            "episode": r.episode,
            "quantity": r.quantity,
            "unit": r.unit,
            "observed": r.observed,
            "modelled": round(r.modelled, 4) if np.isfinite(r.modelled) else None,
            "error": round(r.error, 4) if np.isfinite(r.error) else None,
            "log_error": round(r.log_error, 4) if np.isfinite(r.log_error) else None,
            "source_id": r.source_id,
            "in_sample": r.in_sample,
            "base_year": r.base_year,
            "production_years": r.production_years,
        }
        for r in records
    ]
