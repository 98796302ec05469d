"""Reading templates for sending: the best stored variant of a key for a locale."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.domain.templates import TemplateSource, best_variant, locale_candidates
from tidings.store import schema

t = schema.templates


def find_template(conn: sa.Connection, key: str, locale: str | None) -> TemplateSource | None:
    """The best variant of ``key`` for ``locale`` (exact, language, default)."""
    q = sa.select(t).where(t.c.key == key, t.c.locale.in_(locale_candidates(locale)))
    return best_variant((dict(r) for r in conn.execute(q).mappings()), locale)
