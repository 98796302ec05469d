"""Export of contacts as CSV (formula cells neutralised: ``export_csv_chunks``, every contact a
filter matches, or ``csv_chunks``) or JSON Lines, from chunks of contacts
(the dicts of ``contacts.get_contacts``) so that callers choose which contacts and stream them;
and of events and messages (outbox rows) in a time window, read a chunk at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from tidings.application.contacts import contacts as svc
from tidings.application.ports.exports import RowReader
from tidings.application.ports.ingest import ImportStore
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import neutralise_cell
from tidings.domain.snapshot import PROFILE_FIELDS

FORMATS = ("csv", "jsonl")
#: the HTTP media type of each format
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
EXPORT_COLUMNS = [
    "id",
    *PROFILE_FIELDS,
    "tags",
    *(f"consent_{c}" for c in CONSENT_CHANNELS),
    "attributes",
    "created_at",
]


def export_row(c: dict[str, Any]) -> list[str]:
    consent = c.get("consent") or {}
    values: list[Any] = [
        c["id"],
        c["external_id"],
        c["email"],
        c["phone"],
        c["first_name"],
        c["last_name"],
        c["timezone"],
        c["locale"],
        c["lifecycle_stage"],
        c["owner"],
        c["score"],
        ";".join(c["tags"]),
        *((consent.get(ch) or {}).get("status") for ch in CONSENT_CHANNELS),
        json.dumps(c["attributes"], ensure_ascii=False, sort_keys=True) if c["attributes"] else "",
        c["created_at"].isoformat() if c.get("created_at") else "",
    ]
    return [neutralise_cell(v) for v in values]


def export_csv_chunks(store: ImportStore, f: svc.ContactFilter | None = None) -> Iterator[str]:
    """The export as text chunks (streamed by the API, written by the CLI), read in one
    read-only unit of work of ``store``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    with store(read_only=True) as uow:
        for i, contact in enumerate(svc.iter_contacts(uow, f)):
            w.writerow(export_row(contact))
            if i % 500 == 499:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


def csv_chunks(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """The header, then one text chunk per chunk of contacts."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    for contacts in chunks:
        for contact in contacts:
            w.writerow(export_row(contact))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def jsonl_chunks(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """One JSON object per line and row (a contact: every field, tags, consent), a chunk at a time."""
    for contacts in chunks:
        yield "".join(
            json.dumps(c, ensure_ascii=False, sort_keys=True, default=_jsonable) + "\n" for c in contacts
        )


# --------------------------------------------------------------------------- events and messages

#: what can be exported besides contacts, with the columns of each (in CSV order)
ROW_EXPORTS: dict[str, tuple[str, ...]] = {
    "events": ("id", "contact_id", "name", "occurred_at", "received_at", "source", "value", "message_id", "properties"),
    "messages": (
        "id",
        "contact_id",
        "channel",
        "category",
        "template",
        "journey_id",
        "step_id",
        "status",
        "attempts",
        "recipient",
        "subject",
        "provider_message_id",
        "error",
        "created_at",
        "sent_at",
    ),
}


def _cell(value: Any) -> str:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    return neutralise_cell(value)


def rows_csv_chunks(columns: Sequence[str], chunks: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """A header, then one CSV text chunk per chunk of rows; JSON values as JSON text; every cell a
    spreadsheet would run as a formula made inert."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for rows in chunks:
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def export_rows(
    read: RowReader, kind: str, fmt: str, since: datetime | None = None, until: datetime | None = None
) -> Iterator[str]:
    """Events or messages in ``[since, until)`` as CSV or JSON Lines text chunks (streamed)."""
    if kind not in ROW_EXPORTS:
        raise ValueError(f"unknown export {kind!r}: use one of {', '.join(ROW_EXPORTS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    chunks = read(kind, ROW_EXPORTS[kind], since, until)
    return rows_csv_chunks(ROW_EXPORTS[kind], chunks) if fmt == "csv" else jsonl_chunks(chunks)
