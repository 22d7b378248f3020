"""U.S. GDP lost per dollar of a mineral short, through the BEA 2017 input-output tables.

Method (docs/criticality.md has the derivation and limits):

1. **Domestic requirements.** From the Use (U, commodity x industry), Import (M) and Make (V,
   industry x commodity) tables, under the industry-technology assumption: market shares
   ``D = V·diag(q)^-1`` (q commodity output), domestic input coefficients
   ``B = (U - M)·diag(x)^-1`` (x industry output), ``A = D·B`` (industry x industry), the Leontief
   inverse ``L = (I - A)^-1`` and value-added coefficients ``v = VA/x``. The value-added
   multiplier of an industry, ``μ = v·L``, is the U.S. GDP a dollar of its output carries,
   including its domestic suppliers (Miller & Blair 2009, ch. 2 and 6).
2. **Where the mineral goes.** Each mineral is sold in one BEA commodity h (the bridge). Its
   U.S. end-use shares (USGS, ``end_uses``), else its world shares, are mapped to BEA industries
   by the bridge (split within a sector by gross output); without end-use shares, or for a
   sector the bridge does not map ("other"), the mineral follows h's own distribution over
   using industries in the Use table.
3. **Supply constraint.** A shortfall share φ of the mineral reaches each using industry j
   (uniform rationing). Two kinds of use:

   - **Essential product lines** (a row of ``io_dependency``): a share ``d_j`` of j's output is
     made in product lines that cannot be made without the mineral within the year (GaAs and
     GaN devices in 334413, PM-motor BEVs in 336111/336112). These lines run in fixed
     proportions, the short-run technology of the supply-constrained and inoperability
     input-output models (Miller & Blair 2009, ch. 13; Haimes & Jiang 2001; Santos & Haimes
     2004) and of the USGS disruption models
     (Manley, Alonso & Nassar 2022; Nassar et al. 2024, OFR 2024-1057): they lose ``d_j·φ`` of
     j's output. Substitution is counted once, upstream, in the demand elasticity of the
     market clearing that sets φ.
   - **Other uses**: a CES technology between the mineral (cost share
     ``c_j = value of the mineral j uses / x_j``) and j's other inputs with a short-run
     elasticity s (``substitution_elasticity``), the other inputs fixed: output falls to
     ``[c_j·(1 - φ)^rho + 1 - c_j]^(1/rho)``, rho = (s - 1)/s. With a small cost share this
     loses about ``c_j·((1-φ)^rho - 1)/rho``: GDP per dollar short is then nearly the same for
     every mineral (≈ 7.5·μ at s = 0.2, φ = 0.5), which is why essential uses are modelled
     apart. An essential industry's use of the mineral all goes to its essential lines, so
     the whole-industry CES does not apply to it (at large φ it would cut more than d).

   GDP lost = Σ_j μ_j·x_j·(output share lost). The cut falls on j's output and, through L, on
   j's domestic suppliers; j's customers are assumed to bridge with imports or inventories of
   j's product (the forward effect is left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset
from critmin.schema.vocabulary import MONTHS_PER_YEAR, WORLD

OTHER_SECTOR = "other"
USA = "USA"
#: Share of a host commodity's intermediate use whose buyers count as its users.
MAIN_USE = 0.8


@dataclass(frozen=True)
class IOModel:
    """The 2017 U.S. economy, industry by industry (US$ million)."""

    codes: tuple[str, ...]
    output: np.ndarray  # x_j
    va_multiplier: np.ndarray  # μ_j = (v·L)_j
    use: pd.DataFrame  # commodity x industry (total use, producers' prices)
    requirement: pd.DataFrame  # commodity x industry: direct + indirect use per $ of output

    def index(self, code: str) -> int:
        return self.codes.index(code)


def io_model(dataset: Dataset) -> IOModel:
    """The model of the bundled ``io_industries`` and ``io_flows`` tables (built once per
    dataset)."""
    return _models(dataset)


def adopt(dataset: Dataset, model: IOModel) -> None:
    """Use ``model`` as ``dataset``'s IO model: a worker given the caller's model builds the
    caller's chain models bit for bit (the Leontief inverse's last bits depend on the number
    of BLAS threads of the process that inverts it)."""
    _models.set(dataset, model)


def _build(dataset: Dataset) -> IOModel:
    ind = dataset["io_industries"]
    codes = [str(c) for c in ind["code"]]
    x = ind["gross_output"].astype(float).to_numpy()
    va = ind["value_added"].astype(float).to_numpy()
    flows = dataset["io_flows"]
    pos = {c: i for i, c in enumerate(codes)}
    n = len(codes)

    def block(table: str) -> np.ndarray:
        rows = flows[flows["table"] == table]
        out = np.zeros((n, n))
        r = rows["row"].map(pos)
        c = rows["col"].map(pos)
        ok = r.notna() & c.notna()
        np.add.at(
            out,
            (r[ok].astype(int).to_numpy(), c[ok].astype(int).to_numpy()),
            rows["value"][ok].astype(float).to_numpy(),
        )
        return out

    use, imports, make = block("use"), block("imports"), block("make")
    q = make.sum(axis=0)
    share = np.divide(make, q[None, :], out=np.zeros_like(make), where=q[None, :] > 0)
    domestic = np.clip(use - imports, 0.0, None)
    b = np.divide(domestic, x[None, :], out=np.zeros_like(domestic), where=x[None, :] > 0)
    a = share @ b
    leontief = np.linalg.inv(np.eye(n) - a)
    v = np.divide(va, x, out=np.zeros_like(va), where=x > 0)
    mu = v @ leontief
    frame = pd.DataFrame(use, index=codes, columns=codes)
    direct = np.divide(use, x[None, :], out=np.zeros_like(use), where=x[None, :] > 0)
    total = pd.DataFrame(direct @ leontief, index=codes, columns=codes)
    return IOModel(tuple(codes), x, mu, frame, total)


_models = per_dataset(_build)


@dataclass(frozen=True)
class Exposure:
    """The U.S. industries a mineral feeds and how much of their output a shortfall takes."""

    mineral: str
    commodity: str
    codes: tuple[str, ...]
    weight: np.ndarray  # share of the mineral each industry uses
    output_usd: np.ndarray  # x_j, USD per year (2023 gross output, else 2017)
    multiplier: np.ndarray  # μ_j, GDP per $ of output
    cost_share: np.ndarray  # c_j = mineral value used by j / x_j
    substitution: float  # short-run elasticity of substitution s (other uses)
    value_usd: float  # U.S. consumption x reference price, USD per year
    basis: str
    #: d_j: share of j's output in essential product lines (fixed proportions); 0 = none
    essential: np.ndarray | None = None

    def output_lost(self, short: np.ndarray) -> np.ndarray:
        """Share of each user's output lost when a share ``short`` of the mineral is missing:
        ``d·φ`` for an essential user (its mineral all goes to the essential lines, fixed
        proportions), else the CES loss ``1 - [c·(1 - φ)^rho + 1 - c]^(1/rho)``,
        rho = (s - 1)/s (other inputs fixed); shape ``short.shape + (J,)``."""
        phi = np.clip(np.asarray(short, dtype=float), 0.0, 1.0)[..., None]
        out = _ces_loss(phi, self.cost_share, self.substitution)
        if self.essential is not None:
            d = self.essential
            out = np.where(d > 0, np.clip(d * phi, 0.0, 1.0), out)
        return out

    def gdp_lost(self, short: np.ndarray, months: float = 1.0) -> np.ndarray:
        """U.S. GDP lost (USD) over ``months`` at a shortfall share ``short``."""
        lost = self.output_lost(short) * (self.output_usd * self.multiplier)
        out: np.ndarray = lost.sum(axis=-1) * months / MONTHS_PER_YEAR
        return out

    def leverage(self, short: float = 0.5) -> float:
        """GDP lost per dollar of mineral short, at a shortfall share ``short``."""
        dollars = short * self.value_usd
        return (
            float(self.gdp_lost(np.array(short), MONTHS_PER_YEAR)) / dollars if dollars > 0 else 0.0
        )

    def describe(self, short: float = 0.5) -> str:
        top = np.argsort(-self.weight)[:3]
        d = self.essential if self.essential is not None else np.zeros(len(self.codes))
        users = ", ".join(
            f"{self.codes[i]} ({self.weight[i]:.0%}, cost share {self.cost_share[i]:.2g}"
            + (f", {d[i]:.1%} of output essential" if d[i] > 0 else "")
            + ")"
            for i in top
        )
        how = (
            "fixed proportions in the essential product lines (io_dependency), else "
            if d.any()
            else ""
        )
        return (
            f"{self.leverage(short):.3g} USD of GDP per USD short at a {short:.0%} shortfall: "
            f"output loss of the users of {self.commodity} ({how}CES, s = "
            f"{self.substitution:g}) times their VA multipliers ({self.basis}; {users})"
        )


def _ces_loss(phi: np.ndarray, c: np.ndarray, s: float) -> np.ndarray:
    """``1 - [c·(1 - φ)^rho + 1 - c]^(1/rho)``, computed in logs so that s -> 0 tends to the
    fixed-proportions loss φ instead of overflowing."""
    s = max(s, 1e-6)
    c = np.clip(c, 1e-300, 1.0 - 1e-12)
    with np.errstate(divide="ignore"):
        log_kept = np.log(np.maximum(1.0 - phi, 0.0))
    if abs(s - 1.0) < 1e-9:  # Cobb-Douglas
        level = np.exp(c * log_kept)
    else:
        rho = (s - 1.0) / s
        with np.errstate(invalid="ignore", over="ignore"):
            log_level = np.logaddexp(np.log(c) + rho * log_kept, np.log1p(-c)) / rho
        level = np.exp(np.nan_to_num(log_level, nan=-np.inf))
    out: np.ndarray = np.clip(1.0 - level, 0.0, 1.0)
    return out


def _essential(
    dataset: Dataset, mineral: str, parents: dict[str, str]
) -> tuple[dict[str, float], str]:
    """Dependent output shares by BEA industry (``io_dependency``) of the mineral, else of its
    parent; and the source ids they rest on."""
    table = dataset["io_dependency"]
    for m in (mineral, parents.get(mineral, "")):
        rows = table[table["mineral"] == m]
        if len(rows):
            values = rows["dependent_share"].astype(float).to_numpy()
            shares = {str(c): float(v) for c, v in zip(rows["industry"], values, strict=True)}
            return shares, ", ".join(sorted({str(x) for x in rows["source_id"]}))
    return {}, ""


def _host(dataset: Dataset, mineral: str, parents: dict[str, str]) -> str | None:
    bridge = dataset["io_bridge"]
    rows = bridge[bridge["kind"] == "mineral"].set_index("key")["code"]
    for m in (mineral, parents.get(mineral, "")):
        if m in rows.index:
            return str(rows[m])
    return None


def _end_use_weights(
    dataset: Dataset, model: IOModel, mineral: str, parents: dict[str, str]
) -> tuple[dict[str, float], float, str]:
    """Weights on BEA industries from end-use shares: the mineral's U.S. shares, else its world
    (WLD) shares applied to the U.S. (as the chain model's sector split does), else its
    parent's; the share left for the host's own distribution ("other" and unmapped sectors);
    and what the weights rest on."""
    uses = dataset["end_uses"]
    for m, region in ((m, r) for m in (mineral, parents.get(mineral, "")) for r in (USA, WORLD)):
        rows = uses[(uses["mineral"] == m) & (uses["region"] == region)]
        if len(rows):
            break
    else:
        return {}, 1.0, "no end-use shares: the host commodity's users in the Use table"
    latest = rows[rows["year"] == rows["year"].max()]
    shares = latest.groupby("sector")["share"].sum()
    shares = shares / shares.sum()
    bridge = dataset["io_bridge"]
    sectors = bridge[bridge["kind"] == "sector"]
    out: dict[str, float] = {}
    rest = 0.0
    for sector, share in shares.items():
        codes = [c for c in sectors.loc[sectors["key"] == sector, "code"] if c in model.codes]
        if sector == OTHER_SECTOR or not codes:
            rest += float(share)
            continue
        size = np.array([model.output[model.index(c)] for c in codes])
        for c, s in zip(codes, size / size.sum(), strict=True):
            out[c] = out.get(c, 0.0) + float(share) * float(s)
    year = int(latest["year"].max())
    what = (
        "USGS U.S. end-use shares" if region == USA else "world end-use shares applied to the U.S."
    )
    return out, rest, f"{what} ({m}, {year}) mapped to BEA industries"


def _goods(codes: tuple[str, ...]) -> np.ndarray:
    """Goods-producing industries (NAICS 11-33: farms, mining, utilities, construction,
    manufacturing): the industries a mineral enters physically."""
    return np.array([c[:1] in ("1", "2", "3") for c in codes])


def _main_users(row: np.ndarray) -> np.ndarray:
    """The host commodity's use by the industries that together buy ``MAIN_USE`` of it, largest
    first (the long tail of incidental buyers is left out)."""
    order = np.argsort(-row)
    cum = np.cumsum(row[order]) / row.sum()
    keep = order[: int(np.searchsorted(cum, MAIN_USE)) + 1]
    out = np.zeros_like(row)
    out[keep] = row[keep]
    return out


def exposure(
    dataset: Dataset,
    mineral: str,
    parents: dict[str, str],
    *,
    value_usd: float,
    substitution: float,
) -> Exposure | None:
    """Where ``mineral`` (``value_usd`` a year of U.S. use) goes in the U.S. economy, or None
    without a bridge to the BEA tables."""
    model = io_model(dataset)
    host = _host(dataset, mineral, parents)
    if host is None or host not in model.use.index or not value_usd > 0:
        return None
    goods = _goods(model.codes)
    row = model.use.loc[host].to_numpy() * goods
    weights, rest, basis = _end_use_weights(dataset, model, mineral, parents)
    w = np.zeros(len(model.codes))
    for code, share in weights.items():
        w[model.index(code)] += share
    if rest > 0 and row.sum() > 0:
        main = _main_users(row)
        w += rest * main / main.sum()
    if w.sum() <= 0:
        return None
    w /= w.sum()
    keep = np.flatnonzero(w > 0)
    ind = dataset["io_industries"].set_index("code")
    recent = ind["gross_output_2023"].astype(float)
    x = np.array(
        [
            recent.get(model.codes[i], np.nan)
            if np.isfinite(recent.get(model.codes[i], np.nan))
            else model.output[i]
            for i in keep
        ]
    )
    x = x * 1e6  # MUSD -> USD
    cost = np.clip(value_usd * w[keep] / x, 0.0, 0.99)
    codes = tuple(model.codes[i] for i in keep)
    shares, sources = _essential(dataset, mineral, parents)
    essential = np.array([shares.get(c, 0.0) for c in codes])
    if essential.any():
        basis += f"; essential product lines from io_dependency ({sources})"
    return Exposure(
        mineral,
        host,
        codes,
        w[keep],
        x,
        model.va_multiplier[keep],
        cost,
        substitution,
        value_usd,
        basis,
        essential if essential.any() else None,
    )
