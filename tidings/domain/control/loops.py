"""The loop breaker: causal chains of enrolments across journeys, and cycles in the journey map.

Every enrolment started by another journey's effect (a tag, a field, an event it raised, an
enrol step) carries the chain of enrolments that led to it: ``[(journey, enrolment, at), ...]``,
root first. When the journey about to be entered already appears ``rounds`` times in the chain
(within ``window``), entering again would be one round too many: the chain is stopped.

Pure: the chain and the clock reading come in, a verdict goes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEFAULT_ROUNDS = 3
DEFAULT_WINDOW = timedelta(hours=24)
#: the longest chain kept on an enrolment (older links are dropped first).
MAX_CHAIN = 100


@dataclass(frozen=True, slots=True)
class LoopLimit:
    """At most ``rounds`` entries of one journey in one causal chain within ``window``."""

    rounds: int = DEFAULT_ROUNDS
    window: timedelta = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if not isinstance(self.rounds, int) or isinstance(self.rounds, bool) or self.rounds < 1:
            raise ValueError(f"a loop limit is a whole number of rounds >= 1, not {self.rounds!r}")
        if self.window <= timedelta(0):
            raise ValueError("a loop limit's window must be longer than zero")

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "window_seconds": int(self.window.total_seconds())}


@dataclass(frozen=True, slots=True)
class ChainLink:
    journey: str
    enrollment: int | str | None
    at: datetime

    def to_list(self) -> list[Any]:
        return [self.journey, self.enrollment, self.at.isoformat()]

    @classmethod
    def from_list(cls, raw: Sequence[Any]) -> ChainLink:
        return cls(str(raw[0]), raw[1], datetime.fromisoformat(str(raw[2])))


@dataclass(frozen=True, slots=True)
class Cause:
    """Why an enrolment starts: the kind of stimulus, what it names, and the enrolment behind it."""

    kind: str  # tag_added | tag_removed | field | event | enrol
    value: str | None
    parent_enrollment: int | None = None
    parent_journey: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "enrollment": self.parent_enrollment,
            "journey": self.parent_journey,
        }


@dataclass(frozen=True, slots=True)
class LoopStop:
    journey: str
    rounds: int
    limit: LoopLimit
    chain: tuple[ChainLink, ...]

    @property
    def text(self) -> str:
        return describe(self.chain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "rounds": self.rounds,
            "limit": self.limit.to_dict(),
            "chain": [link.to_list() for link in self.chain],
            "text": self.text,
        }


def describe(chain: Iterable[ChainLink]) -> str:
    return " -> ".join(link.journey for link in chain)


def cause_of_event(name: str, properties: Mapping[str, Any]) -> Cause | None:
    """The cause an event carries when a journey's effect raised it (``by`` / ``enrollment``).

    ``tag.added``/``tag.removed``/``contact.updated`` name their tag or fields and, when a journey
    made the change, ``by: {journey, step, enrollment}``; ``journey.converted`` names its enrolment.
    """
    by = properties.get("by")
    parent = _int(by.get("enrollment")) if isinstance(by, Mapping) else None
    pjourney = str(by["journey"]) if isinstance(by, Mapping) and by.get("journey") else None
    if name in ("tag.added", "tag.removed"):
        kind = "tag_added" if name == "tag.added" else "tag_removed"
        return Cause(kind, str(properties.get("tag") or ""), parent, pjourney)
    if name == "contact.updated":
        changed = properties.get("changed")
        fields = ",".join(sorted(changed)) if isinstance(changed, Mapping) else None
        return Cause("field", fields, parent, pjourney) if parent is not None else None
    if name == "journey.converted" and properties.get("enrollment") is not None:
        return Cause("event", name, _int(properties.get("enrollment")), str(properties.get("journey") or ""))
    if parent is not None:
        return Cause("event", name, parent, pjourney)
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def extend(parent: Sequence[ChainLink], link: ChainLink, window: timedelta) -> tuple[ChainLink, ...]:
    """The parent's chain (links inside the window, at most MAX_CHAIN) followed by ``link``."""
    since = link.at - window
    kept = [x for x in parent if x.at >= since]
    return (*kept[-(MAX_CHAIN - 1) :], link)


def check(chain: Sequence[ChainLink], limit: LoopLimit) -> LoopStop | None:
    """A stop when the chain's last journey now appears more than ``limit.rounds`` times."""
    if not chain:
        return None
    last = chain[-1]
    since = last.at - limit.window
    rounds = sum(1 for x in chain if x.journey == last.journey and x.at >= since)
    if rounds <= limit.rounds:
        return None
    return LoopStop(last.journey, rounds, limit, tuple(chain))


def cycles(edges: Iterable[tuple[str, str]], limit: int = 50) -> list[list[str]]:
    """Elementary cycles of the journey map, each as ``[a, b, ..., a]`` starting at its least key.

    Self-loops count (a journey whose output triggers itself). At most ``limit`` cycles.
    """
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    found: list[list[str]] = []
    for start in sorted(graph):
        # only cycles whose smallest node is ``start``: each cycle is found once
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack and len(found) < limit:
            node, path = stack.pop()
            for nxt in sorted(graph[node], reverse=True):
                if nxt == start:
                    found.append([*path, start])
                elif nxt > start and nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return found
