"""By-product supply tied to host output (Nassar, Graedel & Harper 2015, *Science Advances*
1(3), e1400180).

A by-product (gallium from alumina refining, germanium and indium from zinc, tellurium from
copper refining) is recovered while its host is processed. Within a year its host-tied output
moves with the host's output, which the by-product's own price does not set: so the tied share
of a supplier's output cannot answer a by-product price rise (its supply response is bounded
to the untied share), and an outage of the host cuts it (critmin.simulate.disruptions).

The bundled ``byproducts`` table gives, per by-product stage and host, the share of the
by-product's world output recovered with that host. A country's output is tied in that share
where the country processes the host at the host stage (the world share stands for each such
country's: country-level recovery is not bundled); elsewhere (no host output) it is untied.
The host's output is read in the by-product's base year, the year the by-product's model is
of (``host_shares``), not in the host's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from critmin.chain import HostLink, SupplyChain


def host_shares(chain: SupplyChain, link: HostLink) -> pd.Series:
    """Country shares (> 0) of the host's output at the host stage, by country, in the
    by-product's base year: the host's production year is the latest with data up to the
    by-product's base year, else the earliest after it (SupplyChain.base_shares with
    ``base``). A simulation is of the by-product's base year, so its host output is that
    year's: gallium (base year 2022) reads 2022's alumina refiners, not 2024's. Empty where
    the chain has no output of the host at that stage."""
    empty = pd.Series(dtype=float, name="share")
    if link.host not in chain.production.mineral.values:
        return empty
    at = chain.base_year(link.mineral)
    shares = chain.base_shares([link.host], base=at).sel(mineral=link.host)
    if link.host_stage not in shares.stage.values:
        return empty
    col = shares.sel(stage=link.host_stage)
    values = col.to_numpy()
    keep = np.isfinite(values) & (values > 0)
    return pd.Series(values[keep], index=col.country.values[keep].astype(str), name="share")


def host_tied(
    chain: SupplyChain, mineral: str, stages: Sequence[str], countries: Sequence[str]
) -> tuple[np.ndarray | None, list[str], set[str]]:
    """Share of each node's output (stage x country) tied to a host's output, the notes that
    say so, and their sources; None for a mineral without host links on these stages."""
    links = [h for h in chain.hosts(mineral) if h.stage in stages]
    if not links:
        return None, [], set()
    tied = np.zeros((len(stages), len(countries)))
    notes: list[str] = []
    for link in links:
        k = list(stages).index(link.stage)
        producers = set(host_shares(chain, link).index)
        for n, c in enumerate(countries):
            if c in producers:
                tied[k, n] += link.share
        notes.append(
            f"{link.share:.0%} of {mineral} {link.stage} output is tied to {link.host} "
            f"{link.host_stage} output where the country has it ({link.source_id}): that share "
            "does not answer the by-product's price, and host outages cut it"
        )
    return np.clip(tied, 0.0, 1.0), notes, {h.source_id for h in links}
