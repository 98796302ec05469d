"""Contacts use cases: create, upsert, change, read, list, delete.

Input is a plain dict (the API, the tracking endpoints and the CSV import build it):
standard fields (``email``, ``phone``, ``first_name``...), ``attributes`` (a JSON merge patch),
``tags`` / ``tags_add`` (added), ``tags_remove``, and ``consent`` ``{channel: {status, source,
recorded_at, proof}}``. :func:`normalise_input` validates it; every change is recorded as events
and the contact is enqueued for the worker in the caller's transaction.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from tidings.application.contacts import changes
from tidings.application.contacts.identity import IdentityConflict, create_contact_row, delete_contacts
from tidings.application.contacts.preferences import record_consent
from tidings.application.ports.contacts import ContactsUnitOfWork
from tidings.domain import jsonvalues
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import (
    CONSENT_STATUSES,
    IDENTITY_FIELDS,
    ContactFilter,
    InvalidValue,
    merge_attributes,
    normalise_field,
    normalise_tag,
)
from tidings.domain.snapshot import PROFILE_FIELDS

__all__ = [
    "ContactExists",
    "ContactFilter",  # defined in domain/contacts.py, the filter of list_contacts / iter_contacts
    "IdentityConflict",  # defined in identity.py, raised by update_contact
    "contact_dict",
    "create_contact",
    "decode_cursor",
    "delete_contact",
    "encode_cursor",
    "find_existing",
    "get_contact",
    "get_contacts",
    "iter_contacts",
    "list_contacts",
    "lookup",
    "normalise_input",
    "update_contact",
    "upsert_contact",
]

PROOF_KEYS = ("form", "text", "ip", "user_agent", "url")


class ContactExists(ValueError):
    def __init__(self, field: str, contact_id: int) -> None:
        super().__init__(f"a contact with this {field} exists (id {contact_id})")
        self.field = field
        self.contact_id = contact_id


def normalise_input(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Validate and normalise a contact change; raises InvalidValue naming the field path."""
    out: dict[str, Any] = {}
    for field in PROFILE_FIELDS:
        if field in data:
            out[field] = normalise_field(field, data[field])
    if data.get("attributes") is not None:
        if not isinstance(data["attributes"], Mapping):
            raise InvalidValue("attributes", "attributes must be an object")
        bad = jsonvalues.problems(data["attributes"])
        if bad:
            raise InvalidValue(".".join(map(str, ["attributes", *bad[0].path])), bad[0].message)
        out["attributes"] = dict(data["attributes"])
    for key, target in (("tags", "tags_add"), ("tags_add", "tags_add"), ("tags_remove", "tags_remove")):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str) or not isinstance(value, (list, tuple, set)):
            raise InvalidValue(key, f"{key} must be a list of strings")
        tags = []
        for i, tag in enumerate(value):
            try:
                tags.append(normalise_tag(tag))
            except InvalidValue as exc:
                raise InvalidValue(f"{key}.{i}", exc.message) from None
        out.setdefault(target, []).extend(tags)
    consent = data.get("consent")
    if consent:
        if not isinstance(consent, Mapping):
            raise InvalidValue("consent", "consent must be an object keyed by channel")
        out["consent"] = {ch: _consent(ch, c, now) for ch, c in consent.items()}
    return out


def _consent(channel: str, value: Any, now: datetime) -> dict[str, Any]:
    if channel not in CONSENT_CHANNELS:
        raise InvalidValue(
            f"consent.{channel}", f"unknown channel {channel!r}; use one of {', '.join(CONSENT_CHANNELS)}"
        )
    if isinstance(value, str):
        value = {"status": value}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"consent.{channel}", "consent must be an object with a status")
    status = value.get("status")
    if status not in CONSENT_STATUSES:
        raise InvalidValue(f"consent.{channel}.status", f"consent status must be one of {', '.join(CONSENT_STATUSES)}")
    proof = value.get("proof") or {}
    if not isinstance(proof, Mapping):
        raise InvalidValue(f"consent.{channel}.proof", "proof must be an object")
    recorded = value.get("recorded_at") or now
    if isinstance(recorded, str):
        try:
            recorded = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(f"consent.{channel}.recorded_at", "recorded_at must be ISO 8601") from None
    return {"status": status, "source": value.get("source"), "recorded_at": recorded, "proof": dict(proof)}


# --------------------------------------------------------------------------- writes


def find_existing(uow: ContactsUnitOfWork, data: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """The contact the identifiers in ``data`` name (external id, then email, then phone)."""
    for field in IDENTITY_FIELDS:
        if data.get(field):
            cid = uow.contacts.id_by(field, data[field])
            if cid is not None:
                return cid, field
    return None, None


def create_contact(uow: ContactsUnitOfWork, data: Mapping[str, Any], now: datetime, source: str = "api") -> int:
    cid, field = find_existing(uow, data)
    if cid is not None:
        raise ContactExists(field or "id", cid)
    fields = {f: data[f] for f in PROFILE_FIELDS if data.get(f) is not None}
    # created on purpose (API, import): never "anonymous", even without an identifier
    new_id = create_contact_row(
        uow, now, attributes=merge_attributes({}, data.get("attributes") or {}), anonymous=False, **fields
    )
    if new_id is None:  # a concurrent writer took an identifier
        cid, field = find_existing(uow, data)
        raise ContactExists(field or "id", cid or 0)
    created = {f: {"from": None, "to": v} for f, v in fields.items()}
    for k, v in (data.get("attributes") or {}).items():
        if v is not None:
            created[f"attributes.{k}"] = {"from": None, "to": v}
    events = [changes.change_event(new_id, "contact.updated", {"changed": created, "created": True}, now, source)]
    events += _apply_tags_and_consent(uow, new_id, data, now, source)
    changes.record(uow.events, events, now)
    return new_id


def upsert_contact(
    uow: ContactsUnitOfWork, data: Mapping[str, Any], now: datetime, source: str = "api"
) -> tuple[int, bool]:
    """Update the contact the identifiers name, or create it. Returns (id, created).

    Never a conflict: when a concurrent writer creates the contact between the look-up and the
    insert (``ON CONFLICT DO NOTHING`` inserts nothing), the contact it created is updated."""
    cid, _ = find_existing(uow, data)
    if cid is None:
        try:
            return create_contact(uow, data, now, source), True
        except ContactExists as exc:
            if not exc.contact_id:
                raise
            cid = exc.contact_id
    update_contact(uow, cid, data, now, source)
    return cid, False


def update_contact(
    uow: ContactsUnitOfWork, contact_id: int, data: Mapping[str, Any], now: datetime, source: str = "api"
) -> dict[str, Any] | None:
    """Apply a change; returns the changed fields (None if the contact does not exist)."""
    row = uow.contacts.get(contact_id)
    if row is None:
        return None
    values: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in PROFILE_FIELDS:
        if field in data and data[field] != row[field]:
            if field in IDENTITY_FIELDS and data[field] is not None:
                holder = uow.contacts.id_by(field, data[field])
                if holder is not None and holder != contact_id:
                    raise IdentityConflict(field, f"{field} {data[field]!r} belongs to contact {holder}")
            values[field] = data[field]
            changed[field] = {"from": row[field], "to": data[field]}
    if data.get("attributes"):
        old = row["attributes"] or {}
        new = merge_attributes(old, data["attributes"])
        if new != old:
            values["attributes"] = new
            for k in set(old) | set(new):
                if old.get(k) != new.get(k):
                    changed[f"attributes.{k}"] = {"from": old.get(k), "to": new.get(k)}
    events = []
    if values:
        values["updated_at"] = now
        if any(values.get(f) for f in IDENTITY_FIELDS):
            values["anonymous"] = False
        uow.contacts.update(contact_id, values)
        events.append(changes.change_event(contact_id, "contact.updated", {"changed": changed}, now, source))
    events += _apply_tags_and_consent(uow, contact_id, data, now, source)
    changes.record(uow.events, events, now)
    return changed


def _apply_tags_and_consent(
    uow: ContactsUnitOfWork, contact_id: int, data: Mapping[str, Any], now: datetime, source: str
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    add = list(dict.fromkeys(data.get("tags_add") or ()))
    remove = list(dict.fromkeys(data.get("tags_remove") or ()))
    if add or remove:
        have = set(uow.contacts.tags(contact_id))
        new = [t for t in add if t not in have]
        if new:
            uow.contacts.add_tags(contact_id, new, now)
            events += [changes.change_event(contact_id, "tag.added", {"tag": t}, now, source) for t in new]
        gone = [t for t in remove if t in have and t not in add]
        if gone:
            uow.contacts.remove_tags(contact_id, gone)
            events += [changes.change_event(contact_id, "tag.removed", {"tag": t}, now, source) for t in gone]
    for channel, c in (data.get("consent") or {}).items():
        events += record_consent(uow.consents, contact_id, channel, c, now, source)
    return events


def delete_contact(uow: ContactsUnitOfWork, contact_id: int) -> bool:
    return delete_contacts(uow, [contact_id]) > 0


# --------------------------------------------------------------------------- reads


def contact_dict(row: Any, tags: list[str], consent: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: row[k]
        for k in (
            "id",
            *PROFILE_FIELDS,
            "anonymous",
            "created_at",
            "updated_at",
        )
    }
    out["attributes"] = row["attributes"] or {}
    out["tags"] = tags
    out["consent"] = consent
    return out


def get_contacts(uow: ContactsUnitOfWork, ids: list[int]) -> list[dict[str, Any]]:
    """Contacts with their tags and consent, in the order of ``ids``."""
    if not ids:
        return []
    return [contact_dict(r, r["tags"], r["consent"]) for r in uow.contacts.many(ids)]


def get_contact(uow: ContactsUnitOfWork, contact_id: int) -> dict[str, Any] | None:
    found = get_contacts(uow, [contact_id])
    return found[0] if found else None


def lookup(uow: ContactsUnitOfWork, key: str) -> int | None:
    """A contact by id, email, phone or external id (for the CLI's EMAIL_OR_ID)."""
    key = key.strip()
    if key.isdigit():
        cid = uow.contacts.id_by("id", int(key))
        if cid is not None:
            return cid
    if "@" in key:
        return uow.contacts.id_by("email", key.lower())
    for field in ("external_id", "phone"):
        found = uow.contacts.id_by(field, key)
        if found is not None:
            return found
    return None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue("cursor", "invalid cursor (pass back the next_cursor of a previous page)") from None


def list_contacts(
    uow: ContactsUnitOfWork, f: ContactFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of contacts in id order (keyset pagination: stable under inserts)."""
    ids = uow.contacts.page_ids(f, after=decode_cursor(cursor) if cursor else 0, limit=limit + 1)
    more = len(ids) > limit
    ids = ids[:limit]
    return get_contacts(uow, ids), (encode_cursor(ids[-1]) if more and ids else None)


def iter_contacts(
    uow: ContactsUnitOfWork, f: ContactFilter | None = None, chunk: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every matching contact, in chunks (export)."""
    last = 0
    while True:
        ids = uow.contacts.page_ids(f or ContactFilter(), after=last, limit=chunk)
        if not ids:
            return
        yield from get_contacts(uow, ids)
        last = ids[-1]
