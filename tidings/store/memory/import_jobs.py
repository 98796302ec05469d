"""The in-memory twin of the ``ImportJobs`` port (same meaning as ``store/import_jobs_sql.py``)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from tidings.domain.imports.jobs import RUNNABLE, ImportJob


class MemoryImportJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, ImportJob] = {}
        self.lock = threading.Lock()

    def add(self, job: ImportJob) -> None:
        with self.lock:
            if job.id in self.jobs:
                raise ValueError(f"import job {job.id} exists")
            self.jobs[job.id] = replace(copy.deepcopy(job), updated_at=job.updated_at or job.created_at)

    def get(self, job_id: str) -> ImportJob | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return copy.deepcopy(job) if job is not None else None

    def _move(self, job_id: str, states: Sequence[str], **values: Any) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.state not in states:
                return False
            self.jobs[job_id] = replace(job, **copy.deepcopy(values))
            return True

    def queue(self, job_id: str, *, mapping: Mapping[str, str], options: Mapping[str, Any], consent_source: str,
              dry_run: bool, now: datetime) -> bool:  # fmt: skip
        return self._move(job_id, RUNNABLE, state="queued", mapping=dict(mapping), options=dict(options),
                          consent_source=consent_source[:200], dry_run=dry_run, processed=0, counts={}, rejected=[],
                          error="", updated_at=now, finished_at=None)  # fmt: skip

    def start(self, job_id: str, now: datetime) -> bool:
        return self._move(job_id, ("queued",), state="running", updated_at=now)

    def progress(self, job_id: str, processed: int, now: datetime) -> None:
        self._move(job_id, ("running",), processed=processed, updated_at=now)

    def finish(self, job_id: str, *, state: str, counts: Mapping[str, int], rejected: Sequence[Mapping[str, Any]],
               error: str, now: datetime) -> None:  # fmt: skip
        dropped = {"text": ""} if state == "done" else {}  # the file of a done job is not kept
        self._move(job_id, ("queued", "running"), state=state, counts=dict(counts),
                   rejected=[dict(r) for r in rejected], error=error, updated_at=now, finished_at=now,
                   **dropped)  # fmt: skip

    def purge(self, finished_before: datetime) -> int:
        with self.lock:
            old = [k for k, j in self.jobs.items() if j.state not in ("queued", "running")
                   and (j.updated_at or j.created_at) < finished_before]  # fmt: skip
            for k in old:
                del self.jobs[k]
            return len(old)
