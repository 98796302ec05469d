"""SQL of the forms and their submissions (the ``application.ports.forms`` port)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.forms.model import FormDefinition, parse_form
from tidings.domain.forms.pending import PendingStatus
from tidings.domain.forms.records import MAIL_COLUMNS, FormExists, FormRecord, SubmissionRecord
from tidings.store.schema_forms import form_submissions, forms
from tidings.store.upsert import insert_or_ignore

F = forms
S = form_submissions
SUBMISSION_COLUMNS = tuple(c.name for c in S.columns if c.name != "id")


def _form(row: Any) -> FormRecord:
    return FormRecord(row.id, row.key, parse_form(row.definition), row.created_at, row.updated_at)


def submission_record(row: Any) -> SubmissionRecord:
    values = dict(row)
    values["status"] = PendingStatus(values["status"])
    return SubmissionRecord(**values)


class SqlForms:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, definition: FormDefinition, now: datetime) -> int:
        if self.conn.execute(sa.select(F.c.id).where(F.c.key == definition.key)).first() is not None:
            raise FormExists(f"a form with key {definition.key!r} exists")
        values = {"key": definition.key, "name": definition.name, "definition": definition.as_doc(),
                  "created_at": now, "updated_at": now}
        key = self.conn.execute(insert_or_ignore(self.conn, F, values, ["key"])).inserted_primary_key
        if not key or key[0] is None:
            raise FormExists(f"a form with key {definition.key!r} exists")
        return int(key[0])

    def replace(self, definition: FormDefinition, now: datetime) -> bool:
        q = (sa.update(F).where(F.c.key == definition.key)
             .values(name=definition.name, definition=definition.as_doc(), updated_at=now))
        return bool(self.conn.execute(q).rowcount)

    def get(self, key: str) -> FormRecord | None:
        row = self.conn.execute(sa.select(F).where(F.c.key == key)).first()
        return _form(row) if row is not None else None

    def list(self) -> list[FormRecord]:
        return [_form(r) for r in self.conn.execute(sa.select(F).order_by(F.c.key))]


class SqlFormSubmissions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: Mapping[str, Any]) -> int:
        unknown = set(values) - set(SUBMISSION_COLUMNS)
        if unknown:
            raise ValueError(f"unknown submission columns: {sorted(unknown)}")
        row = dict(values)
        row["status"] = str(row["status"])
        key = self.conn.execute(sa.insert(S).values(**row)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def get(self, submission_id: int) -> SubmissionRecord | None:
        row = self.conn.execute(sa.select(S).where(S.c.id == submission_id)).mappings().first()
        return submission_record(row) if row is not None else None

    def of_form(self, form_key: str, limit: int = 100) -> list[SubmissionRecord]:
        q = sa.select(S).where(S.c.form_key == form_key).order_by(S.c.id.desc()).limit(limit)
        return [submission_record(r) for r in self.conn.execute(q).mappings()]

    def due(self, now: datetime, limit: int = 200) -> list[SubmissionRecord]:
        remind = sa.and_(S.c.reminded_at.is_(None), S.c.remind_at <= now)
        unsent = S.c.confirmation_sent_at.is_(None)
        q = (sa.select(S)
             .where(S.c.status == str(PendingStatus.PENDING), sa.or_(S.c.expires_at <= now, remind, unsent))
             .order_by(S.c.id).limit(limit))
        return [submission_record(r) for r in self.conn.execute(q).mappings()]

    def set_status(
        self, submission_id: int, expected: PendingStatus, status: PendingStatus, *,
        confirmed_at: datetime | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": str(status)}
        if confirmed_at is not None:
            values["confirmed_at"] = confirmed_at
        q = sa.update(S).where(S.c.id == submission_id, S.c.status == str(expected)).values(**values)
        return bool(self.conn.execute(q).rowcount)

    def claim_mail(self, submission_id: int, mail: str, now: datetime) -> bool:
        column = S.c[MAIL_COLUMNS[mail]]
        q = sa.update(S).where(S.c.id == submission_id, column.is_(None)).values({column.name: now})
        return bool(self.conn.execute(q).rowcount)

    def release_mail(self, submission_id: int, mail: str) -> None:
        self.conn.execute(sa.update(S).where(S.c.id == submission_id).values({MAIL_COLUMNS[mail]: None}))
