"""A campaign document, its validation and its state machine.

States::

    draft --approve--> approved --schedule--> scheduled --start (worker)--> sending --all queued--> sent
      ^                   |                      |                            |
      +---- edit ---------+                      +------- cancel -------------+--> cancelled
    (editing an approved campaign drops the approval; draft, approved, scheduled and sending cancel)

Validation reports every problem at once, each with its field path (``CampaignError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATES = ("draft", "approved", "scheduled", "sending", "sent", "cancelled")
SCHEDULE_KINDS = ("now", "at", "local")
THROTTLE_UNITS = ("minute", "hour")
METRICS = ("opens", "clicks")
CHANNELS = ("email", "sms")
MAX_SUBJECTS = 10
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

#: which actions each state allows.
EDITABLE = ("draft", "approved")
CANCELLABLE = ("draft", "approved", "scheduled", "sending")


class CampaignError(ValueError):
    """A campaign or an action on it was refused; ``problems`` are ``(path, message)`` pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p}: {m}" for p, m in self.problems))


class StateError(CampaignError):
    """The action does not apply in the campaign's current state."""

    def __init__(self, action: str, state: str) -> None:
        super().__init__([("status", f"cannot {action} a campaign that is {state}")])
        self.action, self.state = action, state


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: str = "now"  # now | at | local
    #: "at": the instant (aware, UTC)
    at: datetime | None = None
    #: "local": the calendar date and the wall-clock time in each contact's zone
    date: str | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at.isoformat() if self.at else None, "date": self.date, "time": self.time}


@dataclass(frozen=True, slots=True)
class Throttle:
    max: int
    per: str  # minute | hour

    @property
    def seconds(self) -> int:
        return 60 if self.per == "minute" else 3600

    def to_dict(self) -> dict[str, Any]:
        return {"max": self.max, "per": self.per}


@dataclass(frozen=True, slots=True)
class ABTest:
    """Subjects 2..n; ``test_share`` of the audience split evenly; the rest waits for the winner."""

    test_share: float = 0.2
    winner_after_hours: float = 4.0
    metric: str = "opens"  # opens (human only) | clicks

    def to_dict(self) -> dict[str, Any]:
        return {"test_share": self.test_share, "winner_after_hours": self.winner_after_hours, "metric": self.metric}


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What a marketer edits (the rest of a campaign row is its state)."""

    key: str
    name: str
    segment: str
    template: str
    channel: str = "email"
    subjects: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=Schedule)
    throttle: Throttle | None = None
    ab: ABTest | None = None

    @property
    def is_ab(self) -> bool:
        return len(self.subjects) >= 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "segment": self.segment,
            "template": self.template,
            "channel": self.channel,
            "subjects": list(self.subjects),
            "schedule": self.schedule.to_dict(),
            "throttle": self.throttle.to_dict() if self.throttle else None,
            "ab": self.ab.to_dict() if self.ab and self.is_ab else None,
        }


def zone(name: str | None, default: str) -> ZoneInfo:
    """The contact's zone, or the account default when it has none (or an unknown one)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_spec(raw: Mapping[str, Any]) -> CampaignSpec:
    """Validate a campaign document (API body, CLI options, web form). Raises CampaignError."""
    p: list[tuple[str, str]] = []
    key = str(raw.get("key") or "")
    if not KEY_RE.match(key):
        p.append(("key", "lower-case letters, digits, - and _, starting with a letter or digit (at most 100)"))
    name = str(raw.get("name") or key).strip()
    if len(name) > 200 or any(ord(ch) < 32 for ch in name):
        p.append(("name", "at most 200 characters, no control characters"))
    for f in ("segment", "template"):
        if not str(raw.get(f) or "").strip():
            p.append((f, "is required"))
    channel = str(raw.get("channel") or "email")
    if channel not in CHANNELS:
        p.append(("channel", f"one of {', '.join(CHANNELS)}"))
    subjects = tuple(str(s).strip() for s in (raw.get("subjects") or []))
    if any(not s for s in subjects):
        p.append(("subjects", "a subject is empty"))
    if len(subjects) > MAX_SUBJECTS:
        p.append(("subjects", f"at most {MAX_SUBJECTS} subjects"))
    if len(set(subjects)) != len(subjects):
        p.append(("subjects", "subjects must differ"))
    if subjects and channel != "email":
        p.append(("subjects", "only email has a subject"))
    schedule = _schedule(raw.get("schedule") or {}, p)
    throttle = _throttle(raw.get("throttle"), p)
    ab = _ab(raw.get("ab") or {}, p) if len(subjects) >= 2 else None
    if p:
        raise CampaignError(p)
    return CampaignSpec(
        key=key,
        name=name,
        segment=str(raw["segment"]).strip(),
        template=str(raw["template"]).strip(),
        channel=channel,
        subjects=subjects,
        schedule=schedule,
        throttle=throttle,
        ab=ab,
    )


def _schedule(raw: Mapping[str, Any], p: list[tuple[str, str]]) -> Schedule:
    kind = str(raw.get("kind") or "now")
    if kind not in SCHEDULE_KINDS:
        p.append(("schedule.kind", f"one of {', '.join(SCHEDULE_KINDS)}"))
        return Schedule()
    if kind == "at":
        at = raw.get("at")
        if isinstance(at, str):
            try:
                at = datetime.fromisoformat(at)
            except ValueError:
                at = None
        if not isinstance(at, datetime) or at.tzinfo is None:
            p.append(("schedule.at", "an ISO 8601 instant with a time zone"))
            return Schedule()
        return Schedule("at", at=at.astimezone(ZoneInfo("UTC")))
    if kind == "local":
        d, t = str(raw.get("date") or ""), str(raw.get("time") or "")
        try:
            datetime.strptime(d, "%Y-%m-%d")
        except ValueError:
            p.append(("schedule.date", "a date YYYY-MM-DD"))
        try:
            time.fromisoformat(t)
        except ValueError:
            p.append(("schedule.time", "a time HH:MM"))
        return Schedule("local", date=d, time=t)
    return Schedule()


def _throttle(raw: Any, p: list[tuple[str, str]]) -> Throttle | None:
    if not raw:
        return None
    n, per = raw.get("max"), str(raw.get("per") or "minute")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000_000:
        p.append(("throttle.max", "a whole number of messages, 1 or more"))
        return None
    if per not in THROTTLE_UNITS:
        p.append(("throttle.per", f"one of {', '.join(THROTTLE_UNITS)}"))
        return None
    return Throttle(n, per)


def _ab(raw: Mapping[str, Any], p: list[tuple[str, str]]) -> ABTest:
    share, hours, metric = raw.get("test_share", 0.2), raw.get("winner_after_hours", 4), raw.get("metric", "opens")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        p.append(("ab.test_share", "a share of the audience above 0 and at most 1 (0.2 = 20%)"))
        share = 0.2
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 30:
        p.append(("ab.winner_after_hours", "hours above 0, at most 720"))
        hours = 4
    if metric not in METRICS:
        p.append(("ab.metric", f"one of {', '.join(METRICS)}"))
        metric = "opens"
    return ABTest(float(share), float(hours), str(metric))


def spec_from_row(row: Mapping[str, Any]) -> CampaignSpec:
    """The spec of a stored campaign row (stored rows were valid when saved)."""
    return parse_spec({k: row[k] for k in ("key", "name", "segment", "template", "channel", "subjects", "schedule",
                                           "throttle", "ab")})


def check_transition(action: str, state: str) -> str:
    """The state after ``action`` from ``state``; raises StateError when it does not apply."""
    moves: dict[str, tuple[tuple[str, ...], str]] = {
        "edit": (EDITABLE, "draft"),
        "approve": (("draft",), "approved"),
        "schedule": (("approved",), "scheduled"),
        "start": (("scheduled",), "sending"),
        "finish": (("sending",), "sent"),
        "cancel": (CANCELLABLE, "cancelled"),
    }
    allowed, target = moves[action]
    if state not in allowed:
        raise StateError(action, state)
    return target
