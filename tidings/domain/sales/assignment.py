"""Task assignment and SLAs, pure: pick a rep by capacity and strategy, a team's SLA, escalation.

The routing document (``application/sales/tasks.py``) has two sections read here::

    "assignment": {"sales-north": {"strategy": "least_loaded", "max_open": 5,
                                   "reps": {"ann@shop.test": 3}}},
    "sla": {"sales-north": {"due_in": "5m", "escalate_after": "10m",
                            "escalate_to": "lead@shop.test", "reassign": false}}

- **Capacity**: a rep's open tasks (all teams) may not reach past their maximum (``reps``, else
  the team's ``max_open``; none: no limit). Round robin walks the rotation from the rep after the
  last one picked and takes the first with room; ``least_loaded`` takes the rep with the fewest
  open tasks among those with room, ties in rotation order. When nobody has room, nobody is
  picked: the task stays with the team, unassigned (``at_capacity``).
- **SLA**: a task created without a due time is due ``due_in`` after its creation; it is
  escalated once, when it is still open ``escalate_after`` past its due time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tidings.domain.journeys.timing import parse_duration
from tidings.domain.statuses import TaskStatus

Strategy = Literal["round_robin", "least_loaded"]
STRATEGIES: tuple[Strategy, ...] = ("round_robin", "least_loaded")
#: the most open tasks a maximum may name (a typo like 10000000 is refused)
MAX_CAPACITY = 100_000
#: SLA durations: more than a minute's precision is not promised, a year is the most
MAX_SLA = timedelta(days=366)


class RoutingProblem(ValueError):
    """A bad ``assignment`` / ``sla`` entry, with the field path (``sla.north.due_in``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TeamAssignment:
    strategy: Strategy = "round_robin"
    max_open: int | None = None  # the team's default maximum of open tasks per rep
    reps: Mapping[str, int] = field(default_factory=dict)  # per-rep maxima

    def capacity(self, rep: str) -> int | None:
        """The most open tasks ``rep`` may hold (None: no limit)."""
        return self.reps.get(rep, self.max_open)

    def has_room(self, rep: str, load: int) -> bool:
        cap = self.capacity(rep)
        return cap is None or load < cap


@dataclass(frozen=True, slots=True)
class TeamSla:
    due_in: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str | None = None
    reassign: bool = False


# --------------------------------------------------------------------------- parsing


def _duration(value: Any, where: str) -> timedelta:
    try:
        d = parse_duration(value)
    except (ValueError, OverflowError) as exc:
        raise RoutingProblem(where, str(exc) if isinstance(exc, ValueError) else "too long") from None
    if d < timedelta(0) or d > MAX_SLA:
        raise RoutingProblem(where, "must be between 0 and 366 days")
    return d


def _max(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
        raise RoutingProblem(where, f"must be a whole number from 0 to {MAX_CAPACITY}, or null")
    return value


def parse_assignment(team: str, value: Any) -> TeamAssignment:
    where = f"assignment.{team}"
    if not isinstance(value, Mapping):
        raise RoutingProblem(where, "must be an object: {strategy, max_open, reps: {email: n}}")
    unknown = sorted(set(value) - {"strategy", "max_open", "reps"})
    if unknown:
        raise RoutingProblem(f"{where}.{unknown[0]}", "unknown setting (known: strategy, max_open, reps)")
    strategy = value.get("strategy", "round_robin")
    if strategy not in STRATEGIES:
        raise RoutingProblem(f"{where}.strategy", "must be round_robin or least_loaded")
    reps = value.get("reps") or {}
    if not isinstance(reps, Mapping):
        raise RoutingProblem(f"{where}.reps", "must be an object: rep email -> maximum of open tasks")
    limits: dict[str, int] = {}
    for rep, n in reps.items():
        if not isinstance(rep, str) or "@" not in rep:
            raise RoutingProblem(f"{where}.reps.{rep}", "must be keyed by a rep's email address")
        cap = _max(n, f"{where}.reps.{rep}")
        if cap is None:
            raise RoutingProblem(f"{where}.reps.{rep}", f"must be a whole number from 0 to {MAX_CAPACITY}")
        limits[rep] = cap
    return TeamAssignment(strategy=strategy, max_open=_max(value.get("max_open"), f"{where}.max_open"), reps=limits)


def parse_sla(team: str, value: Any) -> TeamSla:
    where = f"sla.{team}"
    if not isinstance(value, Mapping):
        raise RoutingProblem(where, "must be an object: {due_in, escalate_after, escalate_to, reassign}")
    unknown = sorted(set(value) - {"due_in", "escalate_after", "escalate_to", "reassign"})
    if unknown:
        raise RoutingProblem(
            f"{where}.{unknown[0]}", "unknown setting (known: due_in, escalate_after, escalate_to, reassign)"
        )
    due_in = _duration(value["due_in"], f"{where}.due_in") if value.get("due_in") is not None else None
    after = value.get("escalate_after")
    escalate_after = _duration(after, f"{where}.escalate_after") if after is not None else None
    to = value.get("escalate_to")
    if to is not None and not (isinstance(to, str) and "@" in to and len(to) <= 320 and to == to.strip()):
        raise RoutingProblem(f"{where}.escalate_to", "must be an email address")
    reassign = value.get("reassign", False)
    if not isinstance(reassign, bool):
        raise RoutingProblem(f"{where}.reassign", "must be true or false")
    if reassign and not to:
        raise RoutingProblem(f"{where}.escalate_to", "reassign needs someone to reassign to")
    if (to or reassign) and escalate_after is None:
        raise RoutingProblem(f"{where}.escalate_after", "escalate_to needs an escalation delay (e.g. 10m)")
    return TeamSla(due_in=due_in, escalate_after=escalate_after, escalate_to=to, reassign=reassign)


def sla_public(sla: TeamSla) -> dict[str, Any]:
    """The document form of a team's SLA (durations in seconds)."""
    out: dict[str, Any] = {"reassign": sla.reassign}
    if sla.due_in is not None:
        out["due_in"] = int(sla.due_in.total_seconds())
    if sla.escalate_after is not None:
        out["escalate_after"] = int(sla.escalate_after.total_seconds())
    if sla.escalate_to is not None:
        out["escalate_to"] = sla.escalate_to
    return out


def assignment_public(a: TeamAssignment) -> dict[str, Any]:
    return {"strategy": a.strategy, "max_open": a.max_open, "reps": dict(a.reps)}


# --------------------------------------------------------------------------- picking a rep


def rotation(reps: Sequence[str], last: str | None, count: int) -> list[str]:
    """The reps in the order round robin offers them: the one after ``last`` first.

    ``last`` gone: the next one after it in order when the reps are sorted (users are), else
    by the counter, so when reps join or leave the rotation carries on from where it was.
    """
    if not reps:
        return []
    if last is not None and last in reps:
        start = (list(reps).index(last) + 1) % len(reps)
    elif last is not None and list(reps) == sorted(reps):
        start = next((i for i, r in enumerate(reps) if r > last), 0)
    else:
        start = count % len(reps)
    return [*reps[start:], *reps[:start]]


def pick_rep(
    reps: Sequence[str],
    *,
    last: str | None,
    count: int,
    load: Mapping[str, int],
    policy: TeamAssignment,
) -> str | None:
    """The rep a new task goes to, or None when every rep is at capacity (or there are none)."""
    order = [r for r in rotation(reps, last, count) if policy.has_room(r, load.get(r, 0))]
    if not order:
        return None
    if policy.strategy == "least_loaded":
        return min(order, key=lambda r: (load.get(r, 0), order.index(r)))
    return order[0]


# --------------------------------------------------------------------------- SLA and escalation


def default_due(created: datetime, sla: TeamSla | None) -> datetime | None:
    """When a task created at ``created`` without a due time is due under its team's SLA."""
    if sla is None or sla.due_in is None:
        return None
    return created + sla.due_in


def escalation_at(task: Mapping[str, Any], sla: TeamSla | None) -> datetime | None:
    """When the task is to be escalated (None: never — no due time, no delay, not open, or done)."""
    if sla is None or sla.escalate_after is None or task.get("due_at") is None:
        return None
    if task.get("status") != TaskStatus.OPEN or task.get("escalated_at") is not None:
        return None
    due: datetime = task["due_at"]
    return due + sla.escalate_after


def due_for_escalation(
    tasks: Iterable[Mapping[str, Any]], slas: Mapping[str, TeamSla], now: datetime
) -> list[int]:
    """Ids of the tasks to escalate now: open, not escalated yet, past due by their team's delay."""
    out = []
    for task in tasks:
        at = escalation_at(task, slas.get(str(task.get("team") or "")))
        if at is not None and at <= now:
            out.append(int(task["id"]))
    return out
