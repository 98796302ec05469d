"""The throttle: at most ``max`` messages in any window of one minute (or hour).

``plan`` moves each send time (in order) to the first moment the window allows: message i goes
no earlier than its own time and no earlier than one window after message ``i - max``. Then no
window of that length holds more than ``max`` messages (the property the unit tests check), and
no message is later than it has to be under that rule. ``previous`` are slots already given out
(the A/B test group, before the rest is planned).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tidings.domain.campaigns.model import Throttle


def plan(times: Sequence[datetime], throttle: Throttle | None, previous: Sequence[datetime] = ()) -> list[datetime]:
    """Throttled slots for ``times`` (sorted ascending), in the same order."""
    if throttle is None:
        return list(times)
    window = timedelta(seconds=throttle.seconds)
    slots = sorted(previous)[-throttle.max :] if previous else []
    out: list[datetime] = []
    for t in times:
        at = t
        if len(slots) >= throttle.max:
            at = max(at, slots[-throttle.max] + window)
        if slots and at < slots[-1]:
            at = slots[-1]  # never before an earlier slot: the window rule stays true in order
        slots.append(at)
        out.append(at)
    return out
