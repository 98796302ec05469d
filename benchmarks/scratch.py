"""A scratch PostgreSQL schema for one benchmark run: created, handed over as a database URL
whose ``search_path`` points at it, and dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def scratch_schema(database_url: str, prefix: str) -> Iterator[str]:
    from tidings.store.db import create_engine, normalise_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        url = normalise_url(database_url)
        yield url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()
