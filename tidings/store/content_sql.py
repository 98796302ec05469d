"""SQL of templates, and the contact reads of a template preview, a recipe check and the timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

T = schema.templates


class SqlTemplates:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, key: str, locale: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(T).where(T.c.key == key, T.c.locale == locale)).mappings().first()
        return dict(row) if row else None

    def variants(self, key: str, locales: Sequence[str]) -> list[dict[str, Any]]:
        q = sa.select(T).where(T.c.key == key, T.c.locale.in_(list(locales)))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def upsert(self, key: str, locale: str, values: Mapping[str, Any]) -> None:
        existing = self.conn.execute(sa.select(T.c.id).where(T.c.key == key, T.c.locale == locale)).first()
        if existing is None:
            self.conn.execute(
                sa.insert(T).values(key=key, locale=locale, created_at=values["updated_at"], **values)
            )
        else:
            self.conn.execute(sa.update(T).where(T.c.id == existing[0]).values(**values))

    def all(self, channel: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(T).order_by(T.c.key, T.c.locale)
        if channel:
            q = q.where(T.c.channel == channel)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def delete(self, key: str, locale: str | None = None) -> int:
        q = sa.delete(T).where(T.c.key == key)
        if locale is not None:
            q = q.where(T.c.locale == locale)
        return int(self.conn.execute(q).rowcount or 0)

    def keys(self) -> set[str]:
        return set(self.conn.execute(sa.select(T.c.key).distinct()).scalars())


class SqlContactReader:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, contact_id: int) -> dict[str, Any] | None:
        c = schema.contacts
        row = self.conn.execute(sa.select(c).where(c.c.id == contact_id)).mappings().first()
        return dict(row) if row is not None else None

    def tags(self, contact_id: int) -> list[str]:
        ct = schema.contact_tags
        return list(self.conn.execute(sa.select(ct.c.tag).where(ct.c.contact_id == contact_id)).scalars())

    def id_by(self, field: str, value: str) -> int | None:
        c = schema.contacts
        if field not in ("email", "phone", "external_id"):
            raise ValueError(f"not an identifier: {field!r}")
        found: int | None = self.conn.execute(sa.select(c.c.id).where(c.c[field] == value)).scalar()
        return found

    def any_contact(self) -> bool:
        c = schema.contacts
        return self.conn.execute(sa.select(c.c.id).limit(1)).first() is not None

    def any_with_attribute(self, name: str) -> bool:
        c = schema.contacts
        text = sa.cast(c.c.attributes, sa.Text)
        pattern = '%"' + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '":%'
        hit = self.conn.execute(sa.select(c.c.id).where(text.like(pattern, escape="\\")).limit(1)).first()
        return hit is not None

    def events_page(
        self, contact_id: int, *, name: str | None, before: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        e = schema.events
        q = sa.select(
            e.c.id, e.c.name, e.c.properties, e.c.occurred_at, e.c.received_at, e.c.message_id, e.c.source, e.c.value
        ).where(e.c.contact_id == contact_id)
        if name:
            q = q.where(e.c.name == name)
        if before is not None:
            ts, eid = before
            q = q.where(sa.or_(e.c.occurred_at < ts, sa.and_(e.c.occurred_at == ts, e.c.id < eid)))
        q = q.order_by(e.c.occurred_at.desc(), e.c.id.desc()).limit(limit)
        return [dict(r) for r in self.conn.execute(q).mappings()]
