"""Re-export hubs: U.S. import sources that ship a form they do not produce, modelled as
pass-through nodes fed by the producers they buy from.

USGS names the country a form was shipped from. Germany, Belgium and Italy ship the U.S.
unwrought platinum and rhodium, yet mine and primary-refine none (their refiners, Heraeus,
Umicore, Chimet, process bought and recycled metal). A country with no output at the chain's
last stage that exports that stage's form (CEPII BACI) is such a hub. Naming it as a producer
would make it immune to its suppliers' disruptions; leaving it out sends its share of U.S.
imports to its suppliers in full (the routing then shows a producer at 100% where USGS has
49%). Here the hub is a node of the last stage whose throughput is its U.S. flow (its USGS
share of U.S. imports) and whose feed is that of its suppliers' own plants:

1. **Origins** (:func:`hub_origins`): the hub's imports of the form by exporter (BACI tonnes,
   the trade years), each non-producing exporter's imports resolved the same way in turn
   (proportional attribution of re-exports: a hub's exports carry its imports' origin mix), to
   a mix over the last stage's producers. An exporter that is neither a producer nor an
   importer of the form counts as the chain's unattributed node (``OTH``) where it has one.
2. **Routing**: the hub's USGS share of U.S. imports is routed to its origins in that mix
   (critmin.simulate.model._us_import_shares), under the capacity bound as every source.
3. **Pass-through** (:func:`route_through_hubs`): what each origin ships the U.S. for the hub
   moves to the hub's node, and the hub's feed at the stage before is the origin plant's feed
   in proportion. Every balance, world output and U.S. receipts are unchanged; the hub's traced
   content is its origins' (so the 0.1% embedded-content rule reaches it), and an outage at an
   origin's upstream stage reaches the U.S. through the hub.
4. **Inheritance** (critmin.simulate.shocks.inherit_hub_outages): the hub buys its origins'
   last-stage metal, so an outage of an origin's last-stage plants (an event or a hazard) and
   an origin's export control at that stage covering the hub's country cut the hub in the
   share of its throughput that origin feeds.

Assumptions (docs/criticality.md §10): the chains carry primary supply, so a hub's U.S. flow is
primary metal in its imports' origin mix; its own secondary feed (exports above imports: Belgium
ships about five times the unwrought rhodium it imports) is left out, as the chains leave out
recycling abroad. The hub's feed enters at the stage before the last; what happens at the
origin's last stage reaches it by inheritance (4). A chain of one stage has no stage before:
there the hub is a node of the only stage that buys the form itself (its BACI imports of the
form are its feed, so it must import at least what it exports: :func:`hub_candidates`,
``same_form``); what it ships the U.S. leaves its origins' rows (world output unchanged), its
traced content is its origin mix, its output does not answer the price (its origins' spare
capacity does), and (4) carries its origins' outages and export controls at that stage to it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pandas as pd

from critmin.data.build import BACI_PARTNER_MIN
from critmin.schema.vocabulary import MONTHS_PER_YEAR

#: iterations of the re-export attribution (hub-to-hub chains are short; the mix is stable to
#: 1e-12 long before this)
ITERATIONS = 200


def hub_candidates(
    trade: pd.DataFrame,
    sources: Collection[str],
    producers: Collection[str],
    same_form: bool = False,
) -> list[str]:
    """The import ``sources`` (USGS) with no output at the last stage (not in ``producers``)
    that ship the U.S. the stage's form: at least :data:`BACI_PARTNER_MIN` of U.S. imports of
    it in ``trade`` (BACI tonnes), the rule by which a BACI partner counts as a U.S. import
    source (critmin.data.build). Without it Jamaica, a U.S. source of bauxite and alumina,
    became a hub of aluminium metal.

    ``same_form``: the hub's feed is the form it ships (a chain of one stage has no stage
    before to feed it from), so a pass-through ships no more than it imports: a source whose
    BACI exports of the form exceed its imports of it makes the form itself (selenium's
    Korea, 1,631 t exported against 89 t imported, 2021-24: a copper refinery the production
    data lack) and is no hub. Imports from the U.S. do not count, as in :func:`hub_origins`
    (U.S. material processed abroad is not foreign supply): Canada's lead concentrate
    imports are 99% American (Trail smelts U.S. concentrate), so Canada is no lead hub."""
    to_us = trade[trade["importer"] == "USA"].groupby("exporter")["quantity_t"].sum()
    if to_us.sum() <= 0:
        return []
    share = to_us / to_us.sum()
    cross = trade[trade["exporter"] != trade["importer"]]
    imports = cross[cross["exporter"] != "USA"].groupby("importer")["quantity_t"].sum()
    exports = cross.groupby("exporter")["quantity_t"].sum()
    return [
        c
        for c in sources
        if c not in producers
        and c != "USA"
        and float(share.get(c, 0.0)) >= BACI_PARTNER_MIN
        and (not same_form or float(imports.get(c, 0.0)) >= float(exports.get(c, 0.0)))
    ]


def hub_origins(
    trade: pd.DataFrame,
    hubs: Collection[str],
    producers: Collection[str],
    other: str | None = None,
) -> dict[str, dict[str, float]]:
    """Origin mix (producer -> share, summing to 1) of each hub's imports of a form.

    ``trade`` has ``exporter``, ``importer`` and ``quantity_t`` (t, any number of years,
    summed); ``producers`` are the last stage's producing countries; ``other`` the node an
    exporter that neither produces nor imports the form is counted as (None: left out). U.S.
    exports are no origin: a hub's imports from the U.S. are U.S. material sent abroad to be
    refined (toll refining of U.S. scrap and spent catalysts), and the chain's U.S. demand is
    what the U.S. buys. A hub with no resolvable imports is left out of the answer."""
    rows = trade[(trade["exporter"] != trade["importer"]) & (trade["exporter"] != "USA")]
    qty = rows.groupby(["importer", "exporter"])["quantity_t"].sum()
    qty = qty[qty > 0]
    prod = sorted(set(producers))
    sinks = prod + ([other] if other is not None and other not in prod else [])
    pi = {c: i for i, c in enumerate(sinks)}
    mids = sorted(
        (set(qty.index.get_level_values(0)) | set(qty.index.get_level_values(1)) | set(hubs))
        - set(prod)
    )
    mi = {c: i for i, c in enumerate(mids)}
    direct = np.zeros((len(mids), len(sinks)))  # share of a mid's imports from each sink
    via = np.zeros((len(mids), len(mids)))  # ... and from each other mid
    pairs = zip(
        qty.index.get_level_values(0).astype(str),
        qty.index.get_level_values(1).astype(str),
        qty.to_numpy(float),
        strict=True,
    )
    for imp, exp, q in pairs:
        if imp not in mi:  # a producer's imports are its own plants' feed
            continue
        if exp in pi:
            direct[mi[imp], pi[exp]] += q
        else:
            via[mi[imp], mi[exp]] += q
    total = direct.sum(axis=1) + via.sum(axis=1)
    for m, i in mi.items():
        if total[i] <= 0 and other is not None and m not in hubs:
            direct[i, pi[other]] = total[i] = 1.0  # exports of its own: unattributed
    scale = np.where(total > 0, total, 1.0)[:, None]
    direct, via = direct / scale, via / scale
    mix = direct.copy()
    for _ in range(ITERATIONS):
        mix = direct + via @ mix
    out: dict[str, dict[str, float]] = {}
    for hub in hubs:
        if hub not in mi:
            continue
        row = mix[mi[hub]]
        if row.sum() <= 0:
            continue
        out[hub] = {sinks[j]: float(v / row.sum()) for j, v in enumerate(row) if v > 0}
    return out


def route_through_hubs(
    countries: list[str],
    flows: np.ndarray,
    final: np.ndarray,
    idx_region: np.ndarray,
    via: dict[str, dict[str, float]],
    shares: dict[str, float],
    mixes: dict[str, dict[str, float]],
    us: int,
    region_index: Callable[[str], int],
) -> tuple[
    list[str], np.ndarray, np.ndarray, np.ndarray, list[str], tuple[tuple[str, str, float], ...]
]:
    """Move each hub's U.S. flow off its origins onto a node of its own at the last stage.

    ``via[hub][origin]`` is the share of U.S. imports the routing sent to ``origin`` for
    ``hub``, ``shares[origin]`` the origin's whole routed share; what the origin ships the U.S.
    (``final[origin, us]``, after the capacity bound) is split in that proportion; ``mixes``
    (:func:`hub_origins`) only label the notes. The hub's
    feed at the stage before is the origin's, in proportion; a hub that is already a node (a
    miner, say) keeps its index. In a chain of one stage (``flows`` of no stage) only the
    U.S. flow moves: what the hub ships the origin no longer does, so world output is
    unchanged; the hub's origin content and its tie to its origins' output are set by the
    caller (critmin.simulate.model: traced_content's ``fed``, ``host_tied``). Returns the
    grown countries, flows, final routing, region index, a note per hub and the feed shares
    (hub, origin, share of the hub's throughput)."""
    if not via:
        return countries, flows, final, idx_region, [], ()
    staged = flows.shape[0] > 0  # a chain of one stage: no feed to move
    countries = list(countries)
    new = [h for h in via if h not in countries]
    n0, n = len(countries), len(countries) + len(new)
    grown = np.zeros((flows.shape[0], n, n))
    grown[:, :n0, :n0] = flows
    grown_final = np.concatenate([final, np.zeros((len(new), final.shape[1]))], axis=0)
    countries += new
    base = grown_final.copy()
    feed = grown[-1].copy() if staged else np.zeros((n, n))
    notes: list[str] = []
    feed_share: list[tuple[str, str, float]] = []
    for hub, by_origin in via.items():
        h = countries.index(hub)
        moved = 0.0
        part_of: dict[str, float] = {}
        for origin, part in by_origin.items():
            o = countries.index(origin)
            if shares.get(origin, 0.0) <= 0 or base[o, us] <= 0:
                continue
            amount = float(base[o, us]) * part / shares[origin]
            grown_final[o, us] -= amount
            grown_final[h, us] += amount
            into = feed[:, o].sum()
            if staged and into > 0:
                grown[-1][:, h] += feed[:, o] * amount / into
                grown[-1][:, o] -= feed[:, o] * amount / into
            moved += amount
            part_of[origin] = amount
        feed_share += [(hub, o, a / moved) for o, a in part_of.items() if moved > 0]
        mix = ", ".join(
            f"{c} {v:.0%}" for c, v in sorted(mixes.get(hub, {}).items(), key=lambda kv: -kv[1])[:3]
        )
        fed = (
            "fed as its suppliers' plants"
            if staged
            else "buying the form from its suppliers (no output of its own)"
        )
        notes.append(
            f"{hub} a re-export hub at the last stage: {moved * MONTHS_PER_YEAR:,.4g} t/yr to the "
            f"U.S. (USGS import source, no output in the production data), {fed} "
            f"(BACI import origins: {mix})"
        )
    # an origin whose whole U.S. flow went to hubs is left at 0 up to rounding: never below
    np.clip(grown, 0.0, None, out=grown)
    np.clip(grown_final, 0.0, None, out=grown_final)
    extra = np.array([region_index(c) for c in new], dtype=idx_region.dtype)
    region = np.concatenate([idx_region, extra])
    return countries, grown, grown_final, region, notes, tuple(feed_share)
