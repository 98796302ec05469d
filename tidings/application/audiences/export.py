"""A segment as a hashed customer-file CSV for Meta or Google, streamed a chunk at a time.

Rows are read in contact-id order through the ``AudienceMembers`` port (``chunk`` at a time, so
a million members never sit in memory) and each becomes one CSV row of SHA-256 hashes in the
platform's column names (``domain/audiences``). :class:`ExportCounts` is filled as the rows go:
read it once the stream is exhausted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from tidings.application.ports.audiences import AudienceMembers
from tidings.domain.audiences.eligibility import AudienceRow, audience_row
from tidings.domain.audiences.hashing import COLUMNS, PLATFORMS, Platform

CHUNK = 2000


class AudienceError(ValueError):
    """An unknown segment (404) or platform (422); ``field`` names the input."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass
class ExportCounts:
    exported: int = 0
    skipped_no_identifier: int = 0
    skipped_no_consent: int = 0


def check_platform(platform: str) -> Platform:
    for p in PLATFORMS:
        if platform == p:
            return p
    raise AudienceError("platform", f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")


def segment_of(members: AudienceMembers, key: str) -> int:
    sid = members.segment_id(key)
    if sid is None:
        raise AudienceError("segment", f"no segment {key!r}", status=404)
    return sid


def audience_rows(members: AudienceMembers, segment_id: int, platform: Platform, counts: ExportCounts,
                  chunk: int = CHUNK) -> Iterator[list[AudienceRow]]:
    """The exportable rows, a chunk at a time; ``counts`` says what was kept and skipped."""
    after = 0
    while True:
        batch = members.members(segment_id, after, chunk)
        if not batch:
            return
        after = batch[-1].contact_id
        rows = []
        for member in batch:
            row = audience_row(platform, member)
            if row == "no_consent":
                counts.skipped_no_consent += 1
            elif row == "no_identifier":
                counts.skipped_no_identifier += 1
            else:
                assert isinstance(row, AudienceRow)
                rows.append(row)
        counts.exported += len(rows)
        yield rows


def csv_chunks(members: AudienceMembers, key: str, platform: str, counts: ExportCounts,
               chunk: int = CHUNK) -> Iterator[str]:
    """Check the inputs now (raising :class:`AudienceError`), then stream the header and the rows."""
    p = check_platform(platform)
    sid = segment_of(members, key)
    return _stream(members, sid, p, counts, chunk)


def _stream(members: AudienceMembers, sid: int, platform: Platform, counts: ExportCounts,
            chunk: int) -> Iterator[str]:
    cols = COLUMNS[platform]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([cols.email, cols.phone])
    for rows in audience_rows(members, sid, platform, counts, chunk):
        for row in rows:
            w.writerow([row.email_hash or "", row.phone_hash or ""])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()
