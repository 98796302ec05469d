"""Reads of the event and message exports: rows in id order, a bounded chunk at a time (keyset
pagination, so a table of millions is streamed in constant memory), filtered by time."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

#: table and the column the time window applies to
_KINDS: dict[str, tuple[sa.Table, str]] = {
    "events": (schema.events, "occurred_at"),
    "messages": (schema.outbox, "created_at"),
}


def row_chunks(
    engine: sa.Engine,
    kind: str,
    fields: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    chunk: int = 1000,
) -> Iterator[list[dict[str, Any]]]:
    """``events`` (by occurred_at) or ``messages`` (outbox rows of kind message, by created_at) in
    ``[since, until)``, ``chunk`` rows at a time; one short read transaction per chunk."""
    table, when = _KINDS[kind]
    cond: list[sa.ColumnElement[bool]] = []
    if since is not None:
        cond.append(table.c[when] >= since)
    if until is not None:
        cond.append(table.c[when] < until)
    if kind == "messages":
        cond.append(table.c.kind == "message")
    last = 0
    while True:
        q = sa.select(*(table.c[f] for f in fields)).where(table.c.id > last, *cond).order_by(table.c.id).limit(chunk)
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]
        if len(rows) < chunk:
            return


def reader(engine: sa.Engine) -> Callable[..., Iterator[list[dict[str, Any]]]]:
    """The ``RowReader`` of the exports (application/ports/exports.py) on ``engine``."""
    return functools.partial(row_chunks, engine)
