"""Conversion attribution: which message a conversion is credited to (last human click).

Clicks are ``message.clicked`` events written by ``channels/tracking.py``; machine clicks (link
scanners, privacy proxies) carry ``machine`` and never count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

ATTRIBUTION_WINDOW = timedelta(days=7)


def attribute_conversion(
    conn: sa.Connection, contact_id: int, at: datetime, window: timedelta = ATTRIBUTION_WINDOW
) -> dict[str, Any] | None:
    """The message a conversion at ``at`` is credited to: the last human click within ``window``."""
    e = schema.events
    rows = conn.execute(
        sa.select(e.c.properties, e.c.occurred_at)
        .where(
            e.c.contact_id == contact_id,
            e.c.name == "message.clicked",
            e.c.occurred_at <= at,
            e.c.occurred_at >= at - window,
        )
        .order_by(e.c.occurred_at.desc(), e.c.id.desc())
        .limit(50)
    ).all()
    return last_human_click((props, when) for props, when in rows)


def credit(
    conn: sa.Connection, contact_id: int, at: datetime, window: timedelta = ATTRIBUTION_WINDOW
) -> dict[str, Any] | None:
    """What a conversion at ``at`` is credited to, ready to be stored on the conversion.

    The rule is :func:`attribute_conversion` (last human click within ``window``, machine clicks
    from link scanners and privacy proxies never count): ``{message_id, template, journey (id),
    journey_key, step, channel, clicked_at, model, window_days}``, or None when nothing qualifies.
    """
    hit = attribute_conversion(conn, contact_id, at, window)
    if hit is None or hit.get("message_id") is None:
        return None
    o, j = schema.outbox, schema.journeys
    row = (
        conn.execute(
            sa.select(o.c.channel, o.c.template, o.c.step_id, o.c.journey_id, j.c.key)
            .select_from(o.outerjoin(j, j.c.id == o.c.journey_id))
            .where(o.c.id == hit["message_id"])
        )
        .mappings()
        .first()
    )
    return credit_record(hit, dict(row) if row is not None else None, window)


def last_human_click(clicks: Iterable[tuple[Mapping[str, Any], datetime]]) -> dict[str, Any] | None:
    """The credit of the first human click of ``clicks`` (``(properties, occurred_at)``, newest
    first); machine clicks (``machine`` set) are passed over."""
    for props, when in clicks:
        if not props.get("machine"):
            return {
                "message_id": props.get("message_id"),
                "template": props.get("template"),
                "journey": props.get("journey"),
                "step": props.get("step"),
                "clicked_at": when,
            }
    return None


def credit_record(hit: Mapping[str, Any], message: Mapping[str, Any] | None, window: timedelta) -> dict[str, Any]:
    """The stored credit of a click ``hit`` (:func:`last_human_click`), completed from its outbox
    row ``message`` (``channel``, ``template``, ``step_id``, ``journey_id``, journey ``key``) when
    that row still exists."""
    out = {
        "message_id": hit["message_id"],
        "template": hit.get("template"),
        "journey": hit.get("journey"),
        "journey_key": None,
        "step": hit.get("step"),
        "channel": None,
        "clicked_at": hit["clicked_at"].isoformat(),
        "model": "last_click",
        "window_days": window.total_seconds() / 86400,
    }
    if message is not None:
        out.update(
            template=message["template"] or out["template"],
            step=message["step_id"] or out["step"],
            journey=message["journey_id"] if message["journey_id"] is not None else out["journey"],
            journey_key=message["key"],
            channel=message["channel"],
        )
    return out
