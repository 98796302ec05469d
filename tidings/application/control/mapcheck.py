"""Publish-time loop check: cycles in the journey map (the web "Journey map" links) through a document.

A cycle is refused unless the document declares ``settings.loop_limit`` (the loop breaker then
stops it at run time); with the declaration it is a warning naming the cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from tidings.domain.control.loops import cycles
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.links import journey_links
from tidings.domain.journeys.model import JourneyDoc, JourneyError
from tidings.store import journeys as jst
from tidings.store import schema


def published_docs(conn: sa.Connection, *, exclude: str | None = None, active_only: bool = False) -> list[JourneyDoc]:
    """The current version of every journey that is not archived (or only the active ones)."""
    docs = []
    for r in jst.list_journeys(conn):
        if r["key"] == exclude or r["status"] == "archived" or not r["current_version"]:
            continue
        if active_only and r["status"] != "active":
            continue
        row = jst.get_version(conn, int(r["id"]), int(r["current_version"]))
        if row is None:
            continue
        try:
            docs.append(parse_journey(str(row["source"])))
        except JourneyError:
            continue
    return docs


def segment_rules(conn: sa.Connection) -> dict[str, object]:
    return {k: rule for k, rule in conn.execute(sa.select(schema.segments.c.key, schema.segments.c.rule))}


def cycles_through(conn: sa.Connection, doc: JourneyDoc) -> list[list[str]]:
    docs = [*published_docs(conn, exclude=doc.key), doc]
    return [c for c in map_cycles(docs, segment_rules(conn)) if doc.key in c]


def map_cycles(docs: Iterable[JourneyDoc], seg_rules: dict[str, object]) -> list[list[str]]:
    links = journey_links(list(docs), seg_rules)
    return cycles((link.source, link.target) for link in links)


def warnings(found: list[list[str]]) -> list[str]:
    return [f"loop in the journey map: {' -> '.join(c)}" for c in found]
