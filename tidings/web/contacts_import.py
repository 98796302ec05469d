"""Pages: the CSV import wizard — upload (a plain CSV, or a vendor's export whose preset pre-fills
the mapping and records consent with its proof), map the columns (with the first rows as a preview),
choose the consent to record, run (in a thread, off the event loop; the page polls its
progress with htmx; a dry run reports first and writes nothing), then the report with every
rejected row (line, column, message), also as a CSV download. The import itself is
``application/ingest/imports.import_contacts``.

Jobs live in this process's memory for an hour (a server with ``--api-processes N`` > 1
should serve the wizard from one process)."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from tidings.application.access.users import Session
from tidings.application.ingest.imports import (
    ImportFileError,
    ImportOptions,
    ImportReport,
    auto_field,
    import_contacts,
)
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import CONSENT_STATUSES, neutralise_cell
from tidings.domain.imports.presets import PRESETS, MissingColumns
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.web.core import PageNotFound, WebRoute, is_htmx, render
from tidings.web.security import FormFields, Writer, container

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute)

PREVIEW_ROWS = 5
KEEP_SECONDS = 3600
TARGETS = (*PROFILE_FIELDS, "tags", *(f"consent_{c}" for c in CONSENT_CHANNELS), "attributes", "ignore")


@dataclass
class ImportJob:
    id: str
    owner: int
    filename: str
    text: str
    header: list[str]
    preview: list[list[str]]
    total: int
    created: float = field(default_factory=time.monotonic)
    state: str = "mapping"  # mapping | running | checked (a dry run's report) | done | failed
    processed: int = 0
    report: ImportReport | None = None
    error: str = ""
    source: str = ""
    #: a vendor preset chosen at upload (its mapping pre-fills the columns; consent proof on run)
    preset: str | None = None
    dry_run: bool = False

    def suggested(self) -> dict[str, str]:
        """The field each column maps to before the user changes it: the preset's, or by header name."""
        if self.preset:
            return PRESETS[self.preset].column_map(self.header)
        return {h: auto_field(h) for h in self.header}

    @property
    def percent(self) -> int:
        return min(100, int(self.processed * 100 / self.total)) if self.total else 100

    def rejected_rows(self) -> list[dict[str, Any]]:
        """Each rejected row as line, column (when the reason names one), message."""
        out = []
        for r in self.report.rejected if self.report else []:
            column, sep, message = r.reason.partition(": ")
            if not sep or column not in self.header:
                column, message = "", r.reason
            out.append({"line": r.line, "column": column, "message": message, "row": r.row})
        return out


_JOBS: dict[str, ImportJob] = {}
_LOCK = threading.Lock()


def _job(job_id: str, session: Session) -> ImportJob:
    with _LOCK:
        now = time.monotonic()
        for key in [k for k, j in _JOBS.items() if now - j.created > KEEP_SECONDS and j.state != "running"]:
            del _JOBS[key]
        job = _JOBS.get(job_id)
    if job is None or job.owner != session.user.id:
        raise PageNotFound(f"Import {job_id}")
    return job


PRESET_LABELS = {name: p.label for name, p in PRESETS.items()}


@router.get("/contacts/import")
def upload_form(request: Request, session: Session = Writer) -> Response:
    ctx = {"job": None, "error": "", "presets": PRESET_LABELS}
    return render(request, "contacts_import.html", ctx, page="contacts")


def _upload_error(request: Request, msg: str) -> Response:
    return render(request, "contacts_import.html", {"job": None, "error": msg, "presets": PRESET_LABELS}, status=422)


@router.post("/contacts/import")
def upload(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _upload_error(request, "Choose a CSV file.")
    try:
        text = upload.file.read().decode("utf-8-sig")
        rows = csv.reader(io.StringIO(text))
        header = [h.strip() for h in next(rows)]
        preview = [r for _, r in zip(range(PREVIEW_ROWS), rows, strict=False)]
    except UnicodeDecodeError:
        return _upload_error(request, "The file is not UTF-8 text.")
    except (StopIteration, csv.Error) as exc:
        msg = (
            "The file is empty (expected a header row)." if isinstance(exc, StopIteration) else f"Not a CSV file: {exc}"
        )
        return _upload_error(request, msg)
    if not any(header) or len(set(header)) != len(header):
        return _upload_error(request, "The header row is empty or repeats a column name.")
    preset = str(form.get("preset", "")) or None
    if preset is not None:
        if preset not in PRESETS:
            return _upload_error(request, "Choose a file format from the list.")
        try:
            PRESETS[preset].column_map(header)
        except MissingColumns as exc:
            return _upload_error(request, str(exc))
    total = max(0, sum(1 for line in io.StringIO(text) if line.strip()) - 1)
    job = ImportJob(
        secrets.token_urlsafe(12), session.user.id, upload.filename or "contacts.csv", text, header, preview, total
    )
    job.preset = preset
    with _LOCK:
        _JOBS[job.id] = job
    return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)


def _page(request: Request, job: ImportJob, error: str = "", status: int = 200) -> Response:
    ctx = {
        "job": job,
        "error": error,
        "auto": job.suggested(),
        "targets": TARGETS,
        "channels": CONSENT_CHANNELS,
        "statuses": CONSENT_STATUSES,
    }
    if is_htmx(request) and job.state == "checked":  # the dry run's report sits above the mapping form
        return Response("", headers={"HX-Redirect": f"/contacts/import/{job.id}"})
    if is_htmx(request) and job.state != "mapping":
        return render(request, "contacts_import.html", ctx, block="progress")
    return render(request, "contacts_import.html", ctx, status=status, page="contacts")


@router.get("/contacts/import/{job_id}")
def job_page(job_id: str, request: Request, session: Session = Writer) -> Response:
    return _page(request, _job(job_id, session))


@router.post("/contacts/import/{job_id}/run")
def run(job_id: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    job = _job(job_id, session)
    if job.state not in ("mapping", "checked"):
        return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)
    suggested = job.suggested()
    mapping = {h: str(form.get(f"map_{i}", "")) or suggested[h] for i, h in enumerate(job.header)}
    channel = str(form.get("consent_channel", "")) or None
    status = str(form.get("consent_status", "granted"))
    if channel is not None and channel not in CONSENT_CHANNELS or status not in CONSENT_STATUSES:
        return _page(request, job, "Choose a consent channel and status from the lists.", 422)
    job.source = str(form.get("consent_source", "")).strip()[:200] or f"import:{job.filename}"
    tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    opts = ImportOptions(
        mapping=mapping,
        tags=tags,
        consent_channel=channel,
        consent_source=job.source,
        consent_status=status,
        source=f"web:{session.user.email}",
        preset=job.preset,
        dry_run=form.get("dry_run") == "1",
    )
    job.dry_run = opts.dry_run
    c = container(request)

    def work() -> None:
        def progress(rows: int) -> None:
            job.processed = rows

        try:
            job.report = import_contacts(c.engine, io.StringIO(job.text), opts, c.clock.now, progress)
            job.state = "done" if not opts.dry_run else "checked"
        except ImportFileError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # the page says so; the log has the trace
            log.exception("web import %s failed", job.id)
            job.error, job.state = f"the import stopped: {type(exc).__name__}: {exc}", "failed"

    job.state = "running"
    threading.Thread(target=work, name=f"web-import-{job.id}", daemon=True).start()
    return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)


@router.get("/contacts/import/{job_id}/errors.csv")
def errors_csv(job_id: str, request: Request, session: Session = Writer) -> Response:
    job = _job(job_id, session)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["line", "column", "message", *job.header])
    for r in job.rejected_rows():
        w.writerow([r["line"], r["column"], *(neutralise_cell(v) for v in (r["message"], *r["row"]))])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-errors-{job.id}.csv"'},
    )
