"""Which self-service signals a journey handles, and the check of their names.

A signal is handled by a ``wait_event`` step waiting for it (``signal: NAME``: it resumes the
wait and branches), by an exit/suppression/goal criterion naming it (``{signal: NAME}``), by
``settings.signals`` (its data updates the variables and re-plans a ``wait_until`` on one), or it
is ``stop`` (always accepted: it ends the enrolment). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tidings.domain.journeys.model import JourneyDoc, Problem

SIGNAL_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
#: signals become events named ``signal.NAME`` inside the machine (waits and criteria match them).
PREFIX = "signal."
STOP = "stop"


def as_event_name(signal: str) -> str:
    return PREFIX + signal


def named_signals(doc: JourneyDoc) -> frozenset[str]:
    """Signals that a step or a criterion of ``doc`` names."""
    names = {
        str(step.config["event"])[len(PREFIX) :]
        for step in doc.steps.values()
        if step.type == "wait_event" and str(step.config.get("event", "")).startswith(PREFIX)
    }
    if any(step.type == "repeat" for step in doc.steps.values()):
        names |= {"skip-one", "pause", "resume"}  # series.SERIES_SIGNALS: they steer a waiting series
    s = doc.settings
    names |= {c.event[len(PREFIX) :] for c in (*s.exit, *s.suppress, *s.goal) if c.event and c.event.startswith(PREFIX)}
    return frozenset(names)


def accepted_signals(doc: JourneyDoc) -> frozenset[str]:
    """Every signal the journey takes: ``settings.signals``, the named ones, and ``stop``."""
    return doc.settings.signals | named_signals(doc) | {STOP}


def check_signals(doc: JourneyDoc, line: int | None) -> list[Problem]:
    """Every name in ``settings.signals`` is a valid signal name. (A listed signal with no wait or
    criterion naming it still updates the enrolment's variables, as before v2, so it is not refused.)"""
    return [
        Problem(f"bad signal name {name!r} (lowercase letters, digits, _ . -)", line, None, "settings.signals")
        for name in sorted(doc.settings.signals)
        if not SIGNAL_RE.match(name)
    ]


def check_template_signals(doc: JourneyDoc, links: Mapping[str, set[str]]) -> list[Problem]:
    """A send step's template links to signals (``message.signal_url('NAME')``) that ``doc``
    handles; ``links`` maps template keys to the signals their variants link to. A link to a
    signal no step handles would show the contact a button that does nothing: refused, with the
    send step's line and id."""
    accepted = accepted_signals(doc)
    problems: list[Problem] = []
    for step in doc.steps.values():
        template = step.config.get("template") if step.type == "send" else None
        for name in sorted(links.get(str(template), set()) if template else set()):
            if name not in accepted:
                problems.append(
                    Problem(
                        f"template {template!r} links to signal {name!r}, which no step of this journey handles "
                        f"(it handles: {', '.join(sorted(accepted))}); add a wait for it, an exit on it, or "
                        "list it in settings.signals",
                        step.line,
                        step.id,
                        "template",
                    )
                )
    return problems
