"""Pages: the CSV import wizard — upload (a plain CSV, or a vendor's export whose preset pre-fills
the mapping and records consent with its proof), map the columns (with the first rows as a preview),
choose the consent to record, run (in a thread, off the event loop; the page polls its
progress with htmx; a dry run reports first and writes nothing), then the report with every
rejected row (line, column, message), also as a CSV download. The import itself is
``application/ingest/imports.import_contacts``.

Jobs are stored (table ``import_jobs``, the ``ImportJobs`` port; ``application/ingest/import_jobs``):
a restart keeps their progress and report, every process serves every job, and a run a stopped
process left behind shows as failed and may be run again. Finished jobs are kept for a week."""

from __future__ import annotations

import csv
import io
import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from tidings.application.access.users import Session
from tidings.application.ingest import import_jobs as jobs_uc
from tidings.application.ingest.imports import auto_field
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import CONSENT_STATUSES, neutralise_cell
from tidings.domain.imports.jobs import RUNNABLE, ImportJob
from tidings.domain.imports.presets import PRESETS, MissingColumns
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.web.core import PageNotFound, WebRoute, is_htmx, render
from tidings.web.security import FormFields, Writer, container

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute)

PREVIEW_ROWS = 5
KEEP_SECONDS = 3600
TARGETS = (*PROFILE_FIELDS, "tags", *(f"consent_{c}" for c in CONSENT_CHANNELS), "attributes", "ignore")


def _job(request: Request, job_id: str, session: Session) -> ImportJob:
    c = container(request)
    job = jobs_uc.current(c.import_jobs, job_id, c.lease_clock.now())
    if job is None or job.owner != session.user.id:
        raise PageNotFound(f"Import {job_id}")
    return job


def _suggested(job: ImportJob) -> dict[str, str]:
    return job.suggested({h: auto_field(h) for h in job.header})


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
        if "\x00" in text:  # no database stores it as text (PostgreSQL refuses it)
            return _upload_error(request, "The file holds a NUL character: it is not a CSV text file.")
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
    c = container(request)
    name = "".join(ch for ch in (upload.filename or "") if ch.isprintable())[:255] or "contacts.csv"
    job = jobs_uc.upload(c.import_jobs, owner=session.user.id, filename=name, text=text, header=header,
                         preview=preview, total=total, preset=preset, now=c.lease_clock.now())  # fmt: skip
    return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)


def _page(request: Request, job: ImportJob, error: str = "", status: int = 200) -> Response:
    ctx = {
        "job": job,
        "error": error,
        "auto": _suggested(job),
        "targets": TARGETS,
        "channels": CONSENT_CHANNELS,
        "statuses": CONSENT_STATUSES,
    }
    if is_htmx(request) and job.state in ("checked", "failed"):  # the report or error sits above the mapping form
        return Response("", headers={"HX-Redirect": f"/contacts/import/{job.id}"})
    if is_htmx(request) and job.state not in RUNNABLE:
        return render(request, "contacts_import.html", ctx, block="progress")
    return render(request, "contacts_import.html", ctx, status=status, page="contacts")


@router.get("/contacts/import/{job_id}")
def job_page(job_id: str, request: Request, session: Session = Writer) -> Response:
    return _page(request, _job(request, job_id, session))


@router.post("/contacts/import/{job_id}/run")
def run(job_id: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    job = _job(request, job_id, session)
    if job.state not in RUNNABLE:
        return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)
    suggested = _suggested(job)
    mapping = {h: str(form.get(f"map_{i}", "")) or suggested[h] for i, h in enumerate(job.header)}
    channel = str(form.get("consent_channel", "")) or None
    status = str(form.get("consent_status", "granted"))
    if channel is not None and channel not in CONSENT_CHANNELS or status not in CONSENT_STATUSES:
        return _page(request, job, "Choose a consent channel and status from the lists.", 422)
    source = str(form.get("consent_source", "")).strip()[:200] or f"import:{job.filename}"
    tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    options = {"tags": tags, "consent_channel": channel, "consent_status": status,
               "source": f"web:{session.user.email}"}  # fmt: skip
    c = container(request)
    jobs_uc.start(c.import_jobs, c.uow, job.id, mapping=mapping, options=options, consent_source=source,
                  dry_run=form.get("dry_run") == "1", now=c.clock.now, heartbeat=c.lease_clock.now)  # fmt: skip
    return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)


@router.get("/contacts/import/{job_id}/errors.csv")
def errors_csv(job_id: str, request: Request, session: Session = Writer) -> Response:
    job = _job(request, job_id, session)
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
