"""The set of foreign disruptions a mineral faces in a year: what `rank`, `optimize` and
`backtest` draw from (one event set, one rate convention: critmin.scenarios.probability).

Per chain mineral:
- an export restriction by every major foreign supplier (≥ 10% of a stage) on the stages it is
  major in, at its Gamma-Poisson rate λ_cm (governance, share, and its own and its country's
  restriction record: critmin.scenarios.probability), starting in a
  uniformly drawn month of the year, shaped as the supplier's own latest library regime on the
  mineral (DR Congo's cobalt: its 2025 quota, 44% of prior exports; Indonesia's nickel: its
  2020 ore ban, on the mining stage only) or, without one, a licensing regime on the approval
  path fitted to the April 2025 magnet exports;
- the library regimes that name the mineral, at the rate their state implies (a suspended
  regime may return);
- an outage of every major foreign supplier at each stage it is major in (the background
  hazard's severity and duration), at governance-scaled rates by country, times the security
  register's evidence for that country and stage (its Gamma-Poisson posterior over its prior,
  critmin.security.hazard; 1 where the register has observed nothing) (outages of minor
  suppliers, below 10% of a stage, are left out: spare capacity and stocks absorb them);
- for a by-product (critmin.economics.byproduct), an outage of every major supplier of its
  host at the host stage (in the by-product's base year: byproduct.host_shares), where that
  country also produces the by-product: it cuts the by-product's output there by the
  outage's severity times the host-tied share, at the host plant's outage rate;
- separately, the domestic set: outages of U.S. plants only (reported in its own column, never
  in the criticality ranking).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from critmin.chain import HostLink, SupplyChain
from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset
from critmin.economics.byproduct import host_shares
from critmin.scenarios.load import library_events, load_scenario, parse_scenario
from critmin.scenarios.probability import (
    Calibration,
    RegimeState,
    background_rates,
    calibrate,
    major_suppliers,
    occurrence_probability,
    regime_rate,
    restriction_rate,
)
from critmin.scenarios.spec import Scenario
from critmin.security.hazard import register_factor

START = "2026-01"
USA = "USA"
#: The approval path of a new licensing regime: the library's fit to the April 2025 magnets.
FITTED_PATH = "china-2025-04"
#: Ceiling on a supplier-stage's yearly outage probability after the register's factor.
MAX_OUTAGE_PROBABILITY = 0.95


def scaled(distribution: dict[str, Any], factor: float) -> dict[str, Any]:
    """A severity distribution times ``factor`` (its location and bounds scaled); a beta's or
    a lognormal's draws do not scale with their parameters and are refused."""
    if distribution["dist"] in ("beta", "lognormal"):
        raise ValueError(f"a {distribution['dist']} severity cannot be scaled by its parameters")
    out = dict(distribution)
    for key in ("low", "high", "mode", "mean", "sd"):
        if out.get(key) is not None:
            out[key] = float(out[key]) * factor
    if out.get("values") is not None:
        out["values"] = [float(v) * factor for v in out["values"]]
    return out


@per_dataset
def _calibrations(ds: Dataset) -> dict[str, Calibration]:
    """The Gamma-Poisson fits made on ``ds`` (about 0.7 s of CPU each), by their inputs."""
    return {}


def calibration_of(ds: Dataset, shares: pd.DataFrame, parents: dict[str, str]) -> Calibration:
    """``calibrate(ds, shares, parents)``, fitted once per dataset and inputs: rank, optimize
    (its ensemble and its sensitivity), the web application's jobs and the tests each build
    the disruption set, often on one dataset in one process."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(shares, index=False).to_numpy().tobytes())
    digest.update(repr(sorted(parents.items())).encode())
    fits = _calibrations(ds)
    key = digest.hexdigest()
    if key not in fits:
        fits[key] = calibrate(ds, shares, parents)
    return fits[key]


def stage_shares(chain: SupplyChain) -> pd.DataFrame:
    """(mineral, stage, country, share) in each (mineral, stage)'s base-year production year
    (SupplyChain.base_shares: the shares the chain models are built on)."""
    shares = chain.base_shares()
    frame = shares.to_dataframe(name="share").reset_index()
    frame = frame[frame["share"].notna() & (frame["share"] > 0)]
    return frame[["mineral", "stage", "country", "share"]]


@dataclass(frozen=True)
class DisruptionSet:
    """Everything needed to write each mineral's foreign and domestic scenarios."""

    shares: pd.DataFrame
    calibration: Calibration
    library: dict[str, dict[str, Any]]
    background: dict[str, Any]
    rates: dict[str, float]  # background outage probability per country
    parents: dict[str, str]
    #: security-register factor on the background rate per (country, stage); 1 when absent
    security: dict[tuple[str, str], float] = field(default_factory=dict)
    #: host links of by-products (chain.hosts), by by-product, each with its host's country
    #: shares in the by-product's base year (critmin.economics.byproduct.host_shares)
    hosts: dict[str, tuple[tuple[HostLink, pd.Series], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, chain: SupplyChain, parents: dict[str, str]) -> DisruptionSet:
        shares = stage_shares(chain)
        hazard = load_scenario("background").hazards[0].model_dump()
        countries = sorted(set(shares["country"]))
        return cls(
            shares=shares,
            calibration=calibration_of(chain.dataset, shares, parents),
            library=library_events(),
            background=hazard,
            rates=background_rates(chain.dataset, countries),
            parents=parents,
            security=register_factor(chain),
            hosts={
                m: tuple((link, host_shares(chain, link)) for link in links)
                for m in sorted(set(shares["mineral"]))
                if (links := chain.hosts(m))
            },
        )

    def tightening_shape(self, country: str, mineral: str) -> tuple[str, dict[str, Any]]:
        """How a new restriction by ``country`` of ``mineral`` works: the shape (regime,
        approval path, duration, coverage) of the country's latest library export control on
        the mineral to all destinations, whatever its state (DR Congo's cobalt: its 2025
        quota); without one, a licensing regime on the path fitted to the April 2025 magnet
        exports. Returns the library event's name and the fields."""
        own = [
            (str(body["start"]), name, body)
            for name, body in self.library.items()
            if body.get("kind") == "export_control"
            and body.get("country") == country
            and mineral in body.get("minerals", [])
            and body.get("destinations", "all") == "all"
        ]
        name, body = FITTED_PATH, self.library[FITTED_PATH]
        if own:
            _, name, body = max(own, key=lambda t: (t[0], t[1]))
        keys = ("regime", "approval", "duration_months", "coverage")
        shape = {k: body[k] for k in keys if body.get(k) is not None}
        if own and body.get("tightening_stages") == "own":
            shape["stages"] = [str(s) for s in body["stages"]]
        return name, shape

    @staticmethod
    def restriction_stages(major: list[str], shape: dict[str, Any]) -> list[str]:
        """The stages a new restriction reaches: every stage the supplier is major in, or,
        where its own regime says ``tightening_stages: own`` (a raw-material ban that keeps
        processed exports open: Indonesia's nickel ore), those of them the regime reaches
        (Indonesia's nickel: mining, not the refined NPI and matte it is also major in)."""
        own = [s for s in major if s in shape.get("stages", [])]
        return sorted(own or major)

    def restriction_events(self, chain: SupplyChain, mineral: str) -> dict[str, Any]:
        """A restriction per major foreign supplier of ``mineral``'s chain, shaped as the
        supplier's own latest library regime on it (:meth:`tightening_shape`)."""
        major = major_suppliers(self.shares[self.shares["mineral"] == mineral])
        out: dict[str, Any] = {}
        for country, rows in major.groupby("country"):
            c = str(country)
            if c == USA:
                continue
            rate = restriction_rate(chain.dataset, self.calibration, c, mineral)
            shape_of, shape = self.tightening_shape(c, mineral)
            stages = self.restriction_stages([str(s) for s in rows["stage"]], shape)
            out[f"restriction-{c}-{mineral}"] = {
                "kind": "export_control",
                "country": c,
                "minerals": [mineral],
                **shape,
                "stages": stages,
                "start": START,
                "probability": occurrence_probability(rate),
                "note": f"annual rate {rate:.4f} ({self.calibration.describe()}); "
                f"shaped as {shape_of}",
            }
        return out

    def library_events_for(self, mineral: str, chain_mineral: str) -> dict[str, Any]:
        """Library regimes naming the mineral (or its chain), at their state's rate; a regime
        in force adds nothing here (its tightening is the supplier's restriction event)."""
        out: dict[str, Any] = {}
        for name, body in self.library.items():
            names = body.get("minerals", [body.get("mineral")])
            if not (mineral in names or chain_mineral in names):
                continue
            state = RegimeState(body.get("state", "in_force"))
            if state in (RegimeState.IN_FORCE, RegimeState.TIGHTENED):
                continue
            rate = regime_rate(state, 0.0)
            if rate <= 0:
                continue
            out[name] = {**body, "start": START, "probability": occurrence_probability(rate)}
        return out

    def outage_events(self, mineral: str, countries: str) -> tuple[dict[str, Any], list[Any]]:
        """An outage per major supplier and stage (``countries``: 'foreign' or 'domestic'),
        at its governance-scaled annual probability, with the background hazard's severity and
        duration distributions as uncertainties."""
        major = major_suppliers(self.shares[self.shares["mineral"] == mineral])
        events: dict[str, Any] = {}
        uncertain: list[Any] = []
        for country, stage in zip(major["country"], major["stage"], strict=True):
            c, st = str(country), str(stage)
            if (c == USA) != (countries == "domestic"):
                continue
            name = f"outage-{c}-{st}-{mineral}"
            factor = self.security.get((c, st), 1.0)
            base = self.rates.get(c, self.background["annual_probability"])
            rate = float(min(base * factor, MAX_OUTAGE_PROBABILITY))
            events[name] = {
                "kind": "outage",
                "country": c,
                "minerals": [mineral],
                "stage": st,
                "share": 0.3,
                "start": START,
                "probability": rate,
                "note": "background outage (accident, strike, weather, unrest), "
                "governance-scaled annual probability"
                + (f" x security-register factor {factor:.2f}" if factor != 1.0 else ""),
            }
            uncertain += [
                {"target": f"{name}.share", "distribution": self.background["severity"]},
                {
                    "target": f"{name}.duration_months",
                    "distribution": self.background["duration_months"],
                },
            ]
        host_events, host_uncertain = self.host_outage_events(mineral, countries)
        return events | host_events, uncertain + host_uncertain

    def host_outage_events(self, mineral: str, countries: str) -> tuple[dict[str, Any], list[Any]]:
        """An outage of each major supplier of a by-product's host (at the host stage) that
        also produces the by-product at the tied stage: the by-product loses the outage's
        severity times the host-tied share there, at the host plant's outage rate."""
        events: dict[str, Any] = {}
        uncertain: list[Any] = []
        own = self.shares[self.shares["mineral"] == mineral]
        for link, at_base in self.hosts.get(mineral, ()):
            makers = set(own.loc[own["stage"] == link.stage, "country"].astype(str))
            host = at_base.rename_axis("country").reset_index()
            for country in major_suppliers(host)["country"]:
                c = str(country)
                if c not in makers or (c == USA) != (countries == "domestic"):
                    continue
                name = f"host-outage-{c}-{link.host}-{link.host_stage}-{mineral}"
                factor = self.security.get((c, link.host_stage), 1.0)
                base = self.rates.get(c, self.background["annual_probability"])
                events[name] = {
                    "kind": "outage",
                    "country": c,
                    "minerals": [mineral],
                    "stage": link.stage,
                    "share": 0.3 * link.share,
                    "start": START,
                    "probability": float(min(base * factor, MAX_OUTAGE_PROBABILITY)),
                    "note": f"outage of the host ({link.host} {link.host_stage}) cuts the "
                    f"{link.share:.0%} of {mineral} output tied to it ({link.source_id})",
                }
                uncertain += [
                    {
                        "target": f"{name}.share",
                        "distribution": scaled(self.background["severity"], link.share),
                    },
                    {
                        "target": f"{name}.duration_months",
                        "distribution": self.background["duration_months"],
                    },
                ]
        return events, uncertain

    def foreign_events(
        self, chain: SupplyChain, mineral: str, chain_mineral: str
    ) -> tuple[dict[str, Any], list[Any]]:
        """The foreign events of a mineral's chain and their uncertainties."""
        events = self.restriction_events(chain, chain_mineral)
        events |= self.library_events_for(mineral, chain_mineral)
        outages, uncertain = self.outage_events(chain_mineral, "foreign")
        return events | outages, uncertain

    def foreign(self, chain: SupplyChain, mineral: str, chain_mineral: str) -> Scenario:
        events, uncertain = self.foreign_events(chain, mineral, chain_mineral)
        return self._scenario(f"foreign-{mineral}", events, uncertain)

    def planning(self, chain: SupplyChain, minerals: list[str]) -> Scenario:
        """Every listed chain's foreign events in one scenario (the reserve's ensemble)."""
        events: dict[str, Any] = {}
        uncertain: list[Any] = []
        for m in minerals:
            e, u = self.foreign_events(chain, m, m)
            events |= e
            uncertain += u
        scenario = self._scenario("planning", events, uncertain)
        return scenario.model_copy(
            update={
                "minerals": list(minerals),
                "description": "foreign export restrictions, library regimes and supplier "
                "outages at their annual rates, random timing",
            }
        )

    def domestic(self, mineral: str) -> Scenario:
        events, uncertain = self.outage_events(mineral, "domestic")
        return self._scenario(f"domestic-{mineral}", events, uncertain)

    def _scenario(self, name: str, events: dict[str, Any], uncertain: list[Any]) -> Scenario:
        shift = {"dist": "uniform", "low": 0.0, "high": 11.49}
        raw = {
            "name": name,
            "start": START,
            "events": events,
            "uncertainties": [
                {"target": f"{e}.start_shift_months", "distribution": shift} for e in events
            ]
            + uncertain,
        }
        return parse_scenario(raw, f"rank:{name}")
