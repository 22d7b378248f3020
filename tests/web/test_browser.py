"""The web application in a real headless Chromium: every page loads with no console error and
no request leaving the machine, fits a 390 px phone without horizontal scrolling, and is
screenshot at 1,440 and 390 px; the explorer, the lab, the console and the public page work."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from web_world import Site

from critmin.ledger.state import Fund
from critmin.report.numbers import usd

WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}
PAGES = {
    "overview": "/",
    "chain": "/chain/lithium",
    "lab": "/lab",
    "criticality": "/criticality",
    "reserve": "/reserve",
    "transactions": "/transactions",
    "console": "/console",
    "docs": "/docs",
}


class Watched:
    """A page with its console errors and its requests to anywhere but the test server."""

    def __init__(self, page: Any, site: Site) -> None:
        self.page = page
        self.errors: list[str] = []
        self.external: list[str] = []
        host = urlparse(site.url).netloc
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r: Any) -> None:
            url = r.request.url
            if urlparse(url).netloc == host or url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                self.external.append(url)
                r.abort()

        page.route("**/*", route)

    def check(self) -> None:
        assert not self.errors, self.errors
        assert not self.external, self.external


@pytest.fixture
def watched(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Watched]:
    width, height = WIDTHS[getattr(request, "param", "desktop")]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    w = Watched(page, site)
    yield w
    context.close()


@pytest.mark.parametrize("watched", list(WIDTHS), indirect=True)
@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_offline_and_fits(
    watched: Watched, site: Site, artefacts: Path, name: str, request: pytest.FixtureRequest
) -> None:
    if name in {"criticality", "reserve", "overview"}:
        site.wait_for("rank")
        site.wait_for("plan")
    page = watched.page
    width = page.viewport_size["width"]
    page.goto(site.url + PAGES[name], wait_until="networkidle")
    if name in {"chain", "reserve"}:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    if name == "docs":
        page.wait_for_selector(".swagger-ui .info", timeout=30_000)
    page.wait_for_timeout(300)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    label = "phone" if width < 600 else "desktop"
    page.screenshot(path=str(artefacts / f"{name}-{width}.png"), full_page=True)
    watched.check()
    if label == "phone" and name != "docs":
        assert scroll <= width, f"{name} is {scroll} px wide at {width} px"


def test_chain_explorer_switches_mineral(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(site.url + "/chain/lithium", wait_until="networkidle")
    page.wait_for_selector("#fig-map .main-svg")
    page.select_option("#mineral", "cobalt")
    page.wait_for_function("document.getElementById('chain-name').textContent === 'Cobalt'")
    title = page.text_content("#fig-stages .gtitle")
    assert title is not None
    assert title.startswith("Cobalt")
    assert page.url.endswith("/chain/cobalt")
    # the map draws countries from the bundled topojson, and the table follows the mineral
    assert page.locator("#fig-map path.choroplethlocation").count() > 0
    assert "mining" in page.text_content("#exposure-table")
    # charts below the fold are drawn when scrolled towards, with the mineral now chosen
    page.locator("#fig-imports").scroll_into_view_if_needed()
    page.wait_for_selector("#fig-imports .main-svg", timeout=10_000)
    page.locator("#fig-hhi_series").scroll_into_view_if_needed()
    page.wait_for_selector("#fig-hhi_series .main-svg", timeout=10_000)
    want = page.request.get(site.url + "/web/chain/cobalt.json").json()["figures"]["hhi_series"]
    got = page.evaluate("document.getElementById('fig-hhi_series').data.map((t) => t.y)")
    assert got == [t.get("y") for t in want["data"]]
    watched.check()


def test_lab_runs_a_scenario_and_draws_it(watched: Watched, site: Site, artefacts: Path) -> None:
    page = watched.page
    page.goto(site.url + "/lab", wait_until="networkidle")
    page.fill("input[name=runs]", "200")
    page.fill("input[name=name]", "lab-test")
    page.click("#run")
    page.wait_for_selector("#lab-charts .js-plotly-plot .main-svg", timeout=120_000)
    rows = page.locator("#lab-table tbody tr, #lab-charts table tbody tr").count()
    assert rows > 0
    # calendar months on the time axis, not "period 1-12"
    ticks = page.locator("#lab-charts .xtick text").all_text_contents()
    assert any(
        t[:3]
        in {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
        for t in ticks
    ), ticks
    href = page.get_attribute("#lab-yaml", "href")
    assert href is not None
    text = page.request.get(site.url + href).text()
    assert "events:" in text
    assert "use:" in text
    page.screenshot(path=str(artefacts / "lab-run-1440.png"), full_page=True)
    watched.check()


def test_board_member_can_vote_and_public_cannot(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(site.url + "/console", wait_until="networkidle")
    assert page.locator("button.vote").count() == 0
    assert page.is_visible("#login-form")
    refused = site.api("POST", "/board/motions/shock-web/votes", None, json={"vote": "yes"})
    assert refused.status_code == 401
    page.fill("#token", site.tokens["member1"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("button.vote[data-vote=yes]")
    page.click("button.vote[data-vote=yes]")
    page.wait_for_function(
        "document.getElementById('motions').textContent.includes('member1: yes')"
    )
    votes = site.api("GET", "/board", site.tokens["member1"]).json()["motion"]
    assert any(m["votes"].get("member1") == "yes" for m in votes)
    assert "verified" in (page.text_content("#verify") or "")
    # dollars as every front end writes them (critmin.report.numbers.usd), by the server
    raw = site.api("GET", "/funds", site.tokens["member1"]).json()
    shown = [row.locator("td").all_text_contents() for row in page.locator("#funds tbody tr").all()]
    assert [cells[0] for cells in shown] == [f["fund_id"] for f in raw]
    for cells, f in zip(shown, raw, strict=True):
        fund = Fund.model_validate(f)
        assert cells[-2:] == [usd(fund.amount_usd), usd(fund.available)]
    # the holdings' cost too (12.5 t at $30,000/t: "$375.00K", not 375000.0)
    lots = site.api("GET", "/holdings", site.tokens["member1"]).json()
    shown = [r.locator("td").all_text_contents() for r in page.locator("#holdings tbody tr").all()]
    assert [cells[0] for cells in shown] == [lot["lot_id"] for lot in lots]
    for cells, lot in zip(shown, lots, strict=True):
        assert cells[-1] == usd(Decimal(str(lot["cost_usd"])))
    assert "$375.00K" in [cells[-1] for cells in shown]
    watched.check()


def test_partner_sees_its_contributions_in_written_dollars(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(site.url + "/console", wait_until="networkidle")
    page.fill("#token", site.tokens["partner-jp"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#partner-forms:not([hidden])")
    page.wait_for_selector("#funds tbody tr")
    own = site.api("GET", "/contributions", site.tokens["partner-jp"]).json()
    shown = [r.locator("td").all_text_contents() for r in page.locator("#funds tbody tr").all()]
    assert [cells[0] for cells in shown] == [f["fund_id"] for f in own]
    for cells, f in zip(shown, own, strict=True):
        fund = Fund.model_validate(f)
        assert cells[-2:] == [usd(fund.amount_usd), usd(fund.available)]
    assert ["jp-web", "pending", "", "$1.23M", "$0"] in shown
    watched.check()


def test_public_page_lists_an_api_transaction(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(site.url + "/transactions", wait_until="networkidle")
    body = page.text_content("#transactions") or ""
    assert "lot-web-1" in body
    assert "acquisition" in body
    assert "Acme Mining" not in body  # the seller is confidential
    csv = page.request.get(site.url + "/web/download/transactions.csv").text()
    assert "lot-web-1" in csv
    assert "Acme Mining" not in csv
    watched.check()


def test_operator_records_an_acquisition_from_the_console(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(site.url + "/console", wait_until="networkidle")
    page.fill("#token", site.tokens["operator"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#operator-forms:not([hidden])")
    form = page.locator("form[data-endpoint='/acquisitions']")
    for name, value in {
        "lot_id": "lot-console",
        "mineral": "cobalt",
        "form": "metal",
        "quantity_t": "2",
        "location": "depot-b",
        "price_usd_per_t": "30000",
        "seller": "Console Seller",
        "seller_country": "CAN",
    }.items():
        form.locator(f"input[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.getElementById('op-result').textContent.includes('recorded')")
    public = site.api("GET", "/public/transactions").json()
    assert any(t.get("lot_id") == "lot-console" for t in public)
    watched.check()


def test_reserve_page_says_why_and_tables_download(watched: Watched, site: Site) -> None:
    import io

    import openpyxl

    site.wait_for("rank")
    site.wait_for("plan")
    page = watched.page
    page.goto(site.url + "/reserve", wait_until="networkidle")
    page.wait_for_selector("#fig-per_dollar .main-svg")
    rows = page.locator("#sensitivity tbody tr")
    assert rows.count() == 6
    assert "loss per tonne short" in (page.text_content("#sensitivity") or "")
    # every assumed parameter of every held mineral: one row, flagged or not (never missing)
    from critmin.web.sensitivity import FORMS, MARKET

    plan = site.web.state.analysis("plan").result
    held = {h["mineral"] for h in plan["holdings"] if h["tonnes"] > 1e-6}
    ds = site.web.state.chain().dataset
    params, forms = ds["market_parameters"], ds["reserve_forms"]
    weak = params[
        (params["source_id"] == "CRITMIN_ASSUMPTION")
        | (params["estimated"].astype(str).str.lower() == "true")
    ]
    expected = {
        (p, m) for p, m in zip(weak["parameter"], weak["mineral"], strict=True) if m in held
    } & {(p, m) for p in MARKET for m in held}
    weak_forms = forms[forms["source_id"] == "CRITMIN_ASSUMPTION"]
    expected |= {(c, m) for m in set(weak_forms["mineral"]) & held for c in FORMS}
    assert expected
    table = page.locator("#assumed-sensitivity tbody tr")
    found = {
        (
            table.nth(i).get_attribute("data-parameter"),
            table.nth(i).locator("td").nth(1).text_content(),
            table.nth(i).get_attribute("data-flagged"),
        )
        for i in range(table.count())
    }
    names = site.web.state.names
    for p, m in expected:
        flags = {f for fp, fm, f in found if fp == p and fm == names.get(m, m)}
        assert flags & {"yes", "no"}, f"no flagged/unflagged row for {p} ({m})"
    page.wait_for_selector("#fig-assumed .main-svg")
    book = page.request.get(site.url + "/web/download/rank.xlsx").body()
    sheet = openpyxl.load_workbook(io.BytesIO(book)).active
    header = next(sheet.values)
    assert "expected_loss_usd" in header
    ranked = list(sheet.values)[1:]
    assert len(ranked) > 10
    csv = page.request.get(site.url + "/web/download/plan-holdings.csv").text()
    assert csv.startswith("lot,") or "mineral" in csv.splitlines()[0]
    watched.check()
