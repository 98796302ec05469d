"""Use case: the blast-radius preview of a journey before publish, resume or migration.

Publishing enrols nobody by itself: people enter when a stimulus arrives. So the preview
forecasts from what just happened and what is due:
- a trigger on a stimulus (an event, ``segment_entered/exited``, ``tag_added/removed``,
  ``attribute_changed``): the contacts that had the matching event (``segment.entered``,
  ``tag.added``, ``contact.updated``...) in the last 24 hours enter now, on that event; the
  same inflow is assumed for each day of the week;
- a ``date`` trigger: contacts with the date attribute (or event) enter when it falls due;
- ``manual``: nobody can be told in advance.
Each candidate then goes through the re-entry policy (its real earlier enrolments) and the
real state machine for a week (``domain/audit/preview``). Above ``sample`` candidates an evenly
spaced sample is simulated and the figures carry a 95 % margin. Beside new entries, the
preview counts what the journey already has in motion (:func:`in_flight`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tidings.application.ports.audit import AuditStore
from tidings.application.ports.uow import Transaction
from tidings.domain.audit.preview import WINDOWS, Candidate, Preview, blast_radius
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import Entry, JourneyDoc, PriorEnrollment, Trigger
from tidings.domain.journeys.triggers import entry_key, next_date_trigger, trigger_matches
from tidings.domain.snapshot import ContactSnapshot

DEFAULT_SAMPLE = 1000
EVENT_WINDOW = timedelta(hours=24)
#: how far back a date trigger's event is looked for
DATE_EVENT_WINDOW = timedelta(days=400)


class PreviewError(ValueError):
    """The preview cannot be made as asked."""


class NotFound(LookupError):
    """No such journey or version."""


def document(conn: Transaction, store: AuditStore, *, key: str | None = None, text: str | None = None,
             version: int | None = None) -> tuple[JourneyDoc, int | None]:  # fmt: skip
    """The document to preview and its journey id: ``text``; else the given version of ``key``;
    else its draft (what publish would publish); else its current version (what resume resumes)."""
    if text is not None:
        doc = parse_journey(text, templates=store.template_keys(conn) or None)
        row = store.journey_row(conn, doc.key)
        return doc, int(row["id"]) if row is not None else None
    if key is None:
        raise PreviewError("name a journey or give a document")
    row = store.journey_row(conn, key)
    if row is None:
        raise NotFound(f"no journey {key!r}")
    jid = int(row["id"])
    if version is not None:
        return _version(conn, store, jid, version), jid
    if row["draft_source"]:
        return parse_journey(str(row["draft_source"])), jid
    if row["current_version"]:
        return _version(conn, store, jid, int(row["current_version"])), jid
    raise PreviewError(f"journey {key!r} has neither a draft nor a published version")


def _version(conn: Transaction, store: AuditStore, journey_id: int, version: int) -> JourneyDoc:
    source = store.version_source(conn, journey_id, version)
    if source is None:
        raise NotFound(f"no version {version} of this journey")
    return parse_journey(source)


#: the event each stimulus trigger reacts to (``trigger_matches`` checks the rest)
STIMULUS_EVENT = {
    "segment_entered": "segment.entered",
    "segment_exited": "segment.exited",
    "tag_added": "tag.added",
    "tag_removed": "tag.removed",
    "attribute_changed": "contact.updated",
}


def _population(conn: Transaction, store: AuditStore, t: Trigger, now: datetime) -> tuple[list[int], str]:
    target = str(t.target or "")
    if t.type == "event" or t.type in STIMULUS_EVENT:
        name = target if t.type == "event" else STIMULUS_EVENT[t.type]
        what = f"event {target}" if t.type == "event" else f"{t.type.replace('_', ' ')} {target}"
        return store.ids_with_event_since(conn, name, now - EVENT_WINDOW), f"{what} in the last 24 h"
    if t.type == "date" and t.date is not None:
        if t.date.attribute:
            name = t.date.attribute.removeprefix("attributes.")
            return store.ids_with_attribute(conn, name), f"date attribute {name}"
        if t.date.event:
            return store.ids_with_event_since(conn, t.date.event, now - DATE_EVENT_WINDOW), f"date event {t.date.event}"
    return [], ""


def _entry(doc: JourneyDoc, t: Trigger, c: ContactSnapshot, now: datetime) -> tuple[Entry, datetime] | None:
    """The entry this contact would make through ``t``: on its latest matching event of the
    last 24 hours (entering now), or when its date falls due this week."""
    if t.type == "date":
        due = next_date_trigger(doc, t, c, now)
        if due is None or due >= now + WINDOWS["7d"]:
            return None
        return Entry(t.index, None, due.date().isoformat()), due
    for ev in reversed(c.events):
        if ev.occurred_at < now - EVENT_WINDOW:
            break
        if trigger_matches(t, ev, c, now):
            return Entry(t.index, ev, entry_key(t, ev)), now
    return None


def preview(
    conn: Transaction,
    now: datetime,
    store: AuditStore,
    *,
    key: str | None = None,
    text: str | None = None,
    version: int | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> Preview:
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise PreviewError(f"sample must be a whole number of at least 1, not {sample!r}")
    doc, jid = document(conn, store, key=key, text=text, version=version)
    by_contact: dict[int, list[tuple[Trigger, str]]] = {}
    for t in doc.triggers:
        ids, basis = _population(conn, store, t, now)
        for cid in ids:
            by_contact.setdefault(cid, []).append((t, basis))
    ids = sorted(by_contact)
    chosen = ids if len(ids) <= sample else [ids[i * len(ids) // sample] for i in range(sample)]
    snaps = store.snapshots(conn, chosen, now - DATE_EVENT_WINDOW)
    priors = store.prior_enrolments(conn, jid, chosen) if jid is not None else {}
    candidates: list[Candidate] = []
    for cid in chosen:
        contact = snaps.get(cid)
        if contact is None:
            continue
        prior = tuple(PriorEnrollment(*p) for p in priors.get(cid, []))
        made = None
        for t, basis in by_contact[cid]:
            made = _entry(doc, t, contact, now)
            if made is not None:
                candidates.append(Candidate(contact, made[0], made[1], prior, basis, daily=t.type != "date"))
                break
        if made is None:
            t, basis = by_contact[cid][0]
            why = "date not due this week" if t.type == "date" else "its event does not match the trigger"
            candidates.append(Candidate(contact, Entry(t.index, None, ""), now, prior, basis, why))
    result = blast_radius(doc, candidates, population=max(len(ids), len(candidates)), now=now)
    if jid is not None:
        result.in_flight = in_flight(conn, store, jid, now)
    return result


def in_flight(conn: Transaction, store: AuditStore, journey_id: int, now: datetime) -> dict[str, Any]:
    """Already in motion, beside new entries: live enrolments, their unsent messages (a paused
    journey's held ones go out on resume), and their timers due in each window (held timers
    that fell due during a pause fire at once on resume)."""
    queued, live, due = store.in_flight(conn, journey_id)
    timers = {
        name: sum(1 for d in due if d is not None and d < now + span) for name, span in WINDOWS.items()
    }
    return {"enrolments": live, "unsent_messages": queued, "timers_due": timers}
