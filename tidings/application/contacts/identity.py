"""Who is this? Resolving identifiers to one contact, and merging two contacts into one.

A contact is found by its external id (the sender's ``userId``), email, phone, or an anonymous
id (``contact_aliases`` kind ``anonymous_id``). When one request names identifiers that point at
two contacts, and one of them is only an anonymous (or identifier-less) profile, its history is
merged into the known contact: every per-contact row moves, an alias ``merged_id`` remembers
the old id, and the old contact row is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tidings.application.contacts import changes
from tidings.application.ports.contacts import ContactsUnitOfWork
from tidings.domain.contacts import merge_attributes
from tidings.domain.snapshot import PROFILE_FIELDS


class IdentityConflict(ValueError):
    """The identifiers given belong to two known contacts that we must not merge silently."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def find_alias(uow: ContactsUnitOfWork, kind: str, value: str) -> int | None:
    return uow.contacts.alias_owner(kind, value)


def find_by(uow: ContactsUnitOfWork, field: str, value: Any) -> int | None:
    if field == "id":
        found = uow.contacts.id_by("id", value)
        # the id of a contact we merged away still finds the contact it became
        return found if found is not None else find_alias(uow, "merged_id", str(value))
    if field == "anonymous_id":
        return find_alias(uow, "anonymous_id", value)
    found = uow.contacts.id_by(field, value)
    if found is None and field == "external_id":  # a user id merged into another by alias
        found = find_alias(uow, "user_id", str(value))
    return found


def add_alias(uow: ContactsUnitOfWork, kind: str, value: str, contact_id: int, now: datetime) -> None:
    uow.contacts.add_alias(kind, value, contact_id, now)


def create_contact_row(uow: ContactsUnitOfWork, now: datetime, **fields: Any) -> int | None:
    """Insert a contact; None when a unique identifier is already taken (a concurrent writer)."""
    anonymous = not any(fields.get(k) for k in ("external_id", "email", "phone"))
    row = {"attributes": {}, "anonymous": anonymous, "created_at": now, "updated_at": now, **fields}
    return uow.contacts.insert(row)


def resolve_contact(
    uow: ContactsUnitOfWork,
    *,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    anonymous_id: str | None = None,
    now: datetime,
    create: bool = True,
    source: str = "api",
) -> int | None:
    """The contact these (already normalised) identifiers name; created when unknown.

    Priority: external id, email, phone, anonymous id. Identifiers pointing at other contacts
    are merged in when those contacts are anonymous or carry no conflicting external id;
    identifiers the winner lacks are set on it; an anonymous id becomes an alias. Returns None
    only when nothing matched and ``create`` is false.
    """
    keys = {"external_id": external_id, "email": email, "phone": phone, "anonymous_id": anonymous_id}
    found = {k: find_by(uow, k, v) for k, v in keys.items() if v}
    primary = next((cid for cid in found.values() if cid is not None), None)
    if primary is None:
        if not create:
            return None
        fields = {k: v for k, v in keys.items() if v and k != "anonymous_id"}
        primary = create_contact_row(uow, now, **fields)
        if primary is None:  # lost a race on a unique identifier: resolve again
            return resolve_contact(
                uow,
                external_id=external_id,
                email=email,
                phone=phone,
                anonymous_id=anonymous_id,
                now=now,
                create=False,
                source=source,
            )
        if anonymous_id:
            add_alias(uow, "anonymous_id", anonymous_id, primary, now)
            winner = find_alias(uow, "anonymous_id", anonymous_id)
            if winner != primary:  # a concurrent request created it first
                uow.contacts.delete([primary])
                return winner
        created = {k: {"from": None, "to": v} for k, v in fields.items()}
        changes.record(
            uow.events,
            [changes.change_event(primary, "contact.updated", {"changed": created, "created": True}, now, source)],
            now,
        )
        return primary
    for cid in found.values():
        if cid is None or cid == primary:
            continue
        if mergeable(uow, cid, primary):
            merge_contacts(uow, cid, primary, now, source=source)
    _fill_identifiers(uow, primary, keys, now, source)
    return primary


def mergeable(uow: ContactsUnitOfWork, source_id: int, target_id: int) -> bool:
    """Fold ``source`` into ``target`` only when that cannot join two different known people."""
    src, dst = uow.contacts.get(source_id), uow.contacts.get(target_id)
    if src is None or dst is None:
        return False
    if src["anonymous"]:
        return True
    return src["external_id"] is None or dst["external_id"] is None


def _fill_identifiers(
    uow: ContactsUnitOfWork, contact_id: int, keys: dict[str, Any], now: datetime, source: str
) -> None:
    row = uow.contacts.get(contact_id)
    assert row is not None, f"contact {contact_id} vanished"  # resolved in this transaction
    values: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in ("external_id", "email", "phone"):
        v = keys.get(field)
        if v and row[field] is None and uow.contacts.id_by(field, v) is None:
            values[field] = v
            changed[field] = {"from": None, "to": v}
    if keys.get("anonymous_id") and find_alias(uow, "anonymous_id", keys["anonymous_id"]) is None:
        add_alias(uow, "anonymous_id", keys["anonymous_id"], contact_id, now)
    if values:
        values["anonymous"] = False
        values["updated_at"] = now
        uow.contacts.update(contact_id, values)
        changes.record(
            uow.events,
            [changes.change_event(contact_id, "contact.updated", {"changed": changed}, now, source)],
            now,
        )


def merge_contacts(
    uow: ContactsUnitOfWork, source_id: int, target_id: int, now: datetime, *, source: str = "api"
) -> None:
    """Move everything of ``source_id`` onto ``target_id`` and delete ``source_id``.

    Rows keyed by contact (tags, consents...) keep the target's row when both have one, except
    consent, where the most recent decision wins. Fields the target lacks are filled from the
    source; attributes merge with the target's values winning.
    """
    if source_id == target_id:
        return
    src, dst = uow.contacts.get(source_id), uow.contacts.get(target_id)
    if src is None or dst is None:
        return
    uow.contacts.move_rows(source_id, target_id)
    fill: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in (f for f in PROFILE_FIELDS if f != "score"):  # the target keeps its own score
        if dst[field] is None and src[field] is not None:
            fill[field] = src[field]
            changed[field] = {"from": None, "to": src[field]}
    attrs = merge_attributes(src["attributes"] or {}, dst["attributes"] or {})
    if attrs != (dst["attributes"] or {}):
        fill["attributes"] = attrs
    uow.contacts.delete([source_id])  # its rows moved: only the contact row is left
    fill["updated_at"] = now
    if fill.get("external_id") or fill.get("email") or fill.get("phone") or not dst["anonymous"]:
        fill["anonymous"] = False
    uow.contacts.update(target_id, fill)
    add_alias(uow, "merged_id", str(source_id), target_id, now)
    if src["external_id"] and dst["external_id"] and src["external_id"] != dst["external_id"]:
        # two user ids, one person (an explicit alias): the old user id keeps resolving
        add_alias(uow, "user_id", src["external_id"], target_id, now)
    rows = [changes.change_event(target_id, "contact.merged", {"merged_id": source_id}, now, source)]
    if changed:
        rows.append(changes.change_event(target_id, "contact.updated", {"changed": changed}, now, source))
    changes.record(uow.events, rows, now)


def delete_contacts(uow: ContactsUnitOfWork, contact_ids: Iterable[int]) -> int:
    """Hard delete: the contacts and every per-contact row (erasure)."""
    return uow.contacts.delete(contact_ids)
