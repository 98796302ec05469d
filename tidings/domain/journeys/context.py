"""An enrolment's context: which events belong to it (correlation), its variables, and what
its rules may read beyond the contact (``vars.*``, ``event.*``).

Pure. A journey keyed by an order (``key: order_id`` on its trigger) declares
``settings.correlate`` so that its waits, exits, goals, behaviour windows and branches only see
the events of *that* order; its variables come from the trigger event (``vars:`` on a trigger)
and from ``set_variables`` steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tidings.domain.rules.evaluate import path_get
from tidings.domain.snapshot import STANDARD_FIELDS, ContactSnapshot, EventRecord

#: names an enrolment variable may not take: the contact's fields and the names templates and
#: rules already give a meaning (a variable ``email`` would make ``email`` mean two things).
RESERVED_VARIABLES = frozenset(
    {
        *STANDARD_FIELDS,
        "attributes",
        "tags",
        "consents",
        "segments",
        "journeys",
        "events",
        "contact",
        "event",
        "vars",
        "variables",
        "properties",
        "key",
        "journey",
        "step",
        "enrollment",
        "version",
    }
)
#: what a ``vars:`` entry on a trigger may read of the trigger event, besides ``properties.NAME``.
EVENT_FIELDS = ("name", "at", "id")


@dataclass(frozen=True, slots=True)
class Correlation:
    """Events named ``event`` (None: any event carrying the property) are this enrolment's only
    when their ``property`` (a path in their properties) equals the enrolment key."""

    property: tuple[str, ...]
    event: str | None = None
    line: int | None = None

    def admits(self, event: EventRecord, key: str) -> bool | None:
        """True/False when this rule decides about ``event``; None when it does not apply."""
        if self.event is not None and event.name != self.event:
            return None
        value = path_get(event.properties or {}, self.property)
        if value is None:
            return None if self.event is None else False
        return str(value) == key


def property_path(text: str) -> tuple[str, ...]:
    """``properties.order_id`` or ``order_id`` -> ``("order_id",)``."""
    parts = tuple(p for p in text.split(".") if p)
    return parts[1:] if parts and parts[0] == "properties" else parts


def correlated(rules: Iterable[Correlation], event: EventRecord, key: str) -> bool:
    """Whether ``event`` belongs to the enrolment keyed ``key`` (every deciding rule admits it)."""
    return all(rule.admits(event, key) is not False for rule in rules)


def contact_view(contact: ContactSnapshot, rules: tuple[Correlation, ...], key: str) -> ContactSnapshot:
    """The contact as this enrolment sees it: other enrolments' events left out."""
    if not rules:
        return contact
    return replace(contact, events=tuple(e for e in contact.events if correlated(rules, e, key)))


def event_value(event: EventRecord, source: str) -> Any:
    """A ``vars:`` source on the trigger event: ``properties.PATH``, ``name``, ``at`` or ``id``."""
    if source == "name":
        return event.name
    if source == "at":
        return event.occurred_at.isoformat()
    if source == "id":
        return event.id
    return path_get(event.properties or {}, property_path(source))


def scope_value(source: str, contact: ContactSnapshot, scope: Mapping[str, Any]) -> Any:
    """A ``set_variables`` ``from:`` path: ``vars.NAME``, ``event.properties.NAME``,
    ``attributes.NAME`` or a standard contact field."""
    head, _, rest = source.partition(".")
    if head in ("vars", "event") and rest:
        return path_get(scope.get(head), tuple(rest.split(".")))
    if head == "attributes" and rest:
        return path_get(contact.attributes, tuple(rest.split(".")))
    if source in STANDARD_FIELDS:
        value = contact.field_value(source)
        return value.isoformat() if hasattr(value, "isoformat") else value
    raise ValueError(f"unknown source {source!r}")


def source_problem(source: Any, *, event_only: bool) -> str | None:
    """Why a variable's source path is not readable (None when it is)."""
    if not isinstance(source, str) or not source:
        return "a variable's source is a path such as properties.total"
    head, _, rest = source.partition(".")
    if event_only:
        if source in EVENT_FIELDS or (head == "properties" and rest):
            return None
        return f"{source!r}: a trigger variable reads the trigger event: properties.NAME, name, at or id"
    if (head in ("vars", "event", "attributes") and rest) or source in STANDARD_FIELDS:
        return None
    return f"{source!r}: from reads vars.NAME, event.properties.NAME, attributes.NAME or a contact field"


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name an enrolment variable (None when it can)."""
    if not isinstance(name, str) or not name.replace("_", "a").isalnum() or not name[:1].isalpha():
        return f"variable name {name!r}: letters, digits and _, starting with a letter"
    if name in RESERVED_VARIABLES:
        return f"variable {name!r} would shadow a contact field or a name templates already use"
    return None
