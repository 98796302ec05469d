"""Field checks shared by the journey document parser: each records a Problem (line, step id,
path) instead of raising, so a document's problems are all reported at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tidings.domain.channels import TEMPLATE_CHANNELS
from tidings.domain.journeys import conditions
from tidings.domain.journeys.model import END, DateSpec, Problem
from tidings.domain.journeys.timing import parse_clock, parse_duration

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
STEP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

#: per step type: allowed fields (besides id, type, name, note)
STEP_FIELDS: dict[str, set[str]] = {
    "send": {"channel", "template", "category", "data", "next", "ignore_window"},
    "wait": {"duration", "next"},
    "wait_until": {"date", "on_past", "next"},
    "wait_time": {"at", "days", "next"},
    "wait_event": {"event", "signal", "where", "timeout", "on_event", "on_timeout", "next"},
    "branch": {"branches", "else"},
    "behaviour": {"message", "action", "within", "from", "event", "then", "else"},
    "split": {"variants", "experiment"},
    "update_contact": {"set", "add_tags", "remove_tags", "lifecycle_stage", "score", "next"},
    "set_variables": {"set", "next"},
    "repeat": {"every", "anchor", "count", "until", "lasts", "each", "done"},
    "webhook": {"url", "method", "body", "headers", "payload", "events", "next"},
    "crm": {
        "system", "action", "properties", "title", "body", "due_in", "priority",
        "deal_name", "amount", "deal_stage", "pipeline", "write_back", "next",
    },
    "task": {"title", "body", "owner", "team", "due_in", "next"},
    "assign_owner": {"owner", "team", "strategy", "next"},
    "enroll": {"journey", "key", "next"},
    "goal": {"goal", "revenue"},
    "exit": {"reason"},
}
COMMON_FIELDS = {"id", "type", "name", "note"}
#: channels a `send` step can use: those with a provider (channels/registry.py). Calls are
#: "voice" (they need consent to "phone"); webhooks and tasks have their own steps.
CHANNELS = frozenset(TEMPLATE_CHANNELS)  # a send step's channel
ACTIONS = {"delivered", "opened", "clicked", "converted"}
#: the CRMs a ``crm`` step hands off to, and what it asks of them.
CRM_SYSTEMS = ("hubspot", "salesforce")
CRM_ACTIONS = ("upsert_contact", "create_task", "create_deal")
CRM_PRIORITIES = ("low", "medium", "high")
#: a webhook step's body: v1 (the step's body) or v2 (the signed hand-off document).
WEBHOOK_PAYLOADS = ("v1", "v2")
#: what a wait_until does when its date has already passed (default: skip).
ON_PAST = ("skip", "send_now", "next_occurrence")
#: what a behaviour window counts from (default: sent, the meaning before v2).
WINDOW_FROM = ("sent", "delivered", "first_open")
TRIGGER_TYPES = (
    "event",
    "segment_entered",
    "segment_exited",
    "attribute_changed",
    "tag_added",
    "tag_removed",
    "manual",
    "date",
)


class Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, message: str, line: int | None, step_id: str | None = None, path: str = "") -> None:
        self.items.append(Problem(message, line, step_id, path))


def check_duration(value: Any, p: Problems, line: int | None, step: str | None, path: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        p.add(str(exc), line, step, path)
        return timedelta(0)


def check_rule(
    value: Any, p: Problems, line: int | None, step: str | None, path: str, kind: str = "contact"
) -> Any:
    try:
        return conditions.parse(value, kind)
    except conditions.ConditionError as exc:
        where = f" at column {exc.column}" if exc.column is not None and "column" not in str(exc) else ""
        sub = f" ({exc.path})" if exc.path else ""
        p.add(f"condition does not parse{where}{sub}: {exc}", line, step, path)
        return None


def check_date_spec(raw: Any, p: Problems, line: int | None, step: str | None, path: str) -> DateSpec | None:
    if not isinstance(raw, Mapping):
        p.add("a date is {attribute|variable|event, offset?, at?, yearly?}", line, step, path)
        return None
    sources = [k for k in ("attribute", "variable", "event") if raw.get(k)]
    if len(sources) != 1:
        p.add("name exactly one of attribute, variable or event", line, step, path)
        return None
    extra = set(raw) - {
        "attribute",
        "variable",
        "event",
        "property",
        "offset",
        "at",
        "yearly",
        "before",
        "after",
    }
    if extra:
        p.add(f"unknown field(s) {sorted(extra)}", line, step, path)
    offset = timedelta(0)
    if "offset" in raw:
        offset = check_duration(raw["offset"], p, line, step, path + ".offset")
    if "before" in raw:
        offset = -abs(check_duration(raw["before"], p, line, step, path + ".before"))
    if "after" in raw:
        offset = abs(check_duration(raw["after"], p, line, step, path + ".after"))
    at = raw.get("at")
    if at is not None:
        try:
            parse_clock(at)
        except ValueError as exc:
            p.add(str(exc), line, step, path + ".at")
    return DateSpec(
        attribute=raw.get("attribute"),
        variable=raw.get("variable"),
        event=raw.get("event"),
        property=raw.get("property"),
        offset=offset,
        at=at,
        yearly=bool(raw.get("yearly", False)),
    )


def check_target(value: Any, p: Problems, line: int | None, sid: str, path: str) -> str:
    if not isinstance(value, str) or not value:
        p.add(f"{path} must name a step id (or 'end')", line, sid, path)
        return END
    return value


def need(s: Mapping[str, Any], field: str, p: Problems, line: int | None, sid: str, path: str) -> Any:
    if s.get(field) in (None, ""):
        p.add(f"{field} is required", line, sid, f"{path}.{field}")
    return s.get(field)


def loop_limit_parts(raw: Any) -> tuple[int, timedelta]:
    """A loop limit (``3`` or ``{rounds: 3, window: 24h}``) as (rounds, window); bad ones raise ValueError."""
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"rounds", "window"}
        if unknown:
            raise ValueError(f"unknown loop limit field(s): {', '.join(sorted(map(str, unknown)))}")
        rounds, window = raw.get("rounds", 3), raw.get("window", "24h")
    else:
        rounds, window = raw, "24h"
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1 (got {rounds!r})")
    try:
        span = parse_duration(window)
    except ValueError as exc:
        raise ValueError(f"window: {exc}") from None
    return rounds, span
