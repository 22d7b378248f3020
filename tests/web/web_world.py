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

    def wait_for(self, name: str, timeout: float = 900) -> None:
        """Wait until the background analysis ``name`` (rank, plan) has finished. The plan
        job (10 draws, 2 workers, its parameter sensitivity spliced) measured 535 s wall,
        247 s CPU at load 3.4-8.7 on 3 Dec 2026 (docs/performance.md): 900 s is 1.7x that,
        kept (not lowered)."""
        job = self.web.state.analysis(name)
        end = time.time() + timeout
        while job.status == "running" and time.time() < end:
            time.sleep(1)
        if job.status != "done":
            pytest.fail(f"{name}: {job.status} {job.error or ''}")
