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

from tidings.application.ports.contacts import ConsentRepository, PreferencesUnitOfWork
from tidings.domain.changes import change_event, message_event_properties
from tidings.domain.channels import CONSENT_CHANNELS

MAX_PAUSE_DAYS = 365


class UnknownMessage(LookupError):
    pass


def set_consent(
    uow: PreferencesUnitOfWork,
    contact_id: int,
    channel: str,
    status: str,
    now: datetime,
    *,
    source: str,
    proof: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Write the consent and return the change events to append (none when unchanged)."""
    prev = uow.consents.get(contact_id, channel)
    values = {"status": status, "source": source, "recorded_at": now, "proof": dict(proof or {})}
    if prev is None:
        uow.consents.add(contact_id, channel, values)
    elif prev["status"] != status:
        uow.consents.update(contact_id, channel, values)
    previous = prev["status"] if prev else None
    if previous == status:
        return []
    props = {"channel": channel, "status": status, "previous": previous, "source": source}
    return [change_event(contact_id, "consent.changed", props, now, source)]


def record_consent(
    consents: ConsentRepository,
    contact_id: int,
    channel: str,
    consent: Mapping[str, Any],
    now: datetime,
    source: str,
) -> list[dict[str, Any]]:
    """A consent given as a contact update (``consent: {channel: {status, source, recorded_at,
    proof}}``): the row is written even when its status stays (new proof, new time), and
    ``consent.changed`` is returned only when the status changed. The consent's own ``source``
    wins over the caller's (``sms_keyword`` recorded by the ``sms`` ingest)."""
    prev = consents.get(contact_id, channel)
    values = {
        "status": consent["status"],
        "source": consent.get("source") or source,
        "recorded_at": consent["recorded_at"],
        "proof": dict(consent.get("proof") or {}),
    }
    if prev is None:
        consents.add(contact_id, channel, values)
    else:
        consents.update(contact_id, channel, values)
    previous = prev["status"] if prev else None
    if previous == consent["status"]:
        return []
    props = {"channel": channel, "status": consent["status"], "previous": previous, "source": values["source"]}
    return [change_event(contact_id, "consent.changed", props, now, source)]


def unsubscribe_message(
    uow: PreferencesUnitOfWork,
    outbox_id: int,
    now: datetime,
    *,
    method: str,
    proof: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The one-click unsubscribe of the message ``outbox_id``: idempotent."""
    row = uow.outbox.get(outbox_id)
    if row is None:
        raise UnknownMessage(outbox_id)
    channel = "phone" if row["channel"] == "voice" else (row["channel"] or "email")
    events = set_consent(
        uow,
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
            0, change_event(row["contact_id"], "message.unsubscribed", props, now, "tracking")
        )
    skipped = uow.outbox.skip_pending_marketing(
        row["contact_id"], row["channel"] or "email", "unsubscribed (one-click) before sending"
    )
    uow.events.append_changes(events, now)
    return {"contact_id": row["contact_id"], "channel": channel, "skipped": skipped, "changed": bool(events)}


def known_topics(uow: PreferencesUnitOfWork) -> list[str]:
    """Topics templates declare (``settings.topic``): what the preference centre offers."""
    settings = (t["settings"] or {} for t in uow.templates.all())
    return sorted({str(s["topic"]) for s in settings if s.get("topic")})


def get_preferences(uow: PreferencesUnitOfWork, contact_id: int) -> dict[str, Any]:
    rows = uow.consents.of_contact(contact_id)
    channels = {
        r["channel"]: {
            "status": r["status"],
            "topics": dict(r["topics"] or {}),
            "paused_until": r["paused_until"],
        }
        for r in rows
    }
    return {"contact_id": contact_id, "channels": channels, "topics": known_topics(uow)}


def save_preferences(
    uow: PreferencesUnitOfWork, contact_id: int, wanted: Mapping[str, Mapping[str, Any]], now: datetime
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
                uow,
                contact_id,
                channel,
                status,
                now,
                source="preference_centre",
                proof={"page": "preferences"},
            )
            if status == "unsubscribed":
                uow.outbox.skip_pending_marketing(
                    contact_id,
                    "voice" if channel == "phone" else channel,
                    "unsubscribed (preference centre) before sending",
                )
        row = uow.consents.get(contact_id, channel)
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
            uow.consents.update(contact_id, channel, values)
            if (
                values.get("paused_until") != row.get("paused_until")
                or values.get("topics", row["topics"]) != row["topics"]
            ):
                events.append(
                    change_event(
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
    uow.events.append_changes(events, now)
    return get_preferences(uow, contact_id)
