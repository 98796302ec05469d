"""Control groups: a sticky share of a journey's entrants who get no message (incremental lift).

Membership is a hash of (journey key, contact id): the same contact is always in or out of one
journey's control group, across re-entries and versions (as long as the percentage stays).
"""

from __future__ import annotations

import hashlib

#: the largest control group a journey may declare (``settings.control_group``), in percent.
MAX_PERCENT = 50.0


def in_control_group(journey: str, contact_id: int, percent: float) -> bool:
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout:{journey}:{contact_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000  # 0.01 % resolution
    return bucket < round(percent * 100)


def lift(treated: tuple[int, int], control: tuple[int, int]) -> dict[str, float | int | None]:
    """(contacts, converted) of each group -> rates and the incremental lift (points and relative)."""
    (tn, tc), (cn, cc) = treated, control
    tr = tc / tn if tn else None
    cr = cc / cn if cn else None
    return {
        "treated_contacts": tn,
        "treated_converted": tc,
        "treated_rate": None if tr is None else round(tr, 6),
        "control_contacts": cn,
        "control_converted": cc,
        "control_rate": None if cr is None else round(cr, 6),
        "lift_points": None if tr is None or cr is None else round(tr - cr, 6),
        "lift_relative": None if tr is None or not cr else round((tr - cr) / cr, 6),
    }
