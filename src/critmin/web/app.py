"""Mount the web application on the ledger API's FastAPI app (routes hidden from OpenAPI)."""

from __future__ import annotations

import threading
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from critmin.report import numbers
from critmin.web.state import WebSettings, WebState

if TYPE_CHECKING:
    from critmin.web.explorer import Explorer

STATIC = Path(str(resources.files("critmin.web") / "static"))

#: The navigation, in order: (path, label).
NAV = (
    ("/", "Overview"),
    ("/chain", "Chains"),
    ("/lab", "Scenario lab"),
    ("/criticality", "Criticality"),
    ("/reserve", "Reserve plan"),
    ("/transactions", "Transactions"),
    ("/console", "Operations"),
    ("/docs", "API"),
)


def plotly_js() -> Path:
    """plotly.js as the ``plotly`` Python package ships it."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("critmin.web") / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = numbers.pct
    env.filters["usd"] = numbers.usd
    env.filters["num"] = numbers.num
    env.filters["header"] = numbers.header
    env.globals["usd_error"] = numbers.usd_error
    env.globals["cell"] = numbers.cell
    env.globals["nav"] = NAV
    return env


class Web:
    """What the routes share: the state, the explorer and the templates."""

    def __init__(self, app: FastAPI, settings: WebSettings) -> None:
        self.app = app
        self.state = WebState(settings)
        self.env = environment()
        self._lock = threading.Lock()
        self._warming = False

    @cached_property
    def explorer(self) -> Explorer:
        from critmin.web.explorer import Explorer

        return Explorer(self.state)

    def warm_explorer(self) -> None:
        """Once, in the background, when the first page is asked for: the explorer's tables
        and each mineral's figures (seconds of work that would otherwise fall on a click)."""
        with self._lock:
            if self._warming:
                return
            self._warming = True
        threading.Thread(target=self.warm, args=(False,), daemon=True).start()

    def warm(self, analyses: bool = True) -> None:
        """Fill the caches a first visitor would otherwise wait for: the tables, each mineral's
        explorer figures, then (in the background, one at a time) the ranking and the plan."""
        for table in ("exposure", "shares", "yearly", "baci"):
            getattr(self.state, table)
        declared = list(dict.fromkeys(self.state.chain().dataset["chains"]["mineral"]))
        others = [
            m for m in self.state.chain().production.mineral.values.tolist() if m not in declared
        ]
        for mineral in [*declared, *others]:
            self.explorer.figures(str(mineral), None, None)
        for mineral in declared:  # then each stage of the mapped chains
            for stage in self.explorer.figures(str(mineral), None, None)["stages"]:
                self.explorer.figures(str(mineral), None, stage)
        if analyses:
            self.state.warm()

    def page(self, request: Request, template: str, **context: Any) -> HTMLResponse:
        self.warm_explorer()
        html = self.env.get_template(template).render(path=request.url.path, **context)
        return HTMLResponse(html)


def mount(app: FastAPI, settings: WebSettings | None = None) -> Web:
    """Add the pages, their data endpoints and the static assets to ``app``."""
    from critmin.web import console, downloads, lab, pages

    web = Web(app, settings or WebSettings())
    app.state.web = web
    router = APIRouter(include_in_schema=False)

    @router.get("/static/plotly.min.js")
    def plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers=_CACHE)

    @router.get("/static/{name:path}")
    def static(name: str) -> Response:
        path = (STATIC / name).resolve()
        if not path.is_file() or STATIC.resolve() not in path.parents:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers=_CACHE)

    for module in (pages, lab, console, downloads):
        router.include_router(module.router(web))
    app.include_router(router)
    if web.state.settings.start_analyses:
        threading.Thread(target=web.warm, name="critmin-warm", daemon=True).start()
    return web


_CACHE = {"Cache-Control": "public, max-age=3600"}
