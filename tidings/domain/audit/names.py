"""Name checks: every event, attribute, tag, segment and template a journey names should be
something that has been produced or defined somewhere; otherwise it is a warning with "did you
mean ...". ``webinar-registerd`` passes the schema, but nothing ever sends it, and the journey
would silently never fire. Pure: the document and the known names in, warnings out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tidings.domain.audit.findings import did_you_mean, suggestion_text
from tidings.domain.audit.usage import KINDS, Use, produces, reads
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.snapshot import STANDARD_FIELDS

#: events the platform itself records (engagement, changes, memberships, conversions, tasks).
SYSTEM_EVENTS = frozenset(
    {
        *(
            f"message.{a}"
            for a in (
                "sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed",
                "failed", "held", "skipped", "suppressed", "retry", "recovered", "uncertain",
            )
        ),  # fmt: skip
        "tag.added",
        "tag.removed",
        "contact.updated",
        "contact.merged",
        "consent.changed",
        "segment.entered",
        "segment.exited",
        "journey.converted",
        "task.assigned",
        "task.completed",
        "task.escalated",
    }
)


@dataclass(frozen=True, slots=True)
class KnownNames:
    """What exists: seen in storage, defined, or produced by journeys."""

    events: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    templates: frozenset[str] = frozenset()

    def of(self, kind: str) -> frozenset[str]:
        return {
            "event": self.events | SYSTEM_EVENTS,
            "attribute": self.attributes | frozenset(STANDARD_FIELDS),
            "tag": self.tags,
            "segment": self.segments,
            "template": self.templates,
        }[kind]

    def with_produced(self, made: Mapping[str, Iterable[str]]) -> KnownNames:
        return KnownNames(
            self.events | frozenset(made.get("event", ())),
            self.attributes | frozenset(made.get("attribute", ())),
            self.tags | frozenset(made.get("tag", ())),
            self.segments | frozenset(made.get("segment", ())),
            self.templates | frozenset(made.get("template", ())),
        )


_WHAT = {
    "event": "no event named {!r} has ever been recorded or produced",
    "attribute": "no contact has an attribute {!r} and no journey sets it",
    "tag": "no contact has the tag {!r} and no journey adds it",
    "segment": "there is no segment {!r}",
    "template": "there is no template {!r}",
}


@dataclass(frozen=True, slots=True)
class NameWarning:
    kind: str
    name: str
    where: str
    step: str | None
    message: str
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "where": self.where,
            "step": self.step,
            "line": self.line,
            "message": self.message,
            "did_you_mean": list(self.suggestions),
        }

    def __str__(self) -> str:
        at = f"line {self.line}, " if self.line is not None else ""
        return f"{at}{self.where}: {self.message}"


def unknown_uses(
    uses: Iterable[Use], known: KnownNames, hints: Mapping[str, Iterable[str]] | None = None
) -> list[NameWarning]:
    """Uses of names that are not known. ``hints`` (names other journeys read) widen the pool
    "did you mean" draws from without making those names known."""
    out: list[NameWarning] = []
    seen: set[tuple[str, str, str]] = set()
    for u in uses:
        pool = known.of(u.kind)
        if u.name in pool or (u.kind, u.name, u.where) in seen:
            continue
        seen.add((u.kind, u.name, u.where))
        close = did_you_mean(u.name, set(pool) | set((hints or {}).get(u.kind, ())))
        hint = suggestion_text(close)
        msg = f"{u.kind} {u.name!r}: " + _WHAT[u.kind].format(u.name) + (f"; {hint}" if hint else "")
        out.append(NameWarning(u.kind, u.name, u.where, u.step, msg, tuple(close), u.line))
    return out


def check_names(
    doc: JourneyDoc, known: KnownNames, hints: Mapping[str, Iterable[str]] | None = None
) -> list[NameWarning]:
    """Warnings for the names ``doc`` reads that nothing produces or defines (its own outputs count)."""
    return unknown_uses(reads(doc), known.with_produced(produces(doc)), hints)


def read_names(docs: Iterable[JourneyDoc]) -> dict[str, set[str]]:
    """kind -> names these journeys read (the "did you mean" pool)."""
    out: dict[str, set[str]] = {k: set() for k in KINDS}
    for d in docs:
        for u in reads(d):
            out[u.kind].add(u.name)
    return out


__all__ = ["KINDS", "SYSTEM_EVENTS", "KnownNames", "NameWarning", "check_names", "read_names", "unknown_uses"]
