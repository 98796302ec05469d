"""The in-memory twins of ``store/forms_sql.py``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from tidings.domain.forms.model import FormDefinition
from tidings.domain.forms.pending import PendingStatus
from tidings.domain.forms.records import MAIL_COLUMNS, FormExists, FormRecord, SubmissionRecord
from tidings.store.memory.state import MemoryStore


class MemoryForms:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, definition: FormDefinition, now: datetime) -> int:
        rows = self.store.state.forms
        if definition.key in rows:
            raise FormExists(f"a form with key {definition.key!r} exists")
        fid = self.store.state.next_id("forms")
        rows[definition.key] = FormRecord(fid, definition.key, definition, now, now)
        return fid

    def replace(self, definition: FormDefinition, now: datetime) -> bool:
        rows = self.store.state.forms
        old = rows.get(definition.key)
        if old is None:
            return False
        rows[definition.key] = replace(old, definition=definition, updated_at=now)
        return True

    def get(self, key: str) -> FormRecord | None:
        return self.store.state.forms.get(key)

    def list(self) -> list[FormRecord]:
        return [r for _, r in sorted(self.store.state.forms.items())]


class MemoryFormSubmissions:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, SubmissionRecord]:
        rows: dict[int, SubmissionRecord] = self.store.state.form_submissions
        return rows

    def add(self, values: Mapping[str, Any]) -> int:
        sid = self.store.state.next_id("form_submissions")
        row = copy.deepcopy(dict(values))
        row["status"] = PendingStatus(row["status"])
        self._rows[sid] = SubmissionRecord(id=sid, **row)
        return sid

    def get(self, submission_id: int) -> SubmissionRecord | None:
        return self._rows.get(submission_id)

    def of_form(self, form_key: str, limit: int = 100) -> list[SubmissionRecord]:
        return [r for _, r in sorted(self._rows.items(), reverse=True) if r.form_key == form_key][:limit]

    def due(self, now: datetime, limit: int = 200) -> list[SubmissionRecord]:
        def is_due(r: SubmissionRecord) -> bool:
            expired = r.expires_at is not None and r.expires_at <= now
            remind = r.reminded_at is None and r.remind_at is not None and r.remind_at <= now
            unsent = r.confirmation_sent_at is None
            return r.status is PendingStatus.PENDING and (expired or remind or unsent)

        return [r for _, r in sorted(self._rows.items()) if is_due(r)][:limit]

    def set_status(
        self, submission_id: int, expected: PendingStatus, status: PendingStatus, *,
        confirmed_at: datetime | None = None,
    ) -> bool:
        row = self._rows.get(submission_id)
        if row is None or row.status is not expected:
            return False
        self._rows[submission_id] = replace(row, status=status, confirmed_at=confirmed_at or row.confirmed_at)
        return True

    def claim_mail(self, submission_id: int, mail: str, now: datetime) -> bool:
        column = MAIL_COLUMNS[mail]
        row = self._rows.get(submission_id)
        if row is None or getattr(row, column) is not None:
            return False
        values: dict[str, Any] = {column: now}
        self._rows[submission_id] = replace(row, **values)
        return True

    def release_mail(self, submission_id: int, mail: str) -> None:
        row = self._rows.get(submission_id)
        if row is not None:
            values: dict[str, Any] = {MAIL_COLUMNS[mail]: None}
            self._rows[submission_id] = replace(row, **values)
