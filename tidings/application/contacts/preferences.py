"""Unsubscribe and the preference centre: consent per channel, topics, pauses.

An unsubscribe takes effect at once: in the same transaction the consent becomes
``unsubscribed``, ``message.unsubscribed`` and ``consent.changed`` are appended (the contact is
enqueued), and every pending marketing message of that contact and channel that no delivery loop
has started is skipped. The delivery loop re-checks consent when it claims a message, so nothing
prepared before the unsubscribe goes out either (see channels/prepare.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.application.contacts import changes
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.store import schema
from tidings.store.outbox import message_event_properties, skip_pending_for

K = schema.consents
MAX_PAUSE_DAYS = 365


class UnknownMessage(LookupError):
    pass


def _consent_row(conn: sa.Connection, contact_id: int, channel: str) -> dict[str, Any] | None:
    row = (
        conn.execute(sa.select(K).where(K.c.contact_id == contact_id, K.c.channel == channel))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def set_consent(
    conn: sa.Connection,
    contact_id: int,
    channel: str,
    status: str,
    now: datetime,
    *,
    source: str,
    proof: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Write the consent and return the change events to append (none when unchanged)."""
    prev = _consent_row(conn, contact_id, channel)
    values = {"status": status, "source": source, "recorded_at": now, "proof": dict(proof or {})}
    if prev is None:
        conn.execute(sa.insert(K).values(contact_id=contact_id, channel=channel, topics={}, **values))
    elif prev["status"] != status:
        conn.execute(
            sa.update(K).where(K.c.contact_id == contact_id, K.c.channel == channel).values(**values)
        )
    previous = prev["status"] if prev else None
    if previous == status:
        return []
    props = {"channel": channel, "status": status, "previous": previous, "source": source}
    return [changes.change_event(contact_id, "consent.changed", props, now, source)]


def unsubscribe_message(
    conn: sa.Connection, outbox_id: int, now: datetime, *, method: str, proof: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one-click unsubscribe of the message ``outbox_id``: idempotent."""
    o = schema.outbox
    found = conn.execute(sa.select(o).where(o.c.id == outbox_id)).mappings().first()
    if found is None:
        raise UnknownMessage(outbox_id)
    row = dict(found)
    channel = "phone" if row["channel"] == "voice" else (row["channel"] or "email")
    events = set_consent(
        conn,
        row["contact_id"],
        channel,
        "unsubscribed",
        now,
        source="unsubscribe_link",
        proof={"message_id": outbox_id, "method": method, **(proof or {})},
    )
    skipped = 0
    if events:  # first unsubscribe from this message's channel
        props = message_event_properties(row) | {"method": method}
        events.insert(
            0, changes.change_event(row["contact_id"], "message.unsubscribed", props, now, "tracking")
        )
    skipped = skip_pending_for(
        conn, row["contact_id"], row["channel"] or "email", now, "unsubscribed (one-click) before sending"
    )
    changes.record(conn, events, now)
    return {"contact_id": row["contact_id"], "channel": channel, "skipped": skipped, "changed": bool(events)}


def known_topics(conn: sa.Connection) -> list[str]:
    """Topics templates declare (``settings.topic``): what the preference centre offers."""
    t = schema.templates
    topics = {
        str((s or {}).get("topic"))
        for (s,) in conn.execute(sa.select(t.c.settings))
        if (s or {}).get("topic")
    }
    return sorted(topics)


def get_preferences(conn: sa.Connection, contact_id: int) -> dict[str, Any]:
    rows = conn.execute(sa.select(K).where(K.c.contact_id == contact_id)).mappings().all()
    channels = {
        r["channel"]: {
            "status": r["status"],
            "topics": dict(r["topics"] or {}),
            "paused_until": r["paused_until"],
        }
        for r in rows
    }
    return {"contact_id": contact_id, "channels": channels, "topics": known_topics(conn)}


def save_preferences(
    conn: sa.Connection, contact_id: int, wanted: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """``wanted``: ``{channel: {"subscribed": bool, "topics": {topic: bool}, "pause_days": int}}``.

    Subscribing again from the preference centre is an explicit opt-in (``granted``); switching a
    channel off is an unsubscribe (pending marketing messages on it are skipped at once).
    """
    events: list[dict[str, Any]] = []
    for channel, pref in wanted.items():
        if channel not in CONSENT_CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        if "subscribed" in pref:
            status = "granted" if pref["subscribed"] else "unsubscribed"
            events += set_consent(
                conn,
                contact_id,
                channel,
                status,
                now,
                source="preference_centre",
                proof={"page": "preferences"},
            )
            if status == "unsubscribed":
                skip_pending_for(
                    conn,
                    contact_id,
                    "voice" if channel == "phone" else channel,
                    now,
                    "unsubscribed (preference centre) before sending",
                )
        row = _consent_row(conn, contact_id, channel)
        if row is None:
            continue
        values: dict[str, Any] = {}
        if "topics" in pref:
            values["topics"] = {str(k): bool(v) for k, v in dict(pref["topics"]).items()}
        if "pause_days" in pref:
            days = int(pref["pause_days"] or 0)
            if not 0 <= days <= MAX_PAUSE_DAYS:
                raise ValueError(f"pause_days must be between 0 and {MAX_PAUSE_DAYS}")
            values["paused_until"] = now + timedelta(days=days) if days else None
        if values:
            conn.execute(
                sa.update(K).where(K.c.contact_id == contact_id, K.c.channel == channel).values(**values)
            )
            if (
                values.get("paused_until") != row.get("paused_until")
                or values.get("topics", row["topics"]) != row["topics"]
            ):
                events.append(
                    changes.change_event(
                        contact_id,
                        "preferences.changed",
                        {
                            "channel": channel,
                            "topics": values.get("topics", row["topics"]),
                            "paused_until": values["paused_until"].isoformat()
                            if values.get("paused_until")
                            else None,
                        },
                        now,
                        "preference_centre",
                    )
                )
    changes.record(conn, events, now)
    return get_preferences(conn, contact_id)
