"""Zoom webinar events -> the webinar recipe's events (``event`` in the body).

- endpoint.url_validation: answered with ``{plainToken, encryptedToken}`` (nothing stored).
- webinar.registration_created: identify (email, names) + ``webinar.registered`` (webinar_id,
  title, starts_at, join_url), once per registrant.
- webinar.participant_joined: ``webinar.checked_in`` (webinar_id, title, joined_at), once per
  participant and webinar.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.vendors.model import Mapped, PayloadError, VendorCall, as_object, ignored, text, timestamp

URL_VALIDATION = "endpoint.url_validation"


def map_delivery(source_id: int, body: Mapping[str, Any]) -> Mapped:
    event = text(body.get("event"))
    if event not in ("webinar.registration_created", "webinar.participant_joined"):
        return ignored(f"event {event!r} is not mapped")
    payload = as_object(body.get("payload"), "payload")
    obj = as_object(payload.get("object"), "payload.object")
    webinar_id = text(obj.get("id"))
    if webinar_id is None:
        raise PayloadError("payload.object.id: the webinar id is missing")
    prefix = f"zoom:{source_id}:webinar:{webinar_id}"
    base = {"webinar_id": webinar_id, "title": text(obj.get("topic")), "source": "zoom"}
    if event == "webinar.registration_created":
        reg = as_object(obj.get("registrant"), "payload.object.registrant")
        email = text(reg.get("email"))
        if email is None:
            return ignored(f"registrant of webinar {webinar_id} has no email")
        rid = text(reg.get("id")) or email
        props = {**base, "starts_at": text(obj.get("start_time")), "join_url": text(reg.get("join_url")),
                 "registrant_id": text(reg.get("id"))}
        traits = {"email": email, "first_name": text(reg.get("first_name")), "last_name": text(reg.get("last_name"))}
        return Mapped(calls=(
            VendorCall("identify", f"{prefix}:registrant:{rid}:identify",
                       traits={k: v for k, v in traits.items() if v is not None}),
            VendorCall("track", f"{prefix}:registrant:{rid}", name="webinar.registered",
                       properties={k: v for k, v in props.items() if v is not None},
                       occurred_at=timestamp(body.get("event_ts")), email=email),
        ))
    part = as_object(obj.get("participant"), "payload.object.participant")
    email = text(part.get("email"))
    if email is None:
        return ignored(f"participant of webinar {webinar_id} has no email (a guest)")
    joined = timestamp(part.get("join_time")) or timestamp(body.get("event_ts"))
    props = {**base, "joined_at": joined.isoformat() if joined else None, "user_name": text(part.get("user_name"))}
    return Mapped(calls=(
        VendorCall("track", f"{prefix}:joined:{email.lower()}", name="webinar.checked_in",
                   properties={k: v for k, v in props.items() if v is not None}, occurred_at=joined, email=email),
    ))
