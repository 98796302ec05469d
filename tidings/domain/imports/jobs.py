"""A CSV import job of the web wizard, pure: what was uploaded, how it is mapped, where it stands
and what it reported. Stored by the ``ImportJobs`` port (``application/ports/import_jobs.py``) so
a restart keeps the progress and the error report and every process sees every job.

States: ``mapping`` (uploaded; the columns are being mapped) -> ``queued`` (run asked for) ->
``running`` (a worker thread reads the file; ``processed`` grows) -> ``done`` | ``checked`` (a dry
run's report: nothing written, the mapping may be changed and run again) | ``failed`` (``error``
says why; a job a stopped process left running turns ``failed`` once its heartbeat is stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.imports.presets import PRESETS

STATES = ("mapping", "queued", "running", "checked", "done", "failed")
#: states in which the mapping form is shown and a run may start (again, after a failure)
RUNNABLE = ("mapping", "checked", "failed")
#: a queued or running job whose row has not moved for this long was left by a stopped process
STALE_AFTER = timedelta(minutes=5)
#: how long a finished job is kept (then purged on the next upload)
KEEP_FOR = timedelta(days=7)


@dataclass
class ImportJob:
    id: str
    owner: int
    filename: str
    text: str
    header: list[str]
    preview: list[list[str]]
    total: int
    created_at: datetime
    state: str = "mapping"
    #: a vendor preset chosen at upload (its mapping pre-fills the columns; consent proof on run)
    preset: str | None = None
    #: what the run was asked: column -> field, tags, consent channel / status / source, dry run
    mapping: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    consent_source: str = ""
    dry_run: bool = False
    processed: int = 0
    #: the report: rows, created, updated, unchanged, suppressed
    counts: dict[str, int] = field(default_factory=dict)
    #: rejected rows: ``{"line", "reason", "row"}``
    rejected: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    def suggested(self, auto: Mapping[str, str]) -> dict[str, str]:
        """The field each column maps to before the user changes it: the preset's, else ``auto``
        (by header name)."""
        if self.preset:
            return PRESETS[self.preset].column_map(self.header)
        return {h: auto[h] for h in self.header}

    @property
    def percent(self) -> int:
        return min(100, int(self.processed * 100 / self.total)) if self.total else 100

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    def rejected_rows(self) -> list[dict[str, Any]]:
        """Each rejected row as line, column (when the reason names one), message, the row."""
        out = []
        for r in self.rejected:
            reason = str(r.get("reason", ""))
            column, sep, message = reason.partition(": ")
            if not sep or column not in self.header:
                column, message = "", reason
            out.append({"line": r.get("line"), "column": column, "message": message, "row": list(r.get("row") or [])})
        return out

    def stale(self, now: datetime) -> bool:
        seen = self.updated_at or self.created_at
        return self.state in ("queued", "running") and now - seen > STALE_AFTER
