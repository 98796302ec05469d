"""Use case: name checks at validation and publish.

Every event, attribute, tag, segment and template a journey names is compared with what
exists: stored events, contact attributes and tags, segments, templates, and what the other
published journeys produce. Unknown names are warnings with "did you mean ..."; ``strict``
makes them errors (a :class:`JourneyError` naming the line and step, like any other problem).
"""

from __future__ import annotations

from collections.abc import Callable

from tidings.application.control.audit import known_names
from tidings.application.ports.audit import AuditStore
from tidings.application.ports.uow import Transaction
from tidings.domain.audit.names import NameWarning, check_names, read_names
from tidings.domain.audit.usage import produced_by
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyDoc, JourneyError, Problem


def check(conn: Transaction, doc: JourneyDoc, store: AuditStore, *, strict: bool = False) -> list[NameWarning]:
    """The name warnings for ``doc``; with ``strict`` they are raised as a JourneyError."""
    others = []
    for r in store.published_journeys(conn):
        if r["key"] == doc.key:
            continue
        try:
            others.append(parse_journey(str(r["source"])))
        except JourneyError:
            continue  # an unreadable version produces nothing; the audit reports it
    warnings = check_names(doc, known_names(conn, store).with_produced(produced_by(others)), read_names(others))
    if strict and warnings:
        raise JourneyError(
            [Problem(f"{w.message} (strict name checks)", w.line, w.step, w.where if "." in w.where else "")
             for w in warnings]  # fmt: skip
        )
    return warnings


def checker(store: AuditStore, *, strict: bool = False) -> Callable[[Transaction, JourneyDoc], list[NameWarning]]:
    """The hook ``journeys.publish`` calls on the document it is about to publish."""
    return lambda conn, doc: check(conn, doc, store, strict=strict)
