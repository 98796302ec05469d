"""Template use cases: save (refusing syntax errors with their line), find per locale, list, delete."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.channels.templates import TemplateError, TemplateSource, validate
from tidings.store import schema

t = schema.templates


class TemplateInvalid(ValueError):
    def __init__(self, problems: list[TemplateError]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _source(row: Mapping[str, Any]) -> TemplateSource:
    return TemplateSource(
        key=row["key"],
        channel=row["channel"],
        locale=row["locale"],
        subject=row["subject"],
        body=row["body"],
        format=row["format"],
        text_body=row["text_body"],
        settings=row["settings"] or {},
    )


def save_template(
    conn: sa.Connection, src: TemplateSource, now: datetime, *, name: str = ""
) -> dict[str, Any]:
    """Create or replace the (key, locale) variant. Raises ``TemplateInvalid`` with every problem."""
    problems = validate(src)
    if problems:
        raise TemplateInvalid(problems)
    values = {
        "channel": src.channel,
        "name": name or src.key,
        "subject": src.subject,
        "body": src.body,
        "format": src.format,
        "text_body": src.text_body,
        "settings": dict(src.settings),
        "updated_at": now,
    }
    existing = conn.execute(sa.select(t.c.id).where(t.c.key == src.key, t.c.locale == src.locale)).first()
    if existing is None:
        conn.execute(sa.insert(t).values(key=src.key, locale=src.locale, created_at=now, **values))
    else:
        conn.execute(sa.update(t).where(t.c.id == existing[0]).values(**values))
    row = get_row(conn, src.key, src.locale)
    assert row is not None
    return row


def get_row(conn: sa.Connection, key: str, locale: str = "") -> dict[str, Any] | None:
    row = conn.execute(sa.select(t).where(t.c.key == key, t.c.locale == locale)).mappings().first()
    return dict(row) if row else None


def locale_candidates(locale: str | None) -> list[str]:
    """``fr-CA`` -> [fr-CA, fr, ""]: the exact variant, the language, then the default."""
    out: list[str] = []
    if locale:
        out.append(locale)
        lang = locale.replace("_", "-").split("-")[0]
        if lang != locale:
            out.append(lang)
    out.append("")
    return out


def find_template(conn: sa.Connection, key: str, locale: str | None) -> TemplateSource | None:
    """The best variant of ``key`` for ``locale`` (exact, language, default)."""
    candidates = locale_candidates(locale)
    rows = conn.execute(sa.select(t).where(t.c.key == key, t.c.locale.in_(candidates))).mappings().all()
    by_locale = {r["locale"]: r for r in rows}
    for loc in candidates:
        if loc in by_locale:
            return _source(dict(by_locale[loc]))
    return None


def list_templates(conn: sa.Connection, channel: str | None = None) -> list[dict[str, Any]]:
    q = sa.select(t).order_by(t.c.key, t.c.locale)
    if channel:
        q = q.where(t.c.channel == channel)
    return [dict(r) for r in conn.execute(q).mappings()]


def delete_template(conn: sa.Connection, key: str, locale: str | None = None) -> int:
    q = sa.delete(t).where(t.c.key == key)
    if locale is not None:
        q = q.where(t.c.locale == locale)
    return int(conn.execute(q).rowcount or 0)


def source_from_row(row: Mapping[str, Any]) -> TemplateSource:
    return _source(row)


def preview(
    conn: sa.Connection,
    key: str,
    *,
    contact_id: int | None,
    locale: str | None,
    public_url: str,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Render ``key`` for one contact, as the delivery loop would (links not tracked).

    Raises ``LookupError`` for an unknown template or contact, ``TemplateError`` when it fails.
    """
    from tidings.channels.templates import contact_context, render

    contact: dict[str, Any] = {}
    tags: list[str] = []
    if contact_id is not None:
        c = schema.contacts
        row = conn.execute(sa.select(c).where(c.c.id == contact_id)).mappings().first()
        if row is None:
            raise LookupError(f"contact {contact_id} not found")
        contact = dict(row)
        ct = schema.contact_tags
        tags = list(conn.execute(sa.select(ct.c.tag).where(ct.c.contact_id == contact_id)).scalars())
    wanted = locale if locale is not None else contact.get("locale")
    src = find_template(conn, key, wanted)
    if src is None:
        raise LookupError(f"template {key!r} not found")
    message = {
        "id": 0,
        "unsubscribe_url": f"{public_url}/u/preview",
        "preferences_url": f"{public_url}/p/preview",
        "self_service_url": f"{public_url}/s/preview",
    }
    out = render(
        src, {"contact": contact_context(contact, tags), "data": dict(data or {}), "message": message}
    )
    return {
        "key": key,
        "locale": src.locale,
        "channel": src.channel,
        "subject": out.subject,
        "html": out.html,
        "text": out.text,
    }
