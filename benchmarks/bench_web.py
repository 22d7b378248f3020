"""Web application speed (prints figures; not a test): first paint of the overview from a warm
server, chain explorer interactions, a 1,000-draw scenario from the lab, in a real headless
Chromium against a loopback server. Each figure is a median over three rounds; on a shared
machine the figures are noisy. Targets (issue 12): first paint < 1 s, explorer interactions
< 200 ms, the lab run < 10 s.

Run: .venv/bin/python benchmarks/bench_web.py (CRITMIN_BENCH_CACHE=DIR reuses the background
analyses of an earlier run)."""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from critmin.api.app import create_app
from critmin.ledger.service import Ledger
from critmin.web import WebSettings

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: Each interaction sequence (and the lab run) is repeated this many times; medians are printed.
ROUNDS = 3
#: Issue 12's targets: an explorer interaction (ms), first paint (ms), a lab run (s).
TARGET_MS = 200
PAINT_MS = 1000
LAB_S = 10


def report(what: str, rounds: list[list[tuple[float, float, float]]]) -> None:
    """Median over every interaction of every round, and each round's median."""
    flat = [x for r in rounds for x in r]
    med = [statistics.median(r[i] for r in flat) for i in range(3)]
    per_round = ", ".join(f"{statistics.median(x[0] for x in r):.0f}" for r in rounds)
    print(
        f"chain explorer {what}: median {med[0]:.0f} ms from the change event to the last chart "
        f"drawn, {med[0] / TARGET_MS:.2f}x the {TARGET_MS} ms target (median of each of "
        f"{len(rounds)} rounds: {per_round}); "
        f"{med[1]:.0f} ms as Playwright sees it; JSON fetch {med[2]:.0f} ms"
    )


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    # CRITMIN_BENCH_CACHE: reuse the background analyses of an earlier run (same data version)
    cache = Path(os.environ.get("CRITMIN_BENCH_CACHE", folder))
    db = Ledger.open(f"sqlite:///{folder / 'ledger.db'}", create=True)
    app = create_app(db, WebSettings(cache=cache, rank_runs=10, plan_runs=10))
    web = app.state.web
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    for _ in range(200):
        try:
            httpx.get(url + "/static/app.css", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    web.warm()  # what `critmin serve` does in the background at start
    for name in ("rank", "plan"):
        job = web.state.analysis(name)
        while job.status == "running":
            time.sleep(0.5)
    print(f"server start and background analyses (10 draws): {time.perf_counter() - t:.1f} s")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url + "/")  # warm-up
        paints = []
        for _ in range(5):
            page.goto(url + "/")
            paints.append(
                page.evaluate(
                    "(() => { const p = performance.getEntriesByName('first-contentful-paint');"
                    " return p.length ? p[0].startTime :"
                    " performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd; })()"
                )
            )
        print(
            "overview first contentful paint (or DOMContentLoaded where headless reports no "
            f"paint), warm server: median {statistics.median(paints):.0f} ms, "
            f"{statistics.median(paints) / PAINT_MS:.2f}x the {PAINT_MS:,} ms target"
        )
        page.goto(url + "/chain/lithium", wait_until="networkidle")
        page.wait_for_selector("#fig-map .main-svg")

        def interact(select: str, value: str) -> tuple[float, float, float]:
            """(change event to last chart redrawn, the same seen from Playwright, the JSON
            fetch), ms. The first excludes Playwright's own round trips."""
            page.evaluate("window.critminLastUpdate = 0")
            t0 = page.evaluate("performance.now()")
            page.select_option(select, value)
            page.wait_for_function("window.critminLastUpdate > 0")
            done = page.evaluate(
                "[window.critminInteractionMs, window.critminLastUpdate, window.critminFetchMs]"
            )
            return float(done[0]), float(done[1]) - t0, float(done[2])

        minerals = ("cobalt", "nickel", "graphite", "gallium", "cobalt", "lithium")
        rounds = [[interact("#mineral", m) for m in minerals] for _ in range(ROUNDS)]
        report("mineral switch (fetch + redraw of the charts on screen)", rounds)
        stages = ("refining", "mining", "cells", "cathode")
        rounds = [[interact("#stage", s) for s in stages] for _ in range(ROUNDS)]
        report("stage switch on lithium", rounds)
        labs = []
        for i in range(ROUNDS):
            page.goto(url + "/lab", wait_until="networkidle")
            page.fill("input[name=runs]", "1000")
            page.fill("input[name=seed]", str(i))
            t0 = time.perf_counter()
            page.click("#run")
            page.wait_for_selector("#lab-charts .js-plotly-plot .main-svg", timeout=300_000)
            labs.append(time.perf_counter() - t0)
        print(
            "lab: 1,000-draw scenario run and drawn, s: "
            + ", ".join(f"{x:.1f}" for x in labs)
            + f"; median {statistics.median(labs):.1f} s, "
            + f"{statistics.median(labs) / LAB_S:.2f}x the {LAB_S} s target"
        )
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
