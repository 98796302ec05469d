"""Links between journeys, computed from their documents: which journey's outputs start another.

The automation-overkill story: a tag set by one automation started the next, and nobody could
see the chain. Here every output a journey's steps produce — tags added or removed, fields set,
lifecycle stage, the events those changes raise (``tag.added``, ``contact.updated``), direct
enrolments — is matched against every journey's triggers, directly or through a segment whose
rule mentions that tag or field. Pure: documents and segment rules in, links out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tidings.domain.journeys.model import JourneyDoc, Trigger


@dataclass(frozen=True, slots=True)
class Output:
    """Something a step does to a contact that another journey may react to."""

    journey: str
    step: str
    kind: str  # tag_added | tag_removed | field | enrol
    target: str  # the tag, the field name, or the enrolled journey's key


@dataclass(frozen=True, slots=True)
class Link:
    source: str  # journey key
    step: str  # step id in the source journey
    target: str  # journey key it starts
    trigger: int  # index of the target's trigger
    kind: str  # tag | tag_removed | field | event | enrol | segment
    via: str  # human label: the tag, field, event or segment

    @property
    def label(self) -> str:
        return {
            "tag": "tag +",
            "tag_removed": "tag −",
            "field": "sets",
            "event": "event",
            "enrol": "enrols",
            "segment": "segment",
        }.get(self.kind, self.kind) + (f" {self.via}" if self.via else "")


def outputs(doc: JourneyDoc) -> list[Output]:
    out: list[Output] = []
    for sid, step in doc.steps.items():
        cfg = step.config
        if step.type == "update_contact":
            for tag in _strings(cfg.get("add_tags")):
                out.append(Output(doc.key, sid, "tag_added", tag))
            for tag in _strings(cfg.get("remove_tags")):
                out.append(Output(doc.key, sid, "tag_removed", tag))
            if isinstance(cfg.get("set"), Mapping):
                for name in cfg["set"]:
                    out.append(Output(doc.key, sid, "field", str(name)))
            if cfg.get("lifecycle_stage") or cfg.get("stage"):
                out.append(Output(doc.key, sid, "field", "lifecycle_stage"))
            if cfg.get("score"):
                out.append(Output(doc.key, sid, "field", "score"))
        elif step.type == "enroll" and cfg.get("journey"):
            out.append(Output(doc.key, sid, "enrol", str(cfg["journey"])))
        elif step.type == "assign_owner":
            out.append(Output(doc.key, sid, "field", "owner"))
        elif step.type == "crm" and cfg.get("write_back", True) is not False:
            # the CRM's owner and stage come back onto the contact (application/crm/handoff.py)
            out.append(Output(doc.key, sid, "field", "owner"))
            out.append(Output(doc.key, sid, "field", "lifecycle_stage"))
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def rule_mentions(rule: Any) -> set[tuple[str, str]]:
    """(kind, name) pairs a rule refers to: ("tag", "vip"), ("field", "plan")... found by walking it.

    Works on the structured (JSON) form of any rule: a mapping key ``tag``/``has_tag`` names a tag;
    ``attribute``/``field``/``attr`` names a field (``attributes.plan`` and ``plan`` both count).
    """
    found: set[tuple[str, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k in ("tag", "has_tag", "tags") and isinstance(v, str | list):
                    for t in _strings(v):
                        found.add(("tag", t))
                elif k in ("attribute", "field", "attr", "path") and isinstance(v, str):
                    found.add(("field", v.removeprefix("attributes.").removeprefix("contact.")))
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)

    walk(rule)
    return found


def _event_name_matches(trigger: Trigger, out: Output) -> str | None:
    """An event trigger on the event an output raises (the pipeline turns changes into events)."""
    if trigger.type != "event" or not trigger.target:
        return None
    event = {"tag_added": "tag.added", "tag_removed": "tag.removed", "field": "contact.updated"}.get(out.kind)
    return event if event == trigger.target else None


def journey_links(docs: Iterable[JourneyDoc], segment_rules: Mapping[str, Any] | None = None) -> list[Link]:
    """Every link from one journey's outputs to another (or the same) journey's triggers."""
    docs = list(docs)
    by_key = {d.key: d for d in docs}
    mentions = {key: rule_mentions(rule) for key, rule in (segment_rules or {}).items()}
    links: list[Link] = []
    seen: set[tuple[str, str, str, int, str, str]] = set()

    def add(link: Link) -> None:
        k = (link.source, link.step, link.target, link.trigger, link.kind, link.via)
        if k not in seen:
            seen.add(k)
            links.append(link)

    for doc in docs:
        for out in outputs(doc):
            if out.kind == "enrol":
                if out.target in by_key:
                    add(Link(doc.key, out.step, out.target, -1, "enrol", ""))
                continue
            for other in docs:
                for trig in other.triggers:
                    t = trig.target
                    if out.kind == "tag_added" and trig.type == "tag_added" and t == out.target:
                        add(Link(doc.key, out.step, other.key, trig.index, "tag", out.target))
                    elif out.kind == "tag_removed" and trig.type == "tag_removed" and t == out.target:
                        add(Link(doc.key, out.step, other.key, trig.index, "tag_removed", out.target))
                    elif (
                        out.kind == "field"
                        and trig.type == "attribute_changed"
                        and t in (out.target, f"attributes.{out.target}")
                    ):
                        add(Link(doc.key, out.step, other.key, trig.index, "field", out.target))
                    elif (event := _event_name_matches(trig, out)) is not None:
                        add(
                            Link(doc.key, out.step, other.key, trig.index, "event", f"{event} ({out.target})")
                        )
                    elif trig.type in ("segment_entered", "segment_exited") and t in mentions:
                        kind = "tag" if out.kind in ("tag_added", "tag_removed") else out.kind
                        if (kind, out.target) in mentions[t]:
                            add(
                                Link(
                                    doc.key, out.step, other.key, trig.index, "segment", f"{t} ({out.target})"
                                )
                            )
    return links
