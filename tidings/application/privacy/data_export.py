"""A contact's personal data as one zip of machine-readable files (GDPR Art. 15 access, Art. 20
portability): JSON for the small parts, JSON Lines and CSV for the long ones, a ``manifest.json``
and a ``README.txt`` saying what each file holds, when the export was made and how many rows.

The long tables are streamed from the port into the zip entries one row at a time; the caller
chooses where the zip goes (a file for the CLI, a spooled temporary file for the API and web).
Erasure is not here: it stays ``DELETE /api/contacts/{id}`` (``contacts.delete_contact``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from tidings.application.ports.privacy import DataExportSource
from tidings.domain.contacts import neutralise_cell

log = logging.getLogger("tidings.privacy")

FORMAT_VERSION = 1
#: an export bigger than this goes from memory to a temporary file while it is written
SPOOL_MEMORY = 8 * 1024 * 1024
CHUNK = 64 * 1024

EVENT_COLUMNS = ("id", "name", "occurred_at", "received_at", "source", "value", "message_id", "properties")
MESSAGE_COLUMNS = (
    "id", "kind", "channel", "category", "template", "journey", "journey_version", "step_id", "status",
    "recipient", "subject", "created_at", "sent_at", "error",
)

#: file -> what it holds (manifest.json and README.txt say it to the reader)
DESCRIPTIONS: dict[str, str] = {
    "profile.json": "the contact: identifiers, name, time zone, locale, stage, owner, score, attributes, "
    "tags, and the other identifiers (anonymous ids, merged contacts) that resolve to it",
    "consents.json": "consent per channel with its proof: status, source, time recorded, and the proof "
    "stored with it (form, text shown, IP address, user agent where given), topics, pause",
    "events.jsonl": "every event recorded about the contact, one JSON object a line, oldest first",
    "events.csv": "the same events as CSV (properties as JSON in one cell)",
    "messages.jsonl": "every message and effect queued for the contact (email, SMS, voice, letter, "
    "webhook, task): status, times, and the content as rendered",
    "messages.csv": "the same messages as CSV, without the rendered content",
    "traces.jsonl": "why each message was sent: every journey decision about the contact, one a line",
    "tasks.json": "sales tasks about the contact",
    "segments.json": "segment memberships, current and past",
    "journeys.json": "journey enrolments: journey, version, status, step, entry and end",
    "scores.json": "lead scores per scoring model",
}


@dataclass
class ExportSummary:
    contact_id: int
    generated_at: datetime
    counts: dict[str, int] = field(default_factory=dict)


class UnknownContact(LookupError):
    def __init__(self, contact_id: int) -> None:
        super().__init__(f"no contact with id {contact_id}")
        self.contact_id = contact_id


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_jsonable, indent=indent)


def _csv_cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralise_cell(_json(value))
    return neutralise_cell(value)


class _Zip:
    """The zip being written, and the row count of each file."""

    def __init__(self, zf: zipfile.ZipFile, now: datetime) -> None:
        self.zf = zf
        self.now = now
        self.counts: dict[str, int] = {}

    def entry(self, name: str) -> zipfile.ZipInfo:
        """A file dated the export's time (a streamed entry would otherwise say 1980)."""
        info = zipfile.ZipInfo(name, date_time=self.now.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def text(self, name: str, text: str) -> None:
        self.zf.writestr(self.entry(name), text)

    def document(self, name: str, value: Any, count: int) -> None:
        self.text(name, _json(value, indent=2) + "\n")
        self.counts[name] = count

    def lines(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        n = 0
        with self.zf.open(self.entry(name), "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="\n") as out:
            for row in rows:
                out.write(_json(row) + "\n")
                n += 1
        self.counts[name] = n

    def table(self, name: str, columns: tuple[str, ...], rows: Iterable[Mapping[str, Any]]) -> None:
        n = 0
        with self.zf.open(self.entry(name), "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as out:
            w = csv.writer(out)
            w.writerow(columns)
            for row in rows:
                w.writerow([_csv_cell(row.get(c)) for c in columns])
                n += 1
        self.counts[name] = n


def write_export(
    source: DataExportSource, contact_id: int, out: IO[bytes], now: datetime, *, by: str
) -> ExportSummary:
    """Write the zip of everything stored about ``contact_id`` to ``out``; ``by`` (who asked:
    ``cli``, ``api:key 3``, ``web:ann@example.com``) goes to the log with the counts."""
    profile = source.profile(contact_id)
    if profile is None:
        raise UnknownContact(contact_id)
    profile["aliases"] = source.aliases(contact_id)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        z = _Zip(zf, now)
        z.document("profile.json", profile, 1)
        consents = source.consents(contact_id)
        z.document("consents.json", consents, len(consents))
        z.lines("events.jsonl", source.events(contact_id))
        z.table("events.csv", EVENT_COLUMNS, source.events(contact_id))
        z.lines("messages.jsonl", source.messages(contact_id))
        z.table("messages.csv", MESSAGE_COLUMNS, source.messages(contact_id))
        z.lines("traces.jsonl", source.traces(contact_id))
        small: dict[str, Callable[[int], list[dict[str, Any]]]] = {
            "tasks.json": source.tasks,
            "segments.json": source.segments,
            "journeys.json": source.enrolments,
            "scores.json": source.scores,
        }
        for name, read in small.items():
            rows = read(contact_id)
            z.document(name, rows, len(rows))
        summary = ExportSummary(contact_id, now, dict(z.counts))
        manifest = _manifest(summary)
        z.text("manifest.json", _json(manifest, indent=2) + "\n")
        z.text("README.txt", "".join(_readme(summary)))
    log.info("personal data export: contact %d by %s (%s)", contact_id, by, _counts_text(summary.counts))
    return summary


def _manifest(summary: ExportSummary) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "generator": "Tidings",
        "contact_id": summary.contact_id,
        "generated_at": summary.generated_at.isoformat(),
        "files": [
            {"name": name, "description": DESCRIPTIONS[name], "rows": n} for name, n in summary.counts.items()
        ],
    }


def _readme(summary: ExportSummary) -> Iterator[str]:
    yield "Personal data held by Tidings about one contact (GDPR Art. 15 and 20).\n\n"
    yield f"Contact id: {summary.contact_id}\nMade at: {summary.generated_at.isoformat()}\n\n"
    yield "Files (rows):\n"
    for name, n in summary.counts.items():
        yield f"- {name} ({n}): {DESCRIPTIONS[name]}\n"
    yield "\nmanifest.json says the same in JSON. Times are UTC, in ISO 8601.\n"


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def export_spool(source: DataExportSource, contact_id: int, now: datetime, *, by: str) -> IO[bytes]:
    """The zip written to a spooled temporary file, rewound (for an HTTP answer: the database
    is read, and the connection given back, before the first byte goes out)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (closed by file_chunks)
    try:
        write_export(source, contact_id, spool, now, by=by)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes a chunk at a time, then closed."""
    with f:
        while chunk := f.read(CHUNK):
            yield chunk
