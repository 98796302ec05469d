"""Publish-time loop check: cycles in the journey map (the web "Journey map" links) through a document.

A cycle is refused unless the document declares ``settings.loop_limit`` (the loop breaker then
stops it at run time); with the declaration it is a warning naming the cycle. A cycle through a
journey with ``reentry: never`` is not one: a contact enters that journey once ever, so the chain
ends there (lead-nurture's CRM write-back changes the lifecycle stage its trigger reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tidings.domain.control.loops import cycles
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.links import journey_links
from tidings.domain.journeys.model import JourneyDoc, JourneyError


def parse_sources(sources: Iterable[tuple[str, str]], *, exclude: str | None = None) -> list[JourneyDoc]:
    """Journey documents from ``(key, source)`` pairs (unreadable ones left out)."""
    docs = []
    for key, source in sources:
        if key == exclude:
            continue
        try:
            docs.append(parse_journey(source))
        except JourneyError:
            continue
    return docs


def map_cycles(docs: Iterable[JourneyDoc], seg_rules: Mapping[str, object]) -> list[list[str]]:
    links = journey_links(list(docs), seg_rules)
    return cycles((link.source, link.target) for link in links)


def cycles_through(others: Iterable[JourneyDoc], seg_rules: Mapping[str, object], doc: JourneyDoc) -> list[str]:
    """Warnings naming every cycle of the map that passes through ``doc``."""
    docs = [*others, doc]
    once = {d.key for d in docs if d.settings.reentry == "never"}
    found = [c for c in map_cycles(docs, seg_rules) if doc.key in c and not once.intersection(c)]
    return [f"loop in the journey map: {' -> '.join(c)}" for c in found]
