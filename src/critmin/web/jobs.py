"""Background jobs with progress: heavy computations never run on a page request.

A job runs one function in a daemon thread; the function reports ``progress(done, total)``.
Pages poll ``/web/jobs/{id}`` and draw the result when the job is done.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[int, int], None]


@dataclass
class Job:
    """One background computation and where it has got to."""

    label: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "running"
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def view(self) -> dict[str, Any]:
        """What a page polls: status, progress and timing (not the result)."""
        end = self.finished or time.time()
        return {
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "seconds": round(end - self.started, 2),
            "error": self.error,
            **self.info,
        }


class Jobs:
    """The jobs a server has started, by id (the oldest finished ones are forgotten)."""

    def __init__(self, keep: int = 50) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(self, label: str, fn: Callable[[Progress], Any], **info: Any) -> Job:
        job = Job(label=label, info=info)

        def run() -> None:
            try:
                job.result = fn(job.progress)
                job.status = "done"
            except Exception as exc:  # a failed job reports why; the server keeps running
                job.error = f"{type(exc).__name__}: {exc}"
                job.info["trace"] = traceback.format_exc(limit=3)
                job.status = "failed"
            finally:
                job.finished = time.time()

        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.status != "running"]
            for old in finished[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old.id]
        threading.Thread(target=run, name=f"critmin-{label}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        """Every job kept, running or finished."""
        with self._lock:
            return list(self._jobs.values())

    def done(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.status == "done"]
