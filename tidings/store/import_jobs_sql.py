"""The ``ImportJobs`` port on SQL (table ``import_jobs``, ``schema_import_jobs.py``): each change
one short transaction; ``queue`` and ``start`` are conditional updates, so two processes never
both run one job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.domain.imports.jobs import RUNNABLE, ImportJob
from tidings.store.schema_import_jobs import import_jobs as T


def _job(r: Any) -> ImportJob:
    return ImportJob(
        id=r["id"], owner=int(r["owner"]), filename=r["filename"], text=r["csv_text"], header=list(r["header"]),
        preview=[list(x) for x in r["preview"]], total=int(r["total"]), created_at=r["created_at"],
        state=r["state"], preset=r["preset"], mapping=dict(r["mapping"]), options=dict(r["options"]),
        consent_source=r["consent_source"], dry_run=bool(r["dry_run"]), processed=int(r["processed"]),
        counts={k: int(v) for k, v in dict(r["counts"]).items()}, rejected=list(r["rejected"]), error=r["error"],
        updated_at=r["updated_at"], finished_at=r["finished_at"],
    )  # fmt: skip


class SqlImportJobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, job: ImportJob) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(T).values(
                id=job.id, owner=job.owner, filename=job.filename[:255], csv_text=job.text, header=job.header,
                preview=job.preview, total=job.total, state=job.state, preset=job.preset, mapping=job.mapping,
                options=job.options, consent_source=job.consent_source[:200], dry_run=job.dry_run,
                processed=job.processed, counts=job.counts, rejected=job.rejected, error=job.error,
                created_at=job.created_at, updated_at=job.updated_at or job.created_at, finished_at=job.finished_at,
            ))  # fmt: skip

    def get(self, job_id: str) -> ImportJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(T).where(T.c.id == job_id)).mappings().first()
        return _job(row) if row is not None else None

    def _move(self, job_id: str, states: Sequence[str], **values: Any) -> bool:
        with self.engine.begin() as conn:
            q = sa.update(T).where(T.c.id == job_id, T.c.state.in_(states)).values(**values)
            return bool(conn.execute(q).rowcount)

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
        dropped = {"csv_text": ""} if state == "done" else {}  # the file of a done job is not kept
        self._move(job_id, ("queued", "running"), state=state, counts=dict(counts),
                   rejected=[dict(r) for r in rejected], error=error, updated_at=now, finished_at=now,
                   **dropped)  # fmt: skip

    def purge(self, finished_before: datetime) -> int:
        with self.engine.begin() as conn:
            q = sa.delete(T).where(T.c.state.not_in(("queued", "running")), T.c.updated_at < finished_before)
            return int(conn.execute(q).rowcount or 0)
