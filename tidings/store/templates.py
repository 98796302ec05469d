"""Reading templates for sending: the best stored variant of a key for a locale."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.domain.templates import TemplateSource, locale_candidates, source_from_row
from tidings.store import schema

t = schema.templates


def find_template(conn: sa.Connection, key: str, locale: str | None) -> TemplateSource | None:
    """The best variant of ``key`` for ``locale`` (exact, language, default)."""
    candidates = locale_candidates(locale)
    rows = conn.execute(sa.select(t).where(t.c.key == key, t.c.locale.in_(candidates))).mappings().all()
    by_locale = {r["locale"]: r for r in rows}
    for loc in candidates:
        if loc in by_locale:
            return source_from_row(dict(by_locale[loc]))
    return None
