"""What a journey document reads and what it produces, as named things with where they appear.

The name checks ("is this event ever produced?") and the audit's tag and dependency checks
read the same inventory. Pure: documents in, uses out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tidings.domain.journeys.links import outputs
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.rules.ast import Rule
from tidings.domain.rules.deps import ANY, dependencies

#: kinds of names a journey can mention
KINDS = ("event", "attribute", "tag", "segment", "template")


@dataclass(frozen=True, slots=True)
class Use:
    kind: str  # event | attribute | tag | segment | template
    name: str
    where: str  # "triggers.0", "step tips", "settings.exit.1"
    step: str | None = None
    line: int | None = None


def rule_uses(rule: Any, where: str, step: str | None = None, line: int | None = None) -> list[Use]:
    """Names a parsed contact rule reads (events, attributes, tags, segments)."""
    if not isinstance(rule, Rule):
        return []
    d = dependencies(rule)
    named = (("event", d.events), ("attribute", d.attributes), ("tag", d.tags), ("segment", d.segments))
    return [Use(kind, n, where, step, line) for kind, names in named for n in sorted(names) if n != ANY]


def reads(doc: JourneyDoc) -> list[Use]:
    """Every name the journey depends on: triggers, conditions, criteria, waits, templates."""
    out: list[Use] = []
    for t in doc.triggers:
        where = f"triggers.{t.index}"
        if t.target:
            kind = {
                "event": "event",
                "segment_entered": "segment",
                "segment_exited": "segment",
                "attribute_changed": "attribute",
                "tag_added": "tag",
                "tag_removed": "tag",
            }.get(t.type)
            if kind:
                name = t.target.removeprefix("attributes.") if kind == "attribute" else t.target
                out.append(Use(kind, name, where, None, t.line))
        if t.date is not None:
            if t.date.attribute:
                out.append(Use("attribute", t.date.attribute.removeprefix("attributes."), where, None, t.line))
            if t.date.event:
                out.append(Use("event", t.date.event, where, None, t.line))
    s = doc.settings
    for group, criteria in (("exit", s.exit), ("suppress", s.suppress), ("goal", s.goal)):
        for i, c in enumerate(criteria):
            where = f"settings.{group}.{i}"
            if c.event:
                out.append(Use("event", c.event, where, None, c.line))
            out += rule_uses(c.rule, where, None, c.line)
    for sid, st in doc.steps.items():
        where = f"step {sid}"
        for rule in st.rules.values():
            out += rule_uses(rule, where, sid, st.line)
        cfg = st.config
        if st.type == "wait_event" and isinstance(cfg.get("event"), str):
            out.append(Use("event", cfg["event"], where, sid, st.line))
        if st.type == "send" and isinstance(cfg.get("template"), str):
            out.append(Use("template", cfg["template"], where, sid, st.line))
        date = cfg.get("date")
        if isinstance(date, Mapping):
            if isinstance(date.get("attribute"), str):
                out.append(Use("attribute", date["attribute"].removeprefix("attributes."), where, sid, st.line))
            if isinstance(date.get("event"), str):
                out.append(Use("event", date["event"], where, sid, st.line))
    return out


def produces(doc: JourneyDoc) -> dict[str, set[str]]:
    """Names the journey's steps create: tags added, attributes set, the events those raise."""
    made: dict[str, set[str]] = {k: set() for k in KINDS}
    for o in outputs(doc):
        if o.kind == "tag_added":
            made["tag"].add(o.target)
            made["event"].add("tag.added")
        elif o.kind == "tag_removed":
            made["event"].add("tag.removed")
        elif o.kind == "field":
            made["attribute"].add(o.target)
            made["event"].add("contact.updated")
    if any(st.type == "send" for st in doc.steps.values()):
        made["event"].update({"message.sent", "message.delivered", "message.opened", "message.clicked"})
    if doc.settings.goal:
        made["event"].add("journey.converted")
    return made


def produced_by(docs: Iterable[JourneyDoc]) -> dict[str, set[str]]:
    made: dict[str, set[str]] = {k: set() for k in KINDS}
    for d in docs:
        for k, v in produces(d).items():
            made[k] |= v
    return made
