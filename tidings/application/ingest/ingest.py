"""Ingest: events and identity calls in, one transaction per request, idempotent on message id.

The hot path is a batch of ``track`` calls: identities are resolved in bulk (one query per
kind of identifier, one multi-row insert for the contacts seen for the first time), events go
in with one multi-row ``INSERT ... ON CONFLICT (message_id) DO NOTHING``, and their contacts
are enqueued for the worker in the same transaction. ``identify`` / ``alias`` / ``group`` calls
change identities and profiles; they run first, in order, through the identity service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.application.contacts import changes, identity
from tidings.application.contacts.contacts import normalise_input, update_contact
from tidings.application.ports.contacts import ContactsUnitOfWork
from tidings.application.ports.ingest import EventIngest, IngestUnitOfWork
from tidings.domain.contacts import InvalidValue, event_value, split_traits
from tidings.domain.event_names import canonical_event_name

log = logging.getLogger("tidings.ingest")
EVENT_KINDS = ("track", "page", "screen")


@dataclass(slots=True)
class Incoming:
    """One validated call: an event (track/page/screen) or an identity call."""

    kind: str
    message_id: str
    occurred_at: datetime
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    anonymous_id: str | None = None
    contact_id: int | None = None
    email: str | None = None
    phone: str | None = None
    #: normalised contact changes (identify traits, group)
    changes: dict[str, Any] = field(default_factory=dict)
    previous_id: str | None = None
    #: index of the item in its request, for error paths
    index: int = 0
    #: sent from a public, unauthenticated page (a hosted form): an identify with an email is
    #: matched by that email alone, never by a phone number typed beside it — otherwise anyone
    #: who knows a contact's phone could attach their own email to that contact. The phone is
    #: then an ordinary trait: kept when no one else has it, dropped (logged) when someone does.
    public: bool = False


@dataclass
class IngestResult:
    """What a request did: ``accepted`` = ``events`` stored + ``identified`` identity calls applied."""

    accepted: int = 0
    #: events stored (repeats of a known message id are ``duplicates``, not stored)
    events: int = 0
    #: identify / alias / group calls applied to a contact (created or changed)
    identified: int = 0
    duplicates: list[str] = field(default_factory=list)
    contact_ids: set[int] = field(default_factory=set)


class IngestError(ValueError):
    """An item the database state makes invalid (e.g. an unknown contact id): nothing is kept."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message


def traits_to_changes(
    traits: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Identify traits -> a normalised contact change, and (trait name, error) for bad ones.

    Bad standard traits (an invalid email) are errors; unknown traits become attributes.
    """
    standard, attributes = split_traits(traits)
    raw: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    originals: dict[str, str] = {}
    for key in traits:
        target = _target(key)
        if target:
            originals.setdefault(target, key)
    for name, value in standard.items():
        try:
            raw.update(normalise_input({name: value}, now))
        except InvalidValue as exc:
            errors.append((originals.get(name, name), exc.message))
    if attributes:
        raw["attributes"] = attributes
    return raw, errors


def _target(trait: str) -> str | None:
    standard, _ = split_traits({trait: None})
    return next(iter(standard), None)


# --------------------------------------------------------------------------- the transaction


def ingest(uow: IngestUnitOfWork, items: Sequence[Incoming], now: datetime, source: str = "api") -> IngestResult:
    """Write a request's calls in the caller's open unit of work (the caller commits it, or rolls
    it back on an IngestError, raised for an impossible item)."""
    result = IngestResult()
    for item in items:
        if item.kind not in EVENT_KINDS:
            cid = _identity_call(uow, item, now, source)
            if cid is not None:
                result.contact_ids.add(cid)
                result.identified += 1
                result.accepted += 1
    events = [i for i in items if i.kind in EVENT_KINDS]
    if not events:
        return result
    seen: set[str] = set()
    unique: list[Incoming] = []
    for ev in events:
        if ev.message_id in seen:
            result.duplicates.append(ev.message_id)
        else:
            seen.add(ev.message_id)
            unique.append(ev)
    contact_of = resolve_bulk(uow, unique, now, source)
    rows: list[dict[str, Any]] = [
        {
            "contact_id": contact_of[i],
            "name": None if ev.name is None else canonical_event_name(ev.name),
            "properties": ev.properties,
            "occurred_at": ev.occurred_at,
            "received_at": now,
            "message_id": ev.message_id,
            "source": source,
            "value": event_value(ev.properties),
        }
        for i, ev in enumerate(unique)
    ]
    bulk = uow.event_ingest
    inserted = bulk.insert_events(rows)
    result.events = len(inserted)
    result.accepted += len(inserted)
    result.duplicates += [r["message_id"] for r in rows if r["message_id"] not in inserted]
    touched = {r["contact_id"] for r in rows if r["message_id"] in inserted}
    bulk.enqueue(touched, now)
    result.contact_ids |= touched
    return result


def resolve_bulk(uow: IngestUnitOfWork, events: Sequence[Incoming], now: datetime, source: str) -> list[int]:
    """The contact of each event, creating unknown user ids and anonymous ids in bulk."""
    out: list[int | None] = [None] * len(events)
    by_user: dict[str, list[int]] = {}
    by_anon: dict[str, list[int]] = {}
    by_email: dict[str, list[int]] = {}
    by_phone: dict[str, list[int]] = {}
    links: list[tuple[str, str]] = []
    for i, ev in enumerate(events):
        if ev.user_id:
            by_user.setdefault(ev.user_id, []).append(i)
            if ev.anonymous_id:
                links.append((ev.user_id, ev.anonymous_id))
        elif ev.anonymous_id:
            by_anon.setdefault(ev.anonymous_id, []).append(i)
        elif ev.contact_id is not None:
            cid = identity.find_by(uow, "id", ev.contact_id)
            if cid is None:
                raise IngestError(ev.index, "contact_id", f"no contact with id {ev.contact_id}")
            out[i] = cid
        elif ev.email and not ev.phone:
            by_email.setdefault(ev.email, []).append(i)
        elif ev.phone and not ev.email:
            by_phone.setdefault(ev.phone, []).append(i)
        else:  # email and phone: the general resolver (creates the contact when unknown, merges)
            out[i] = identity.resolve_contact(uow, email=ev.email, phone=ev.phone, now=now, source=source)
    for fld, groups in (("email", by_email), ("phone", by_phone)):
        known = _by_identifier(uow, fld, list(groups), now, source)
        for value, idx in groups.items():
            for i in idx:
                out[i] = known[value]
    users = _users(uow, list(by_user), now, source)
    for uid, idx in by_user.items():
        for i in idx:
            out[i] = users[uid]
    anons = _anonymous(uow.event_ingest, list(by_anon), now)
    for aid, idx in by_anon.items():
        for i in idx:
            out[i] = anons[aid]
    if links:
        _link_anonymous(uow, links, users, now, source)
    resolved: list[int] = []
    for i, cid in enumerate(out):
        if cid is None:  # pragma: no cover - every branch above assigns
            raise IngestError(events[i].index, "userId", "event names no contact")
        resolved.append(cid)
    return resolved


def _users(uow: IngestUnitOfWork, user_ids: list[str], now: datetime, source: str) -> dict[str, int]:
    if not user_ids:
        return {}
    bulk = uow.event_ingest
    found = bulk.ids_by("external_id", user_ids)
    missing = [u for u in user_ids if u not in found]
    if missing:  # user ids folded into another contact by an alias call
        found.update(bulk.alias_owners("user_id", missing))
        missing = [u for u in user_ids if u not in found]
    if missing:
        created = bulk.add_identified("external_id", missing, now)
        found.update(created)
        taken = [u for u in missing if u not in created]
        if taken:  # a concurrent writer created them first (PostgreSQL)
            found.update(bulk.ids_by("external_id", taken))
        uow.events.append_changes(
            [
                changes.change_event(
                    cid,
                    "contact.updated",
                    {"changed": {"external_id": {"from": None, "to": u}}, "created": True},
                    now,
                    source,
                )
                for u, cid in created.items()
            ],
            now,
        )
    return found


def _by_identifier(
    uow: IngestUnitOfWork, fld: str, values: list[str], now: datetime, source: str
) -> dict[str, int]:
    """Contacts by email or phone alone, the unknown ones created in bulk.

    What ``identity.resolve_contact(email=...)`` (or ``phone=``) does for each value, in three
    statements for the whole request: one lookup, one multi-row insert that skips values a
    concurrent writer took (the port says which contacts are ours) and the ``contact.updated``
    events of the new contacts.
    """
    if not values:
        return {}
    bulk = uow.event_ingest
    found = bulk.ids_by(fld, values)
    missing = [v for v in values if v not in found]
    if not missing:
        return found
    created = bulk.add_identified(fld, missing, now)
    found.update(created)
    taken = [v for v in missing if v not in created]
    if taken:  # a concurrent writer created them first (PostgreSQL)
        found.update(bulk.ids_by(fld, taken))
    uow.events.append_changes(
        [
            changes.change_event(
                cid, "contact.updated", {"changed": {fld: {"from": None, "to": v}}, "created": True}, now, source
            )
            for v, cid in sorted(created.items(), key=lambda kv: kv[1])
        ],
        now,
    )
    return found


def _anonymous(bulk: EventIngest, anon_ids: list[str], now: datetime) -> dict[str, int]:
    if not anon_ids:
        return {}
    found = bulk.alias_owners("anonymous_id", anon_ids)
    missing = [a for a in anon_ids if a not in found]
    if missing:
        found.update(bulk.add_anonymous(missing, now))
    return found


def _link_anonymous(
    uow: IngestUnitOfWork, links: list[tuple[str, str]], users: dict[str, int], now: datetime, source: str
) -> None:
    """A track call naming a user and an anonymous id ties the anonymous history to the user."""
    known = uow.event_ingest.alias_owners("anonymous_id", list({a for _, a in links}))
    new_aliases: dict[str, int] = {}
    for uid, aid in links:
        target = users[uid]
        current = known.get(aid)
        if current is None:
            new_aliases[aid] = target
            known[aid] = target
        elif current != target and identity.mergeable(uow, current, target):
            identity.merge_contacts(uow, current, target, now, source=source)
            known[aid] = target
    uow.event_ingest.add_aliases("anonymous_id", new_aliases, now)


def _identity_call(uow: IngestUnitOfWork, item: Incoming, now: datetime, source: str) -> int | None:
    if item.kind == "alias":
        return _alias(uow, item, now, source)
    data = dict(item.changes)
    by_phone = None if item.public and data.get("email") else data.get("phone")
    try:
        cid = identity.resolve_contact(
            uow,
            external_id=item.user_id,
            email=data.get("email"),
            phone=by_phone,
            anonymous_id=item.anonymous_id,
            now=now,
            source=source,
        )
    except identity.IdentityConflict:
        cid = identity.resolve_contact(
            uow, external_id=item.user_id, anonymous_id=item.anonymous_id, now=now, source=source
        )
    if cid is None:
        return None
    for _ in range(3):
        try:
            update_contact(uow, cid, data, now, source)
            break
        except identity.IdentityConflict as exc:
            # the email / phone belongs to another known person: keep the rest of the traits
            log.warning("%s call %s: %s; field ignored", item.kind, item.message_id, exc.message)
            data.pop(exc.field, None)
    return cid


def _alias(uow: ContactsUnitOfWork, item: Incoming, now: datetime, source: str) -> int | None:
    """``alias(previousId -> userId)``: the previous identity's history joins the user's."""
    prev = item.previous_id or ""
    prev_cid = identity.find_by(uow, "external_id", prev) or identity.find_by(uow, "anonymous_id", prev)
    target = identity.find_by(uow, "external_id", item.user_id) if item.user_id else None
    if prev_cid is None:
        return identity.resolve_contact(
            uow, external_id=item.user_id, anonymous_id=prev, now=now, source=source
        )
    if target is None:  # the previous identity simply gets the user id
        update_contact(uow, prev_cid, {"external_id": item.user_id}, now, source)
        return prev_cid
    if target != prev_cid:  # an explicit "these are one person": merge even two known ids
        identity.merge_contacts(uow, prev_cid, target, now, source=source)
    if identity.find_by(uow, "external_id", prev) != target:
        identity.add_alias(uow, "anonymous_id", prev, target, now)
    return target
