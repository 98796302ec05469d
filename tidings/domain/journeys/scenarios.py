"""Scenario files for the journey simulator: their format, their checks and the contact they
describe. Pure; :mod:`simulate` runs them and :mod:`tidings.domain.control.crosssim` reuses them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.domain.journeys.timing import from_iso, parse_duration
from tidings.domain.snapshot import ContactSnapshot

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT_HORIZON = timedelta(days=120)

_CONTACT_FIELDS = {
    "id", "email", "phone", "external_id", "first_name", "last_name", "timezone", "locale",
    "lifecycle_stage", "owner", "score", "created_at", "attributes", "tags", "consents", "segments",
}  # fmt: skip


SCENARIO_KEYS = {
    "name", "contact", "enter", "behaviour", "events", "signals", "changes", "expect", "start", "horizon",
}  # fmt: skip
#: a scripted change of the contact at an offset (``changes: [{at: 3d, set: {plan: pro}}]``).
CHANGE_KEYS = {"at", "set", "add_tags", "remove_tags", "consents", "owner", "lifecycle_stage", "score"}
EXPECT_KEYS = {"message", "at", "count", "no_message", "messages", "outcome"}
BEHAVIOUR_KEYS = {"opens", "clicks", "complains", "open_after", "click_after", "messages"}
OUTCOMES = ("converted", "exited", "waiting", "completed")


class ScenarioError(ValueError):
    """The scenario file is malformed."""


def _known(raw: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = set(raw) - keys
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field(s) {sorted(map(str, unknown))} (known: {', '.join(sorted(keys))})"
        )




def _offset(value: Any, where: str) -> timedelta:
    try:
        return parse_duration(value if value is not None else 0)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc


def _when(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return from_iso(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"{where}: not an ISO 8601 time: {value!r}") from exc


def build_contact(raw: Mapping[str, Any], index: int) -> ContactSnapshot:
    unknown = set(raw) - _CONTACT_FIELDS
    if unknown:
        raise ScenarioError(f"contact: unknown field(s) {sorted(unknown)}")
    data = dict(raw)
    data.setdefault("id", index + 1)
    data["tags"] = frozenset(data.get("tags") or ())
    data["segments"] = frozenset(data.get("segments") or ())
    data["attributes"] = dict(data.get("attributes") or {})
    data["consents"] = dict(data.get("consents") or {})
    if data.get("created_at") is not None:
        data["created_at"] = _when(data["created_at"], "contact.created_at")
    data["score"] = float(data.get("score") or 0)
    return ContactSnapshot(**data)



def load_scenarios(data: Any) -> tuple[list[Mapping[str, Any]], datetime, timedelta]:
    """A scenario file: ``{start?, horizon?, scenarios: [...]}`` or a bare list of scenarios."""
    if isinstance(data, list):
        return data, DEFAULT_START, DEFAULT_HORIZON
    if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list):
        raise ScenarioError("a scenario file has 'scenarios': a list (and optional start, horizon)")
    start = _when(data["start"], "start") if data.get("start") else DEFAULT_START
    horizon = _offset(data["horizon"], "horizon") if data.get("horizon") else DEFAULT_HORIZON
    return list(data["scenarios"]), start, horizon


def parse_change(raw: Any, where: str) -> tuple[timedelta, dict[str, Any]]:
    """One scripted contact change: (offset, the change without ``at``); refused when malformed."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: a change is a mapping such as {{at: 3d, add_tags: [vip]}}")
    _known(raw, CHANGE_KEYS, where)
    change = {k: v for k, v in raw.items() if k != "at"}
    if not change:
        raise ScenarioError(f"{where}: say what changes ({', '.join(sorted(CHANGE_KEYS - {'at'}))})")
    for key in ("set", "consents"):
        if key in change and not isinstance(change[key], Mapping):
            raise ScenarioError(f"{where}.{key}: a mapping")
    for key in ("add_tags", "remove_tags"):
        if key in change and not (isinstance(change[key], list) and all(isinstance(t, str) for t in change[key])):
            raise ScenarioError(f"{where}.{key}: a list of tags")
    if "score" in change and (isinstance(change["score"], bool) or not isinstance(change["score"], int | float)):
        raise ScenarioError(f"{where}.score: a number (the new score)")
    return _offset(raw.get("at"), where + ".at"), change


def apply_change(
    contact: ContactSnapshot, change: Mapping[str, Any]
) -> tuple[ContactSnapshot, list[tuple[str, dict[str, Any]]]]:
    """The contact after ``change`` and the events the product records for it (``contact.updated``
    with ``changed``, ``tag.added`` / ``tag.removed``, ``consent.changed``)."""
    attrs = {**contact.attributes, **dict(change.get("set") or {})}
    tags = (set(contact.tags) | set(change.get("add_tags") or ())) - set(change.get("remove_tags") or ())
    consents = {**contact.consents, **{str(k): str(v) for k, v in dict(change.get("consents") or {}).items()}}
    changed: dict[str, Any] = dict(change.get("set") or {})  # flat, as attribute_changed triggers read it
    fields: dict[str, Any] = {}
    for name in ("owner", "lifecycle_stage", "score"):
        if name in change:
            fields[name] = float(change[name]) if name == "score" else change[name]
            changed[name] = fields[name]
    after = replace(contact, attributes=attrs, tags=frozenset(tags), consents=consents, **fields)
    events: list[tuple[str, dict[str, Any]]] = []
    if changed:
        events.append(("contact.updated", {"changed": changed}))
    events += [("tag.added", {"tag": t}) for t in sorted(tags - set(contact.tags))]
    events += [("tag.removed", {"tag": t}) for t in sorted(set(contact.tags) - tags)]
    events += [
        ("consent.changed", {"channel": ch, "status": st})
        for ch, st in sorted(consents.items())
        if contact.consents.get(ch) != st
    ]
    return after, events
