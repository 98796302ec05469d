"""Conversion attribution: which message a conversion is credited to (last human click).

Clicks are ``message.clicked`` events written by ``channels/tracking.py``; machine clicks (link
scanners, privacy proxies) carry ``machine`` and never count.
"""

from __future__ import annotations

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
    for props, when in rows:
        if not props.get("machine"):
            return {
                "message_id": props.get("message_id"),
                "template": props.get("template"),
                "journey": props.get("journey"),
                "step": props.get("step"),
                "clicked_at": when,
            }
    return None



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
    if row is not None:
        out.update(
            template=row["template"] or out["template"],
            step=row["step_id"] or out["step"],
            journey=row["journey_id"] if row["journey_id"] is not None else out["journey"],
            journey_key=row["key"],
            channel=row["channel"],
        )
    return out
