"""SQL of ``app_state`` the composition root reads at startup: the stored signing secret."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.store import schema

T = schema.app_state


def stored_secret(engine: Engine, new_secret: Callable[[], str]) -> str:
    """The signing secret kept in ``app_state``; ``new_secret()`` stored first when there is none.
    Database errors propagate (``db.DatabaseError``)."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(T.c.value).where(T.c.key == "secret_key")).first()
        if row is not None:
            return str(row[0]["value"])
        secret = new_secret()
        conn.execute(sa.insert(T).values(key="secret_key", value={"value": secret}))
        return secret


def has_schema(engine: Engine) -> bool:
    """Has the database been migrated (its ``app_state`` table exists)? Errors propagate."""
    return bool(sa.inspect(engine).has_table(T.name))
