"""What a rule reads, so the worker re-evaluates only the segments a change can affect.

``"*"`` in a set means "any of this kind" (e.g. an activity aggregate reads every event name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tidings.domain.rules.ast import (
    DURATION_OPS,
    All,
    AnyOf,
    Attr,
    Compare,
    Consent,
    EnrolmentValue,
    EventAgg,
    EventProp,
    Field,
    HasTag,
    InJourney,
    InSegment,
    JourneyState,
    Not,
    Rule,
    Sequence,
)
from tidings.domain.snapshot import STANDARD_FIELDS, EventRecord

ANY = "*"


@dataclass(frozen=True)
class RuleDeps:
    events: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    #: top-level attribute keys read.
    attributes: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    consents: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    journeys: frozenset[str] = frozenset()
    #: true when the result can change with time alone (windows, "ago", anniversaries, sequences).
    time_relative: bool = False
    #: true when the rule reads an event's properties (an event filter, not a contact rule).
    event_properties: bool = False
    #: true when the rule reads a journey enrolment's values (``vars.*``, ``event.*``).
    enrolment: bool = False

    def __or__(self, other: RuleDeps) -> RuleDeps:
        return RuleDeps(
            self.events | other.events,
            self.fields | other.fields,
            self.attributes | other.attributes,
            self.tags | other.tags,
            self.consents | other.consents,
            self.segments | other.segments,
            self.journeys | other.journeys,
            self.time_relative or other.time_relative,
            self.event_properties or other.event_properties,
            self.enrolment or other.enrolment,
        )

    def affected_by(self, changed: RuleDeps) -> bool:
        """Whether a change described by ``changed`` can alter a rule reading ``self``."""

        def meet(a: frozenset[str], b: frozenset[str]) -> bool:
            return bool(a and b and (ANY in a or ANY in b or a & b))

        events = self.events
        if ANY in events:  # activity aggregates: any non-system event
            events = events | changed.events
        return (
            meet(events, changed.events)
            or meet(self.fields, changed.fields)
            or meet(self.attributes, changed.attributes)
            or meet(self.tags, changed.tags)
            or meet(self.consents, changed.consents)
            or meet(self.segments, changed.segments)
            or meet(self.journeys, changed.journeys)
        )


EVERYTHING = RuleDeps(*(frozenset({ANY}),) * 7, time_relative=True)


def dependencies(rule: Rule) -> RuleDeps:
    """Everything ``rule`` reads."""
    if isinstance(rule, All | AnyOf):
        out = RuleDeps()
        for r in rule.items:
            out = out | dependencies(r)
        return out
    if isinstance(rule, Not):
        return dependencies(rule.item)
    if isinstance(rule, HasTag):
        return RuleDeps(tags=frozenset({rule.tag}))
    if isinstance(rule, InSegment):
        return RuleDeps(segments=frozenset({rule.segment}))
    if isinstance(rule, InJourney):
        return RuleDeps(journeys=frozenset({rule.journey}))
    if isinstance(rule, Sequence):
        return RuleDeps(events=frozenset({rule.did, rule.then_not}), time_relative=True)
    if isinstance(rule, Compare):
        rel = rule.op in DURATION_OPS
        t = rule.target
        if isinstance(t, Field):
            return RuleDeps(fields=frozenset({t.name}), time_relative=rel)
        if isinstance(t, Attr):
            return RuleDeps(attributes=frozenset({t.path[0]}), time_relative=rel)
        if isinstance(t, Consent):
            return RuleDeps(consents=frozenset({t.channel}))
        if isinstance(t, JourneyState):
            return RuleDeps(journeys=frozenset({t.journey}))
        if isinstance(t, EventAgg):
            return RuleDeps(events=frozenset({t.event or ANY}), time_relative=rel or t.window is not None)
        if isinstance(t, EventProp):
            return RuleDeps(event_properties=True)
        if isinstance(t, EnrolmentValue):
            return RuleDeps(enrolment=True)
    raise TypeError(f"not a rule: {rule!r}")


def deps_from_events(events: Iterable[EventRecord]) -> RuleDeps:
    """What a batch of a contact's new events may have changed (the worker's hint)."""
    names: set[str] = set()
    fields: set[str] = set()
    attrs: set[str] = set()
    tags: set[str] = set()
    consents: set[str] = set()
    segments: set[str] = set()
    journeys: set[str] = set()
    for e in events:
        names.add(e.name)
        p = e.properties or {}
        if e.name in ("tag.added", "tag.removed"):
            tags.add(str(p.get("tag", ANY)))
        elif e.name == "contact.updated":
            changed = p.get("changed")
            if not isinstance(changed, dict):
                fields.add(ANY)
                attrs.add(ANY)
                continue
            for k, v in changed.items():
                if k in STANDARD_FIELDS:
                    fields.add(k)
                elif k == "attributes" and isinstance(v, dict):
                    attrs.update(str(x) for x in v)
                elif k.startswith("attributes."):  # the change vocabulary's own spelling (domain/changes.py)
                    attrs.add(k[len("attributes.") :])
                elif k in ("tags",):
                    tags.add(ANY)
                elif k in ("consents", "consent"):
                    consents.add(ANY)
                else:
                    attrs.add(str(k))
        elif e.name == "contact.merged":
            return EVERYTHING
        elif e.name == "consent.changed":
            consents.add(str(p.get("channel", ANY)))
        elif e.name in ("segment.entered", "segment.exited"):
            segments.add(str(p.get("segment", ANY)))
        elif e.name.startswith(("journey.", "enrollment.")):
            journeys.add(str(p.get("journey", ANY)))
    return RuleDeps(
        frozenset(names),
        frozenset(fields),
        frozenset(attrs),
        frozenset(tags),
        frozenset(consents),
        frozenset(segments),
        frozenset(journeys),
    )
