"""Export of contacts as CSV (formula cells neutralised) or JSON Lines, from chunks of contacts
(the dicts of ``contacts.get_contacts``) so that callers choose which contacts and stream them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from tidings.application.ingest.imports import EXPORT_COLUMNS, export_row

FORMATS = ("csv", "jsonl")


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
    """One JSON object per line and contact (every field, tags, consent), a chunk at a time."""
    for contacts in chunks:
        yield "".join(
            json.dumps(c, ensure_ascii=False, sort_keys=True, default=_jsonable) + "\n" for c in contacts
        )
