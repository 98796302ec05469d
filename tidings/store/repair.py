"""Find and fix stored JSON that breaks the rule of :mod:`tidings.domain.jsonvalues`.

Before the rule was enforced at the edge, one request could store ``NaN`` in
``contacts.attributes`` or ``events.properties`` (SQLite keeps the JSON text as sent), after
which every read of that column failed. :func:`repair_json` scans every JSON column of every
table, fixes what it finds by the documented repair rule (``jsonvalues.repaired``: non-finite
numbers and integers outside 64-bit become ``null``, NUL characters are removed) and reports
each change. ``tidings db repair`` runs it (``--dry-run`` changes nothing).

Only rows whose JSON text could hold an offence are read back (a ``GLOB`` / regular expression
filter in SQL: ``NaN``, ``Infinity``, 19 or more digits in a row, a 3-digit exponent,
``\\u0000``); Python then decides on the parsed value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tidings.domain import jsonvalues
from tidings.store import schema

_SQLITE_GLOBS = ("*NaN*", "*Infinity*", "*" + "[0-9]" * 19 + "*", "*[eE][0-9][0-9][0-9]*",
                 "*[eE][+-][0-9][0-9][0-9]*", "*\\u0000*")
_PG_REGEX = r"NaN|Infinity|[0-9]{19}|[eE][+-]?[0-9]{3}|\\u0000"


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    #: the row's primary key, as {column: value}
    key: dict[str, Any]
    #: where in the document ("attributes.score"), and what was wrong
    path: str
    message: str


@dataclass
class RepairReport:
    findings: list[Finding] = field(default_factory=list)
    #: rows changed (or, in a dry run, that would be)
    rows: int = 0
    #: rows whose stored text is not JSON even by Python's lenient parser (left alone)
    unreadable: list[Finding] = field(default_factory=list)
    #: (table, column) pairs scanned
    scanned: list[str] = field(default_factory=list)


def json_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    """Every JSON column of the schema."""
    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.JSON):
                yield table, column


def _suspects(conn: sa.Connection, table: sa.Table, column: sa.Column[Any]) -> Sequence[Any]:
    text = sa.cast(column, sa.Text)
    if conn.dialect.name == "postgresql":
        where: sa.ColumnElement[bool] = text.op("~")(_PG_REGEX)
    else:
        where = sa.or_(*(text.op("GLOB")(pattern) for pattern in _SQLITE_GLOBS))
    keys = list(table.primary_key.columns)
    query = sa.select(*keys, text.label("doc")).where(column.is_not(None), where).order_by(*keys)
    return conn.execute(query).all()


def repair_json(engine: sa.Engine, *, dry_run: bool = False) -> RepairReport:
    """Scan every JSON column; fix (unless ``dry_run``) and report each offence."""
    report = RepairReport()
    with engine.begin() as conn:
        for table, column in json_columns():
            report.scanned.append(f"{table.name}.{column.name}")
            keys = list(table.primary_key.columns)
            for row in _suspects(conn, table, column):
                key = {k.name: row[i] for i, k in enumerate(keys)}
                try:
                    value = json.loads(row.doc)
                except (ValueError, RecursionError) as exc:
                    report.unreadable.append(Finding(table.name, column.name, key, "", f"not JSON: {exc}"))
                    continue
                fixed, changes = jsonvalues.repaired(value)
                if not changes:
                    continue
                report.rows += 1
                report.findings += [
                    Finding(table.name, column.name, key, ".".join(map(str, [column.name, *c.path])), c.message)
                    for c in changes
                ]
                if not dry_run:
                    conn.execute(
                        sa.update(table).where(*(k == key[k.name] for k in keys)).values({column.name: fixed})
                    )
    return report
