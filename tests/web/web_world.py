"""The live test site the browser tests share."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from critmin.ledger.service import Ledger
from critmin.web import WebSettings


@dataclass
class Site:
    url: str
    tokens: dict[str, str]
    ledger: Ledger
    settings: WebSettings
    web: Any

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method != "GET":  # the API requires a key on every write; one per call here
            headers["Idempotency-Key"] = f"test-{uuid.uuid4().hex}"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def wait_for(self, name: str, timeout: float = 2500) -> None:
        """Wait until the background analysis ``name`` (rank, plan) has finished. The plan
        job (10 draws, 2 workers, its parameter sensitivity spliced) measured on 3 Dec 2026
        (docs/performance.md): 535 s wall on its own at load 3.4-8.7, and 834 s inside this
        test at load 7-10 (beside the page tests and other sessions' work), where the former
        900 s left 1.08x. 2,500 s is 3x the in-test figure; a job that fails ends the wait at
        once, so only a stuck one waits it out."""
        job = self.web.state.analysis(name)
        end = time.time() + timeout
        while job.status == "running" and time.time() < end:
            time.sleep(1)
        if job.status != "done":
            pytest.fail(f"{name}: {job.status} {job.error or ''}")
