"""What one engagement event adds to the rollups, and the rates of a set of counts.

Counting rules (docs/measurement.md, "Analytics"):

- ``message.sent`` counts *sent*; on channels without delivery receipts (email, voice, direct mail,
  webhooks...) an accepted message also counts *delivered*, and a bounce of that message takes it
  back (once per message). On channels with receipts (:data:`RECEIPT_CHANNELS`, SMS) only
  ``message.delivered`` counts *delivered*.
- opens and clicks carry ``machine`` (Apple Mail Privacy Protection, link scanners, prefetchers:
  ``channels/tracking.machine_reason``): machine opens are counted apart and never in human rates;
  machine clicks are counted apart. Unique counts count a message once.
- ``journey.converted`` counts *converted* and its value as *revenue*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METRICS: tuple[str, ...] = (
    "sent",
    "delivered",
    "bounced_hard",
    "bounced_soft",
    "opened_human",
    "opened_human_unique",
    "opened_machine",
    "opened_machine_unique",
    "clicked",
    "clicked_unique",
    "clicked_machine",
    "unsubscribed",
    "complained",
    "converted",
    "revenue",
)

#: the rollup dimensions, in the order of the rollup table's unique key ("" / 0 when one does not apply).
DIMENSIONS: tuple[str, ...] = ("day", "journey_id", "journey_version", "step", "template", "channel", "campaign")

#: the event names the rollups read.
EVENT_NAMES: tuple[str, ...] = (
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.opened",
    "message.clicked",
    "message.unsubscribed",
    "message.complained",
    "journey.converted",
)

#: channels whose provider reports delivery (``message.delivered``); elsewhere accepted = delivered.
RECEIPT_CHANNELS: frozenset[str] = frozenset({"sms"})


@dataclass(frozen=True)
class Contribution:
    """What one event adds: ``always`` every time, ``first`` only the first time ``first_kind`` is
    seen for ``message_id`` (unique opens and clicks, the delivered a bounce takes back)."""

    message_id: int | None
    always: Mapping[str, float] = field(default_factory=dict)
    first_kind: str | None = None
    first: Mapping[str, float] = field(default_factory=dict)


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def contribution(name: str, props: Mapping[str, Any], value: float | None) -> Contribution | None:
    """What the event ``name`` with ``props`` (and numeric ``value``) adds; None if it counts nothing."""
    mid = _int(props.get("message_id"))
    channel = str(props.get("channel") or "")
    receipts = channel in RECEIPT_CHANNELS
    machine = bool(props.get("machine"))
    if name == "message.sent":
        return Contribution(mid, {"sent": 1, **({} if receipts else {"delivered": 1})})
    if name == "message.delivered":
        return Contribution(mid, {"delivered": 1}) if receipts else None
    if name == "message.bounced":
        kind = "bounced_hard" if props.get("bounce_type") == "hard" else "bounced_soft"
        if receipts or mid is None:
            return Contribution(mid, {kind: 1})
        return Contribution(mid, {kind: 1}, "bounce", {"delivered": -1})
    if name == "message.opened":
        if machine:
            return Contribution(mid, {"opened_machine": 1}, "open_machine", {"opened_machine_unique": 1})
        return Contribution(mid, {"opened_human": 1}, "open_human", {"opened_human_unique": 1})
    if name == "message.clicked":
        if machine:
            return Contribution(mid, {"clicked_machine": 1})
        return Contribution(mid, {"clicked": 1}, "click", {"clicked_unique": 1})
    if name == "message.unsubscribed":
        return Contribution(mid, {"unsubscribed": 1})
    if name == "message.complained":
        return Contribution(mid, {"complained": 1})
    if name == "journey.converted":
        revenue = float(value if value is not None else props.get("revenue") or 0)
        return Contribution(None, {"converted": 1, "revenue": revenue})
    return None


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else round(num / den, 6)


def rates(c: Mapping[str, float]) -> dict[str, float | None]:
    """Rates over the right denominators; None when the denominator is zero.

    Opens, clicks, unsubscribes, complaints and conversions are over *delivered* (human, unique);
    click-to-open is clicks over opens; bounces and delivery are over *sent*."""
    sent, delivered = float(c.get("sent", 0)), float(c.get("delivered", 0))
    opens, clicks = float(c.get("opened_human_unique", 0)), float(c.get("clicked_unique", 0))
    return {
        "delivery_rate": _ratio(delivered, sent),
        "bounce_rate": _ratio(float(c.get("bounced_hard", 0)) + float(c.get("bounced_soft", 0)), sent),
        "open_rate": _ratio(opens, delivered),
        "machine_open_rate": _ratio(float(c.get("opened_machine_unique", 0)), delivered),
        "click_rate": _ratio(clicks, delivered),
        "click_to_open_rate": _ratio(clicks, opens),
        "unsubscribe_rate": _ratio(float(c.get("unsubscribed", 0)), delivered),
        "complaint_rate": _ratio(float(c.get("complained", 0)), delivered),
        "conversion_rate": _ratio(float(c.get("converted", 0)), delivered),
        "revenue_per_delivered": _ratio(float(c.get("revenue", 0)), delivered),
    }


def zero() -> dict[str, float]:
    return dict.fromkeys(METRICS, 0)


def add(into: dict[str, float], more: Mapping[str, float]) -> dict[str, float]:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v
    return into
