"""Global send policies: frequency caps per channel and category, quiet hours, priorities.

A policy is one document (kept in the settings table, edited with ``tidings policies set``)::

    caps:
      - {channel: email, category: marketing, max: 1, per: day}    # calendar day, contact's zone
      - {channel: email, category: marketing, max: 3, per: week}   # calendar week (Mon-Sun)
      - {channel: sms, max: 2, per: 72h}                           # rolling window
    on_cap: delay            # delay (to the next allowed slot) | skip
    quiet_hours: {start: "21:00", end: "08:00"}                    # marketing only
    priorities: [cart-recovery, welcome]                           # first wins a contested slot
    loop_breaker: {rounds: 3, window: 24h}

:func:`evaluate` is what every send step of every journey asks (pure: the contact's recent
sends, its time zone and ``now`` in, a verdict out). Transactional messages are never capped
unless a cap names ``category: transactional``; a journey is exempt only when its document says
``exempt_from_caps: true``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from tidings.domain.channels import DELIVERY_CHANNELS
from tidings.domain.control.loops import LoopLimit
from tidings.domain.journeys.docfields import loop_limit_parts
from tidings.domain.journeys.timing import allowed_now, next_opening, parse_clock, parse_duration

CATEGORIES = ("marketing", "transactional")
#: a cap names one delivery channel, or "*" for all of them together.
CHANNELS = (*DELIVERY_CHANNELS, "*")
CALENDAR = ("day", "week")


class PolicyError(ValueError):
    """A policy document was refused; ``problems`` are ``(path, message)`` pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("invalid send policy:\n" + "\n".join(f"  - {p}: {m}" for p, m in self.problems))

    def details(self) -> list[dict[str, Any]]:
        return [{"loc": [x for x in p.split(".") if x], "msg": m} for p, m in self.problems]


@dataclass(frozen=True, slots=True)
class Cap:
    channel: str  # a channel or "*"
    category: str
    max: int
    #: "day" | "week" (calendar, contact's zone) or a rolling window
    per: str | timedelta

    def to_dict(self) -> dict[str, Any]:
        per = self.per if isinstance(self.per, str) else f"{int(self.per.total_seconds())}s"
        return {"channel": self.channel, "category": self.category, "max": self.max, "per": per}


@dataclass(frozen=True, slots=True)
class SendPolicy:
    caps: tuple[Cap, ...] = ()
    on_cap: Literal["delay", "skip"] = "delay"
    quiet_hours: tuple[str, str] | None = None
    priorities: tuple[str, ...] = ()
    loop: LoopLimit = field(default_factory=LoopLimit)
    #: new alerts are POSTed here (a signed, retried webhook through the outbox).
    notify_webhook: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "caps": [c.to_dict() for c in self.caps],
            "on_cap": self.on_cap,
            "quiet_hours": {"start": self.quiet_hours[0], "end": self.quiet_hours[1]} if self.quiet_hours else None,
            "priorities": list(self.priorities),
            "loop_breaker": {"rounds": self.loop.rounds, "window": f"{int(self.loop.window.total_seconds())}s"},
            "notify": {"webhook": self.notify_webhook} if self.notify_webhook else None,
        }

    def check(
        self, sends: Sequence[Sent], now: datetime, channel: str, category: str, tz: ZoneInfo, *, exempt: bool
    ) -> tuple[str, datetime | None, dict[str, Any]] | None:
        """The machine's question (``PolicyCheck``): None when allowed, else (action, retry at, detail)."""
        v = evaluate(self, sends, now, channel, category, tz, exempt=exempt)
        return None if v.allowed else (v.action, v.retry_at, dict(v.detail))

    def rank(self, journey: str) -> int:
        """Priority rank of a journey: listed journeys first, in order; the rest after, equal."""
        try:
            return self.priorities.index(journey)
        except ValueError:
            return len(self.priorities)


class Sent(Protocol):
    """One recent message of the contact (``SentRecord`` of the journey model has this shape)."""

    @property
    def channel(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def category(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``; or ``action`` (delay|skip) with ``retry_at`` and a ``detail`` for the trace."""

    allowed: bool
    action: str = "send"
    retry_at: datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


ALLOWED = Verdict(True)


def parse_policy(raw: Any) -> SendPolicy:
    """Validate a policy document (a mapping, e.g. from YAML/JSON); every problem is reported."""
    problems: list[tuple[str, str]] = []
    if raw is None:
        return SendPolicy()
    if not isinstance(raw, Mapping):
        raise PolicyError([("", "a send policy is a mapping (caps, on_cap, quiet_hours, priorities, loop_breaker)")])
    for k in raw:
        if k not in ("caps", "on_cap", "quiet_hours", "priorities", "loop_breaker", "notify"):
            problems.append((str(k), "unknown policy field"))
    caps = _caps(raw.get("caps") or [], problems)
    on_cap = raw.get("on_cap", "delay")
    if on_cap not in ("delay", "skip"):
        problems.append(("on_cap", "on_cap is delay or skip"))
    quiet = _quiet(raw.get("quiet_hours"), problems)
    prio = raw.get("priorities") or []
    if not isinstance(prio, list) or not all(isinstance(p, str) and p for p in prio):
        problems.append(("priorities", "priorities is a list of journey keys"))
        prio = []
    elif len(set(prio)) != len(prio):
        problems.append(("priorities", "a journey is listed twice"))
    loop = LoopLimit()
    lb = raw.get("loop_breaker")
    if lb is not None:
        try:
            loop = parse_loop_limit(lb)
        except ValueError as exc:
            problems.append(("loop_breaker", str(exc)))
    hook = _notify(raw.get("notify"), problems)
    if problems:
        raise PolicyError(problems)
    return SendPolicy(tuple(caps), on_cap, quiet, tuple(prio), loop, hook)


def _notify(raw: Any, problems: list[tuple[str, str]]) -> str | None:
    """``notify: {webhook: https://...}``: where new alerts are posted."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"webhook"}:
        problems.append(("notify", "notify is {webhook: URL}"))
        return None
    url = raw.get("webhook")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        problems.append(("notify.webhook", "an http(s) URL"))
        return None
    return url


def parse_loop_limit(raw: Any) -> LoopLimit:
    """``3`` or ``{rounds: 3, window: 24h}``; zero, negative or non-numbers are refused."""
    return LoopLimit(*loop_limit_parts(raw))


def _caps(raw: Any, problems: list[tuple[str, str]]) -> list[Cap]:
    if not isinstance(raw, list):
        problems.append(("caps", "caps is a list of {channel, category, max, per}"))
        return []
    out: list[Cap] = []
    for i, c in enumerate(raw):
        path = f"caps.{i}"
        if not isinstance(c, Mapping):
            problems.append((path, "a cap is a mapping {channel, category, max, per}"))
            continue
        for k in c:
            if k not in ("channel", "category", "max", "per"):
                problems.append((f"{path}.{k}", "unknown cap field"))
        channel = c.get("channel", "*")
        if channel not in CHANNELS:
            problems.append((f"{path}.channel", f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})"))
        category = c.get("category", "marketing")
        if category not in CATEGORIES:
            problems.append((f"{path}.category", f"unknown category {category!r}: marketing or transactional"))
        mx = c.get("max")
        if not isinstance(mx, int) or isinstance(mx, bool) or mx < 1:
            problems.append((f"{path}.max", f"a cap that can never be met: max must be >= 1 (got {mx!r})"))
            continue
        per_raw = c.get("per", "day")
        per: str | timedelta
        if per_raw in CALENDAR:
            per = str(per_raw)
        else:
            try:
                per = parse_duration(per_raw)
            except ValueError as exc:
                problems.append((f"{path}.per", f"per is day, week or a duration ({exc})"))
                continue
            if per <= timedelta(0):
                problems.append((f"{path}.per", "a cap's window must be longer than zero"))
                continue
        out.append(Cap(str(channel), str(category), mx, per))
    _contradictions(out, problems)
    return out


def _span(per: str | timedelta) -> timedelta:
    return {"day": timedelta(days=1), "week": timedelta(days=7)}[per] if isinstance(per, str) else per


def _contradictions(caps: Sequence[Cap], problems: list[tuple[str, str]]) -> None:
    """A longer window allowing fewer sends than a shorter one is fine; the same window twice is not."""
    seen: dict[tuple[str, str, str], int] = {}
    for i, c in enumerate(caps):
        key = (c.channel, c.category, str(c.per))
        if key in seen:
            problems.append((f"caps.{i}", f"the same cap window as caps.{seen[key]}: keep one"))
        seen[key] = i


def _quiet(raw: Any, problems: list[tuple[str, str]]) -> tuple[str, str] | None:
    if raw is None:
        return None
    try:
        start, end = str(raw["start"]), str(raw["end"])
        a, b = parse_clock(start), parse_clock(end)
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(("quiet_hours", f"quiet_hours needs start and end HH:MM ({exc})"))
        return None
    if a == b or (a == time(0, 0) and b is None):
        problems.append(("quiet_hours", "quiet hours covering the whole day leave no slot to send: a cap never met"))
        return None
    return start, end


# --------------------------------------------------------------------------- evaluation


def _window_start(cap: Cap, now: datetime, tz: ZoneInfo) -> datetime:
    if isinstance(cap.per, timedelta):
        return now - cap.per
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0, 0), tzinfo=tz)
    if cap.per == "week":
        midnight = datetime.combine(local.date() - timedelta(days=local.weekday()), time(0, 0), tzinfo=tz)
    return midnight.astimezone(now.tzinfo)


def _next_free(cap: Cap, times: list[datetime], now: datetime, tz: ZoneInfo) -> datetime:
    """When ``cap`` allows one more send, given the send times inside its current window."""
    if isinstance(cap.per, timedelta):
        times = sorted(times)
        return times[len(times) - cap.max] + cap.per
    local = now.astimezone(tz)
    days = 1 if cap.per == "day" else 7 - local.weekday()
    nxt = datetime.combine(local.date() + timedelta(days=days), time(0, 0), tzinfo=tz)
    return nxt.astimezone(now.tzinfo)


def _matches(cap: Cap, channel: str, category: str) -> bool:
    return cap.category == category and cap.channel in ("*", channel)


def _blocking(
    policy: SendPolicy, sends: Sequence[Sent], at: datetime, channel: str, category: str, tz: ZoneInfo
) -> list[tuple[Cap, datetime, int]]:
    out = []
    for cap in policy.caps:
        if not _matches(cap, channel, category):
            continue
        since = _window_start(cap, at, tz)
        times = [
            s.at
            for s in sends
            if (s.category or "marketing") == cap.category and cap.channel in ("*", s.channel) and since <= s.at <= at
        ]
        if len(times) >= cap.max:
            out.append((cap, _next_free(cap, times, at, tz), len(times)))
    return out


def evaluate(
    policy: SendPolicy,
    sends: Sequence[Sent],
    now: datetime,
    channel: str,
    category: str,
    tz: ZoneInfo,
    *,
    exempt: bool = False,
) -> Verdict:
    """May one more message on ``channel`` of ``category`` go to this contact at ``now``?

    ``sends`` are the contact's messages across all journeys (recent ones are enough: the
    longest cap window). A capped message is delayed to the first instant every cap and the
    quiet hours allow, or skipped (``policy.on_cap``); quiet hours always delay.
    """
    if exempt:
        return ALLOWED
    quiet = policy.quiet_hours if category == "marketing" else None
    blocking = _blocking(policy, sends, now, channel, category, tz)
    in_quiet = quiet is not None and not allowed_now(now, tz, None, quiet)
    if not blocking and not in_quiet:
        return ALLOWED
    if blocking and policy.on_cap == "skip":
        cap, _, n = blocking[0]
        return Verdict(False, "skip", None, _detail(cap, n))
    at = now
    for _ in range(60):  # each round moves past one window or one quiet period
        caps = _blocking(policy, sends, at, channel, category, tz)
        if caps:
            at = max(t for _, t, _ in caps)
            continue
        if quiet is not None and not allowed_now(at, tz, None, quiet):
            at = next_opening(at, tz, None, quiet)
            continue
        break
    if blocking:  # the cap that holds it longest explains the wait
        cap, _, n = max(blocking, key=lambda b: b[1])
        return Verdict(False, "delay", at, _detail(cap, n))
    return Verdict(False, "delay", at, {"reason": "global_quiet_hours", "quiet_hours": list(quiet or ())})


def _detail(cap: Cap, n: int) -> dict[str, Any]:
    return {"reason": "send_policy_cap", "cap": cap.to_dict(), "sent_in_window": n, "max": cap.max}


def held(paused: Mapping[str, Any], channel: str | None) -> bool:
    """Is sending on ``channel`` paused by the kill switch state ``{"all": bool, "channels": [...]}``?"""
    return bool(paused.get("all")) or (channel is not None and channel in (paused.get("channels") or ()))
