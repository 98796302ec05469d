"""Scenario files for the journey simulator: their format, their checks and the contact they
describe. Pure; :mod:`simulate` runs them and :mod:`tidings.domain.control.crosssim` reuses them."""

from __future__ import annotations

from collections.abc import Mapping
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


SCENARIO_KEYS = {"name", "contact", "enter", "behaviour", "events", "signals", "expect", "start", "horizon"}
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
