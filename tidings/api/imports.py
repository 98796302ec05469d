"""HTTP routes: CSV import of contacts (the same import as `tidings import contacts`) and the
web import wizard's stored jobs (`GET /api/imports/{id}`)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.ingest import import_jobs as jobs_uc
from tidings.application.ingest.imports import ImportFileError, ImportOptions, import_contacts
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.imports.presets import PRESETS

router = APIRouter(prefix="/api/imports", tags=["imports"], route_class=StrictRoute)


@router.post(
    "/contacts",
    dependencies=[RequireWrite],
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_contacts_csv(
    request: Request,
    response: Response,
    map: list[str] = Query(default=[], description="COLUMN=FIELD, repeatable"),  # noqa: A002
    tag: list[str] = Query(default=[], description="tag every imported contact"),
    consent_channel: str | None = Query(default=None, description="record consent on this channel for every row"),
    consent_source: str = "import",
    preset: str | None = Query(default=None, description="a vendor's export format: mailchimp, mautic, hubspot"),
    dry_run: bool = Query(default=False, description="check the file and report the counts; write nothing"),
    background: bool = Query(
        default=False,
        description="run as a stored job: 202 with its id at once; GET /api/imports/{id} for progress and report",
    ),
) -> dict[str, Any]:
    """Import contacts from CSV (a text/csv body or a multipart ``file``).

    200 with a report (created, updated, every rejected row with line and reason) when the file
    could be read; 400 when it cannot (not UTF-8, no header, a mapping naming an unknown column).
    With ``background=true``: 202 and the job's id; the file is read by a worker thread.
    """
    c = container(request)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(
                422,
                "validation_error",
                "send the CSV as the multipart field 'file'",
                [{"loc": ["body", "file"], "msg": "missing file", "type": "missing"}],
            )
        raw = await upload.read()
    else:
        raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_file", f"the CSV is not UTF-8: {exc}") from None
    mapping = {}
    for i, m in enumerate(map):
        col, sep, target = m.partition("=")
        if not sep:
            raise ApiError(
                422,
                "validation_error",
                "map: use COLUMN=FIELD",
                [{"loc": ["query", "map", i], "msg": "use COLUMN=FIELD", "type": "value_error"}],
            )
        mapping[col.strip()] = target.strip()
    if consent_channel is not None and consent_channel not in CONSENT_CHANNELS:
        raise ApiError(
            422,
            "validation_error",
            f"consent_channel must be one of {', '.join(CONSENT_CHANNELS)}",
            [{"loc": ["query", "consent_channel"], "msg": "unknown channel", "type": "value_error"}],
        )
    if preset is not None and preset not in PRESETS:
        raise ApiError(
            422,
            "validation_error",
            f"preset must be one of {', '.join(PRESETS)}",
            [{"loc": ["query", "preset"], "msg": "unknown preset", "type": "value_error"}],
        )
    opts = ImportOptions(
        mapping=mapping,
        tags=tag,
        consent_channel=consent_channel,
        consent_source=consent_source,
        preset=preset,
        dry_run=dry_run,
    )
    if background:
        job_id = await run_in_threadpool(_background, c, text, opts)
        response.status_code = 202
        return {"id": job_id, "state": "queued", "url": f"/api/imports/{job_id}"}
    try:
        report = await run_in_threadpool(import_contacts, c.uow, io.StringIO(text, newline=""), opts, c.clock.now)
    except ImportFileError as exc:
        raise ApiError(400, "invalid_file", str(exc)) from None
    return {**report.as_dict(), "imported": report.imported}


def _background(c: Any, text: str, opts: ImportOptions) -> str:
    """Store the file as a job (owner 0: an API key, not a user of the wizard) and start it."""
    if "\x00" in text:
        raise ApiError(400, "invalid_file", "the CSV holds a NUL character")
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, None)
        preview = [r for _, r in zip(range(5), rows, strict=False)]
    except csv.Error as exc:
        raise ApiError(400, "invalid_file", f"not a CSV file: {exc}") from None
    if not header:
        raise ApiError(400, "invalid_file", "the file is empty (expected a header row)")
    total = max(0, sum(1 for line in io.StringIO(text) if line.strip()) - 1)
    job = jobs_uc.upload(c.import_jobs, owner=0, filename="api.csv", text=text, header=header, preview=preview,
                         total=total, preset=opts.preset, now=c.lease_clock.now())  # fmt: skip
    options = {"tags": opts.tags, "consent_channel": opts.consent_channel, "consent_status": opts.consent_status,
               "source": opts.source}  # fmt: skip
    jobs_uc.start(c.import_jobs, c.uow, job.id, mapping=opts.mapping, options=options,
                  consent_source=opts.consent_source, dry_run=opts.dry_run, now=c.clock.now,
                  heartbeat=c.lease_clock.now)  # fmt: skip
    return job.id


@router.get("/{job_id}", dependencies=[RequireWrite])
def import_job(job_id: str, request: Request) -> dict[str, Any]:
    """A job of the web import wizard: its state (mapping, queued, running, checked, done, failed),
    progress, counts and every rejected row (line, column, message). The ``write`` scope, as an
    import: the rejected rows hold the file's data. 404 when there is no such job."""
    c = container(request)
    job = jobs_uc.current(c.import_jobs, job_id[:64], c.lease_clock.now())
    if job is None:
        raise ApiError(404, "not_found", f"no import job {job_id!r}")
    return {
        "id": job.id,
        "state": job.state,
        "file_name": job.filename,
        "preset": job.preset,
        "dry_run": job.dry_run,
        "consent_source": job.consent_source,
        "mapping": job.mapping,
        "total": job.total,
        "processed": job.processed,
        "percent": job.percent,
        "counts": job.counts,
        "rejected": [{k: r[k] for k in ("line", "column", "message")} for r in job.rejected_rows()],
        "error": job.error or None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }
