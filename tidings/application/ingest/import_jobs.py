"""Use cases: the web import wizard's jobs behind the ``ImportJobs`` port — upload, queue a run,
run it in a worker thread that records its progress, and tell a job a stopped process left
running (its heartbeat is stale) as failed, so it may be run again. The import itself is
:func:`~tidings.application.ingest.imports.import_contacts`."""

from __future__ import annotations

import io
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tidings.application.ingest.imports import ImportFileError, ImportOptions, ImportReport, import_contacts
from tidings.application.ports.import_jobs import ImportJobs
from tidings.application.ports.ingest import ImportStore
from tidings.domain.imports.jobs import KEEP_FOR, ImportJob

log = logging.getLogger(__name__)

Now = Callable[[], datetime]


def upload(jobs: ImportJobs, *, owner: int, filename: str, text: str, header: list[str], preview: list[list[str]],
           total: int, preset: str | None, now: datetime) -> ImportJob:  # fmt: skip
    """A new job in the ``mapping`` state (old finished jobs are purged on the way)."""
    jobs.purge(now - KEEP_FOR)
    job = ImportJob(secrets.token_urlsafe(12), owner, filename, text, header, preview, total, now, preset=preset)
    jobs.add(job)
    return job


def current(jobs: ImportJobs, job_id: str, now: datetime) -> ImportJob | None:
    """The job as it stands; one left queued or running by a stopped process is failed first."""
    job = jobs.get(job_id)
    if job is not None and job.stale(now):
        jobs.finish(job_id, state="failed", counts=job.counts, rejected=job.rejected, now=now,
                    error=f"the import stopped after {job.processed} rows (the server restarted?): run it again; "
                          "rows already imported are matched, not duplicated")  # fmt: skip
        job = jobs.get(job_id)
    return job


def options_of(job: ImportJob) -> ImportOptions:
    o = job.options
    return ImportOptions(
        mapping=dict(job.mapping), tags=list(o.get("tags") or []), consent_channel=o.get("consent_channel"),
        consent_source=job.consent_source, consent_status=str(o.get("consent_status") or "granted"),
        source=str(o.get("source") or "import"), preset=job.preset, dry_run=job.dry_run,
    )  # fmt: skip


def report_counts(report: ImportReport) -> dict[str, int]:
    return {"rows": report.rows, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "suppressed": report.suppressed}  # fmt: skip


def run(jobs: ImportJobs, store: ImportStore, job_id: str, now: Now, heartbeat: Now) -> None:
    """Run a queued job to its end (``now``: the product's clock for the contacts written;
    ``heartbeat``: real time for the job's progress, which tells a stopped run)."""
    if not jobs.start(job_id, heartbeat()):
        return
    job = jobs.get(job_id)
    if job is None:
        return
    opts = options_of(job)
    try:
        report = import_contacts(store, io.StringIO(job.text, newline=""), opts, now,
                                 lambda rows: jobs.progress(job_id, rows, heartbeat()))  # fmt: skip
    except ImportFileError as exc:
        jobs.finish(job_id, state="failed", counts={}, rejected=[], error=str(exc), now=heartbeat())
        return
    except Exception as exc:  # the page says so; the log has the trace
        log.exception("import job %s failed", job_id)
        jobs.finish(job_id, state="failed", counts={}, rejected=[], now=heartbeat(),
                    error=f"the import stopped: {type(exc).__name__}: {exc}")  # fmt: skip
        return
    rejected = [{"line": r.line, "reason": r.reason, "row": list(r.row)} for r in report.rejected]
    jobs.finish(job_id, state="checked" if opts.dry_run else "done", counts=report_counts(report),
                rejected=rejected, error="", now=heartbeat())  # fmt: skip


def start(jobs: ImportJobs, store: ImportStore, job_id: str, *, mapping: Mapping[str, str], options: Mapping[str, Any],
          consent_source: str, dry_run: bool, now: Now, heartbeat: Now) -> threading.Thread | None:  # fmt: skip
    """Queue the run and start its worker thread; None when the job was not runnable (already
    queued by another request, or running)."""
    if not jobs.queue(job_id, mapping=mapping, options=options, consent_source=consent_source, dry_run=dry_run,
                      now=heartbeat()):  # fmt: skip
        return None
    thread = threading.Thread(target=run, args=(jobs, store, job_id, now, heartbeat), name=f"import-{job_id}",
                              daemon=True)  # fmt: skip
    thread.start()
    return thread
