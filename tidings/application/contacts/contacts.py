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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.contacts import changes
from tidings.application.contacts.identity import IdentityConflict, create_contact_row, delete_contacts
from tidings.domain import jsonvalues
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import (
    CONSENT_STATUSES,
    IDENTITY_FIELDS,
    InvalidValue,
    merge_attributes,
    normalise_field,
    normalise_tag,
)
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.store import schema

C = schema.contacts
T = schema.contact_tags
K = schema.consents
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
        raise InvalidValue(
            f"consent.{channel}.status", f"consent status must be one of {', '.join(CONSENT_STATUSES)}"
        )
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


def find_existing(conn: sa.Connection, data: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """The contact the identifiers in ``data`` name (external id, then email, then phone)."""
    for field in IDENTITY_FIELDS:
        if data.get(field):
            cid = conn.execute(sa.select(C.c.id).where(C.c[field] == data[field])).scalar()
            if cid is not None:
                return cid, field
    return None, None


def create_contact(conn: sa.Connection, data: Mapping[str, Any], now: datetime, source: str = "api") -> int:
    cid, field = find_existing(conn, data)
    if cid is not None:
        raise ContactExists(field or "id", cid)
    fields = {f: data[f] for f in PROFILE_FIELDS if data.get(f) is not None}
    # created on purpose (API, import): never "anonymous", even without an identifier
    new_id = create_contact_row(
        conn, now, attributes=merge_attributes({}, data.get("attributes") or {}), anonymous=False, **fields
    )
    if new_id is None:  # a concurrent writer took an identifier
        cid, field = find_existing(conn, data)
        raise ContactExists(field or "id", cid or 0)
    created = {f: {"from": None, "to": v} for f, v in fields.items()}
    for k, v in (data.get("attributes") or {}).items():
        if v is not None:
            created[f"attributes.{k}"] = {"from": None, "to": v}
    events = [
        changes.change_event(new_id, "contact.updated", {"changed": created, "created": True}, now, source)
    ]
    events += _apply_tags_and_consent(conn, new_id, data, now, source)
    changes.record(conn, events, now)
    return new_id


def upsert_contact(
    conn: sa.Connection, data: Mapping[str, Any], now: datetime, source: str = "api"
) -> tuple[int, bool]:
    """Update the contact the identifiers name, or create it. Returns (id, created).

    Never a conflict: when a concurrent writer creates the contact between the look-up and the
    insert (``ON CONFLICT DO NOTHING`` inserts nothing), the contact it created is updated."""
    cid, _ = find_existing(conn, data)
    if cid is None:
        try:
            return create_contact(conn, data, now, source), True
        except ContactExists as exc:
            if not exc.contact_id:
                raise
            cid = exc.contact_id
    update_contact(conn, cid, data, now, source)
    return cid, False


def update_contact(
    conn: sa.Connection, contact_id: int, data: Mapping[str, Any], now: datetime, source: str = "api"
) -> dict[str, Any] | None:
    """Apply a change; returns the changed fields (None if the contact does not exist)."""
    row = conn.execute(sa.select(C).where(C.c.id == contact_id)).mappings().first()
    if row is None:
        return None
    values: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in PROFILE_FIELDS:
        if field in data and data[field] != row[field]:
            if field in IDENTITY_FIELDS and data[field] is not None:
                holder = conn.execute(sa.select(C.c.id).where(C.c[field] == data[field])).scalar()
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
        conn.execute(sa.update(C).where(C.c.id == contact_id).values(**values))
        events.append(changes.change_event(contact_id, "contact.updated", {"changed": changed}, now, source))
    events += _apply_tags_and_consent(conn, contact_id, data, now, source)
    changes.record(conn, events, now)
    return changed


def _apply_tags_and_consent(
    conn: sa.Connection, contact_id: int, data: Mapping[str, Any], now: datetime, source: str
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    add = list(dict.fromkeys(data.get("tags_add") or ()))
    remove = list(dict.fromkeys(data.get("tags_remove") or ()))
    if add or remove:
        have = set(conn.execute(sa.select(T.c.tag).where(T.c.contact_id == contact_id)).scalars())
        new = [t for t in add if t not in have]
        if new:
            conn.execute(sa.insert(T), [{"contact_id": contact_id, "tag": t, "created_at": now} for t in new])
            events += [changes.change_event(contact_id, "tag.added", {"tag": t}, now, source) for t in new]
        gone = [t for t in remove if t in have and t not in add]
        if gone:
            conn.execute(sa.delete(T).where(T.c.contact_id == contact_id, T.c.tag.in_(gone)))
            events += [changes.change_event(contact_id, "tag.removed", {"tag": t}, now, source) for t in gone]
    for channel, c in (data.get("consent") or {}).items():
        prev = conn.execute(
            sa.select(K.c.status).where(K.c.contact_id == contact_id, K.c.channel == channel)
        ).scalar()
        values = {
            "status": c["status"],
            "source": c.get("source") or source,
            "recorded_at": c["recorded_at"],
            "proof": c.get("proof") or {},
        }
        if prev is None:
            conn.execute(sa.insert(K).values(contact_id=contact_id, channel=channel, topics={}, **values))
        else:
            conn.execute(
                sa.update(K).where(K.c.contact_id == contact_id, K.c.channel == channel).values(**values)
            )
        if prev != c["status"]:
            events.append(
                changes.change_event(
                    contact_id,
                    "consent.changed",
                    {"channel": channel, "status": c["status"], "previous": prev, "source": values["source"]},
                    now,
                    source,
                )
            )
    return events


def delete_contact(conn: sa.Connection, contact_id: int) -> bool:
    return delete_contacts(conn, [contact_id]) > 0


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


def get_contacts(conn: sa.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """Contacts with their tags and consent, in the order of ``ids``."""
    if not ids:
        return []
    rows = {r["id"]: r for r in conn.execute(sa.select(C).where(C.c.id.in_(ids))).mappings()}
    tags: dict[int, list[str]] = {}
    for r in conn.execute(
        sa.select(T.c.contact_id, T.c.tag).where(T.c.contact_id.in_(ids)).order_by(T.c.tag)
    ):
        tags.setdefault(r.contact_id, []).append(r.tag)
    consent: dict[int, dict[str, Any]] = {}
    for k in conn.execute(sa.select(K).where(K.c.contact_id.in_(ids))).mappings():
        consent.setdefault(k["contact_id"], {})[k["channel"]] = {
            "status": k["status"],
            "source": k["source"],
            "recorded_at": k["recorded_at"],
            "proof": k["proof"],
            "topics": k["topics"],
            "paused_until": k["paused_until"],
        }
    return [contact_dict(rows[i], tags.get(i, []), consent.get(i, {})) for i in ids if i in rows]


def get_contact(conn: sa.Connection, contact_id: int) -> dict[str, Any] | None:
    found = get_contacts(conn, [contact_id])
    return found[0] if found else None


def lookup(conn: sa.Connection, key: str) -> int | None:
    """A contact by id, email, phone or external id (for the CLI's EMAIL_OR_ID)."""
    key = key.strip()
    if key.isdigit():
        cid: int | None = conn.execute(sa.select(C.c.id).where(C.c.id == int(key))).scalar()
        if cid is not None:
            return cid
    if "@" in key:
        by_email: int | None = conn.execute(sa.select(C.c.id).where(C.c.email == key.lower())).scalar()
        return by_email
    for field in ("external_id", "phone"):
        found: int | None = conn.execute(sa.select(C.c.id).where(C.c[field] == key)).scalar()
        if found is not None:
            return found
    return None


@dataclass
class ContactFilter:
    tag: str | None = None
    stage: str | None = None
    owner: str | None = None
    q: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_anonymous: bool = True


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue(
            "cursor", "invalid cursor (pass back the next_cursor of a previous page)"
        ) from None


def list_contacts(
    conn: sa.Connection, f: ContactFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of contacts in id order (keyset pagination: stable under inserts)."""
    q = sa.select(C.c.id).order_by(C.c.id).limit(limit + 1)
    q = _filtered(q, f)
    if cursor:
        q = q.where(C.c.id > decode_cursor(cursor))
    ids = list(conn.execute(q).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    return get_contacts(conn, ids), (encode_cursor(ids[-1]) if more and ids else None)


def _filtered(q: Any, f: ContactFilter) -> Any:
    if f.tag:
        q = q.where(sa.exists(sa.select(T.c.tag).where(T.c.contact_id == C.c.id, T.c.tag == f.tag)))
    if f.stage:
        q = q.where(C.c.lifecycle_stage == f.stage)
    if f.owner:
        q = q.where(C.c.owner == f.owner)
    if f.q:
        text = f.q.strip().lower()
        q = q.where(
            sa.or_(
                C.c.email.contains(text, autoescape=True),
                sa.func.lower(C.c.first_name).contains(text, autoescape=True),
                sa.func.lower(C.c.last_name).contains(text, autoescape=True),
                C.c.external_id == f.q.strip(),
            )
        )
    if f.created_after:
        q = q.where(C.c.created_at >= f.created_after)
    if f.created_before:
        q = q.where(C.c.created_at < f.created_before)
    if not f.include_anonymous:
        q = q.where(C.c.anonymous.is_(False))
    return q


def iter_contacts(
    conn: sa.Connection, f: ContactFilter | None = None, chunk: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every matching contact, in chunks (export)."""
    last = 0
    while True:
        q = _filtered(
            sa.select(C.c.id).where(C.c.id > last).order_by(C.c.id).limit(chunk), f or ContactFilter()
        )
        ids = list(conn.execute(q).scalars())
        if not ids:
            return
        yield from get_contacts(conn, ids)
        last = ids[-1]
