"""Web application speed (prints figures; not a test): first paint of the overview from a warm
server, chain explorer interactions, a 1,000-draw scenario from the lab, in a real headless
Chromium against a loopback server."""

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
            f"paint), warm server: median {statistics.median(paints):.0f} ms"
        )
        page.goto(url + "/chain/lithium", wait_until="networkidle")
        times: list[float] = []
        fetches: list[float] = []
        for mineral in ("cobalt", "nickel", "graphite", "gallium", "cobalt", "lithium"):
            page.evaluate("window.critminLastUpdate = 0")
            t0 = page.evaluate("performance.now()")
            page.select_option("#mineral", mineral)
            page.wait_for_function("window.critminLastUpdate > 0")
            times.append(page.evaluate("window.critminLastUpdate") - t0)
            fetches.append(page.evaluate("window.critminFetchMs"))
        print(
            "chain explorer mineral switch (fetch + redraw of five charts), ms: "
            + ", ".join(f"{x:.0f}" for x in times)
            + f"; median {statistics.median(times):.0f}"
        )
        print("  of which the JSON fetch, ms: " + ", ".join(f"{x:.0f}" for x in fetches))
        times, fetches = [], []
        for stage in ("refining", "mining", "cells", "cathode"):
            page.evaluate("window.critminLastUpdate = 0")
            t0 = page.evaluate("performance.now()")
            page.select_option("#stage", stage)
            page.wait_for_function("window.critminLastUpdate > 0")
            times.append(page.evaluate("window.critminLastUpdate") - t0)
            fetches.append(page.evaluate("window.critminFetchMs"))
        print(
            "chain explorer stage switch on lithium (first time each), ms: "
            + ", ".join(f"{x:.0f}" for x in times)
            + "; JSON fetch: "
            + ", ".join(f"{x:.0f}" for x in fetches)
        )
        page.goto(url + "/lab", wait_until="networkidle")
        page.fill("input[name=runs]", "1000")
        t0 = time.perf_counter()
        page.click("#run")
        page.wait_for_selector("#lab-charts .js-plotly-plot .main-svg", timeout=300_000)
        print(f"lab: 1,000-draw scenario run and drawn in {time.perf_counter() - t0:.1f} s")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
