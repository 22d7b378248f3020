"""The EU lens: JRC supply risk (SR) and economic importance (EI) per mineral.

After the EU methodology for the list of critical raw materials (European Commission, JRC,
"Methodology for establishing the EU list of critical raw materials", 2017; METHODS §1):

- per stage (extraction = the chain's first stage, processing = its second, where bundled):
  ``SR = [HHI_GS·IR/2 + HHI_EU·(1 - IR/2)]·(1 - EoL_RIR)·SI_SR`` with
  ``HHI = Σ_c s_c²·WGI_c·t_c`` (s a fraction, WGI_c the EU governance score, 0-10 from the
  bundled six-dimension WGI, t_c the trade parameter), GS the global supply mix (bundled
  production shares), EU the EU sourcing mix (EU-27 production plus extra-EU imports by
  supplier, BACI quantities 2021-2024), IR the EU import reliance
  ``(extra-EU imports - exports) / (EU production + imports - exports)``; the mineral's SR is
  the larger stage's (its bottleneck);
- ``EI = 10·Σ_s A_s·Q_s / max Q ·SI_EI`` with A_s the end-use shares and Q_s the value added of
  the sector's industries.

Inputs that critmin does not hold are marked, never invented: the substitution indices
SI_SR and SI_EI are taken as 1 (no substitution credit; the JRC factsheets publish them per
material), Q_s is U.S. value added (BEA 2017, through the bridge) standing in for EU NACE
sectors, and t_c is the bundled trade parameter (U.S. trade agreements). Critical when
SR >= 1 and EI >= 2.8 (the JRC thresholds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.economics.io import io_model
from critmin.metrics.concentration import select
from critmin.scenarios.probability import governance_risk, trade_parameter
from critmin.simulate.model import trade_by_stage

SR_THRESHOLD = 1.0
EI_THRESHOLD = 2.8
EU = "eu27"


@dataclass(frozen=True)
class EURow:
    mineral: str
    sr: float | None
    ei: float | None
    bottleneck_stage: str | None
    critical: bool
    sr_by_stage: dict[str, float] = field(default_factory=dict)
    import_reliance: float | None = None
    eol_rir: float = 0.0
    marked: tuple[str, ...] = ()


def _hhi(shares: pd.Series, wgi: dict[str, float], t: dict[str, float]) -> float:
    return float(
        sum(s**2 * wgi.get(str(c), 5.0) * t.get(str(c), 1.0) for c, s in shares.items() if s > 0)
    )


def _eu_flows(chain: SupplyChain, mineral: str, stage: str, eu: set[str]) -> pd.Series | None:
    """Extra-EU imports by supplier and extra-EU exports (t), BACI 2021-2024 mean."""
    rows = trade_by_stage(chain.dataset).get((mineral, stage))
    if rows is None:
        return None
    rows = rows[rows["quantity_t"].notna()]
    if rows.empty:
        return None
    years = rows["year"].nunique()
    inbound = rows[rows["importer"].isin(eu) & ~rows["exporter"].isin(eu)]
    outbound = rows[rows["exporter"].isin(eu) & ~rows["importer"].isin(eu)]
    by = inbound.groupby("exporter")["quantity_t"].sum() / years
    by["__exports__"] = float(outbound["quantity_t"].sum()) / years
    return by


def eu_criticality(chain: SupplyChain) -> list[EURow]:
    ds = chain.dataset
    groups = ds["country_groups"]
    eu = set(groups.loc[groups["group"] == EU, "country"].astype(str))
    wgi = {c: 10.0 * g for c, g in governance_risk(ds).items()}
    recycling = ds["recycling"].set_index("mineral")["eol_rir"].astype(float).to_dict()
    sel = select(chain)
    shares = sel.shares
    model = io_model(ds)
    bridge = ds["io_bridge"]
    sectors = bridge[bridge["kind"] == "sector"]
    va = pd.Series(
        ds["io_industries"]["value_added"].astype(float).to_numpy(),
        index=ds["io_industries"]["code"].astype(str),
    )
    sector_va = {
        str(s): float(va.reindex([c for c in g["code"] if c in model.codes]).sum())
        for s, g in sectors.groupby("key")
    }
    # the largest manufacturing sector sets the scale (the JRC normalises by the largest
    # NACE 2-digit manufacturing sector)
    manufacturing = [v for k, v in sector_va.items() if k not in ("construction", "petroleum")]
    q_max = max(manufacturing) if manufacturing else 1.0
    uses = ds["end_uses"]
    out: list[EURow] = []
    for mineral in [str(m) for m in shares.mineral.values]:
        marked = ["SI_SR = SI_EI = 1 (substitution indices not bundled)"]
        stages = [
            str(s)
            for s in shares.stage.values
            if bool(shares.sel(mineral=mineral, stage=s).notnull().any())
        ][:2]
        sr_stage: dict[str, float] = {}
        ir_out = None
        eol = float(recycling.get(mineral, 0.0))
        if mineral not in recycling:
            marked.append("EoL-RIR not bundled: taken as 0")
        for stage in stages:
            s = shares.sel(mineral=mineral, stage=stage).to_series().dropna()
            s = s[s.index != "OTH"]
            t = {str(c): trade_parameter(ds, str(c), mineral) for c in s.index}
            hhi_gs = _hhi(s, wgi, t)
            year = int(sel.shares.year.sel(mineral=mineral, stage=stage))
            prod = chain.production.sel(mineral=mineral, stage=stage, year=year).to_series()
            eu_prod = float(prod.reindex(sorted(eu)).fillna(0.0).sum())
            flows = _eu_flows(chain, mineral, stage, eu)
            if flows is None:
                ir, hhi_eu = 1.0 if eu_prod == 0 else 0.0, hhi_gs
                marked.append(
                    f"{stage}: no BACI quantities: IR from EU production only, EU mix = global"
                )
            else:
                exports = float(flows.pop("__exports__"))
                imports = float(flows.sum())
                apparent = eu_prod + imports - exports
                ir = (
                    float(np.clip((imports - exports) / apparent, 0.0, 1.0))
                    if apparent > 0
                    else 1.0
                )
                mix = flows.copy()
                for c in eu:
                    if c in prod.index and prod[c] > 0:
                        mix[c] = mix.get(c, 0.0) + float(prod[c])
                mix = mix / mix.sum() if mix.sum() > 0 else mix
                t_eu = {str(c): trade_parameter(ds, str(c), mineral) for c in mix.index}
                hhi_eu = _hhi(mix, wgi, t_eu)
            sr_stage[stage] = (hhi_gs * ir / 2 + hhi_eu * (1 - ir / 2)) * (1 - eol)
            ir_out = ir if ir_out is None else max(ir_out, ir)
        bottleneck = max(sr_stage, key=lambda k: sr_stage[k]) if sr_stage else None
        sr = sr_stage[bottleneck] if bottleneck else None
        rows = uses[(uses["mineral"] == mineral) & (uses["region"].isin(["WLD", "USA"]))]
        ei = None
        if len(rows):
            latest = rows[rows["year"] == rows["year"].max()].groupby("sector")["share"].sum()
            total = sum(float(a) * sector_va.get(str(sct), 0.0) for sct, a in latest.items())
            ei = 10.0 * total / q_max
            marked.append(
                "Q_s = U.S. value added of the sector's BEA industries (EU NACE not bundled)"
            )
        else:
            marked.append("no end-use shares: EI not computed")
        out.append(
            EURow(
                mineral,
                sr,
                ei,
                bottleneck,
                bool(
                    sr is not None and ei is not None and sr >= SR_THRESHOLD and ei >= EI_THRESHOLD
                ),
                sr_stage,
                ir_out,
                eol,
                tuple(marked),
            )
        )
    return out


def eu_records(rows: list[EURow]) -> list[dict[str, object]]:
    return [
        {
            "mineral": r.mineral,
            "sr": None if r.sr is None else round(r.sr, 4),
            "ei": None if r.ei is None else round(r.ei, 4),
            "bottleneck_stage": r.bottleneck_stage,
            "critical": r.critical,
            "sr_by_stage": {k: round(v, 4) for k, v in r.sr_by_stage.items()},
            "eu_import_reliance": r.import_reliance,
            "eol_rir": r.eol_rir,
            "marked": list(r.marked),
        }
        for r in rows
    ]
