"""A live critmin server (ledger API + web application) on a loopback port, with a seated
board, a price, users with tokens, an open motion and an acquisition written through the API;
and a headless Debian Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from web_world import Site

from critmin.api.app import create_app
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role
from critmin.web import WebSettings

CHROMIUM = os.environ.get("CRITMIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(os.environ.get("CRITMIN_ARTEFACTS", "test-artefacts")) / "web"
MEMBERS = [f"member{i}" for i in range(1, 8)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _world(db: Ledger) -> None:
    db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
    for i, member in enumerate(MEMBERS, start=1):
        db.submit(
            ev.SeatFilled(
                seat=i, member=member, term_start=date(2025, 1, 1), term_end=date(2035, 1, 1)
            ),
            "secretary",
        )
    db.submit(
        ev.PriceRecorded(
            mineral="cobalt", usd_per_t=Decimal("30000"), as_of=date(2025, 1, 1), source="test"
        ),
        "operator",
    )
    db.submit(
        ev.ContributionProposed(
            contribution_id="jp-web", partner="JPN", amount_usd=Decimal("1234567")
        ),
        "partner-jp",
    )


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    db = Ledger.open(f"sqlite:///{folder / 'ledger.db'}", create=True)
    _world(db)
    tokens = {
        "member1": add_user(db.engine, "member1", Role.BOARD),
        "operator": add_user(db.engine, "operator", Role.OPERATOR),
        "partner-jp": add_user(db.engine, "partner-jp", Role.PARTNER, country="JPN"),
    }
    settings = WebSettings(cache=folder / "cache", rank_runs=10, plan_runs=10, start_analyses=True)
    app = create_app(db, settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/static/app.css", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    s = Site(url, tokens, db, settings, app.state.web)
    r = s.api(
        "POST",
        "/acquisitions",
        tokens["operator"],
        json={
            "lot_id": "lot-web-1",
            "mineral": "cobalt",
            "form": "metal",
            "quantity_t": "12.5",
            "location": "depot-a",
            "price_usd_per_t": "30000",
            "seller": "Acme Mining",
            "seller_country": "AUS",
        },
    )
    assert r.status_code == 201, r.text
    r = s.api(
        "POST",
        "/board/motions",
        tokens["member1"],
        json={
            "motion_id": "shock-web",
            "motion": {
                "kind": "declare_supply_shock",
                "minerals": ["cobalt"],
                "description": "test",
            },
        },
    )
    assert r.status_code == 201, r.text
    yield s
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") in {"1", "true"}:
            pytest.fail(f"CI must run the browser tests: {CHROMIUM} missing (.ci/run installs it)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    if ARTEFACTS.exists():
        shutil.rmtree(ARTEFACTS)
    ARTEFACTS.mkdir(parents=True)
    return ARTEFACTS
