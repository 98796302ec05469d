"""Port: the web import wizard's jobs, stored (``domain/imports/jobs.py``): a restart keeps their
progress and error report, and every process serves every job. SQL in ``store/import_jobs_sql.py``
(table ``import_jobs``), the twin in ``store/memory/import_jobs.py``; ``tests/contract`` runs both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.domain.imports.jobs import ImportJob


class ImportJobs(Protocol):
    def add(self, job: ImportJob) -> None:
        """Store a new job (state ``mapping``); its id is given."""
        ...

    def get(self, job_id: str) -> ImportJob | None: ...

    def queue(self, job_id: str, *, mapping: Mapping[str, str], options: Mapping[str, Any], consent_source: str,
              dry_run: bool, now: datetime) -> bool:  # fmt: skip
        """``mapping``/``checked`` -> ``queued`` with what the run was asked; False (and nothing
        changed) when the job is not runnable any more (another request queued it first)."""
        ...

    def start(self, job_id: str, now: datetime) -> bool:
        """``queued`` -> ``running``; False when it was not queued."""
        ...

    def progress(self, job_id: str, processed: int, now: datetime) -> None:
        """Rows read so far (also the heartbeat a stale job is told by)."""
        ...

    def finish(self, job_id: str, *, state: str, counts: Mapping[str, int], rejected: Sequence[Mapping[str, Any]],
               error: str, now: datetime) -> None:  # fmt: skip
        """``done`` / ``checked`` / ``failed`` with the report (counts and every rejected row).

        A ``done`` job's uploaded file is dropped at once (it can never run again, and a whole
        contact list is personal data kept for nothing); ``checked`` (a dry run) and ``failed``
        keep it, to be run for real or again."""
        ...

    def purge(self, finished_before: datetime) -> int:
        """Delete jobs not queued or running and last changed before the given time; how many."""
        ...
