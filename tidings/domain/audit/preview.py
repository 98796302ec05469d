"""Blast-radius preview: before a journey is published, resumed or migrated, how many contacts
would enter now and how many messages per channel it would send in the next 24 hours and 7 days.

Each candidate (a stored contact with the entry it would make, and its earlier enrolments in
this journey) goes through the re-entry policy and then the real state machine on a virtual
clock (:func:`tidings.domain.journeys.simulate.run_contact`), nobody engaging. A candidate
drawn from the last 24 hours' inflow (``daily``) stands for one such entry on each day of the
week: its messages count once per day whose copy still falls inside the window. Marketing
messages to contacts without consent for the channel are counted apart (delivery refuses
them). When only a sample of the population was simulated, totals are scaled up and each
figure carries a 95 % margin of error (normal approximation with finite-population
correction). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.journeys.model import Entry, JourneyDoc, PriorEnrollment
from tidings.domain.journeys.simulate import run_contact
from tidings.domain.journeys.triggers import may_enter, owned_blocked
from tidings.domain.snapshot import ContactSnapshot

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
#: the consent a channel's marketing messages need, where it is not the channel's own name
CONSENT_OF = {"voice": "phone"}
_NO_CONSENT = "|no_consent"


@dataclass(frozen=True, slots=True)
class Candidate:
    contact: ContactSnapshot
    entry: Entry
    #: when the entry would happen (now, or a date trigger's due time within the week)
    at: datetime
    prior: tuple[PriorEnrollment, ...] = ()
    #: what makes this contact a candidate ("segment vip", "event signed_up in the last 24 h")
    basis: str = ""
    #: set when the contact is in the population but its trigger does not fire now (why)
    not_entering: str | None = None
    #: an inflow sample (the last 24 hours' entries): assumed to repeat each day of the week
    daily: bool = False


@dataclass
class Preview:
    journey: str
    now: datetime
    population: int
    simulated: int
    #: window -> entries
    would_enter: dict[str, int]
    #: channel -> window -> messages
    messages: dict[str, dict[str, int]]
    #: channel -> window -> ± (95 %), 0 when everyone was simulated
    margin: dict[str, dict[str, int]]
    #: channel -> window -> marketing messages among ``messages`` whose contact has not
    #: granted consent for the channel: delivery will refuse them
    without_consent: dict[str, dict[str, int]]
    enter_margin: dict[str, int]
    basis: dict[str, int]
    refused: dict[str, int] = field(default_factory=dict)
    #: what the journey already has going (enrolments, unsent messages, timers), set by the caller
    in_flight: dict[str, Any] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.simulated < self.population

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "now": self.now.isoformat(),
            "population": self.population,
            "simulated": self.simulated,
            "sampled": self.sampled,
            "would_enter": self.would_enter,
            "would_enter_margin": self.enter_margin,
            "messages": self.messages,
            "margin": self.margin,
            "without_consent": self.without_consent,
            "basis": self.basis,
            "not_entering": self.refused,
            "in_flight": self.in_flight,
            "error": (
                f"sample of {self.simulated} of {self.population} contacts; figures are ± the margin (95 %)"
                if self.sampled
                else "every candidate simulated: exact under the no-engagement assumption"
            ),
        }


def _margin(values: Sequence[int], population: int) -> int:
    n = len(values)
    if n >= population or n < 2:
        return 0
    sd = math.sqrt(sum((v - sum(values) / n) ** 2 for v in values) / (n - 1))
    fpc = math.sqrt((population - n) / (population - 1))
    return math.ceil(1.96 * population * sd / math.sqrt(n) * fpc)


def _cohorts(c: Candidate, offset: timedelta, span: timedelta) -> int:
    """How many copies of this candidate's event at ``offset`` fall inside ``span``: one, or for
    a daily inflow one per day of the window whose copy is still early enough."""
    if not c.daily:
        return 1 if offset < span else 0
    return sum(1 for d in range(7) if offset + timedelta(days=d) < span)


def blast_radius(
    doc: JourneyDoc, candidates: Sequence[Candidate], *, population: int, now: datetime
) -> Preview:
    """Simulate ``candidates`` (all of the population, or a sample of it) for a week."""
    if population < len(candidates):
        raise ValueError("the population cannot be smaller than the candidates simulated")
    per_contact: dict[tuple[str, str], list[int]] = {}
    entered: dict[str, list[int]] = {name: [] for name in WINDOWS}
    refused: dict[str, int] = {}
    basis: dict[str, int] = {}
    channels: set[str] = set()
    rows: list[dict[tuple[str, str], int]] = []
    for c in candidates:
        basis[c.basis] = basis.get(c.basis, 0) + 1
        if c.not_entering:
            ok, why = False, c.not_entering
        elif owned_blocked(doc, c.contact):
            ok, why = False, "owned by a salesperson"
        else:
            ok, why = may_enter(doc, c.prior, c.entry.key, c.at)
        for name, span in WINDOWS.items():
            entered[name].append(_cohorts(c, c.at - now, span) if ok else 0)
        counts: dict[tuple[str, str], int] = {}
        if not ok:
            refused[why] = refused.get(why, 0) + 1
        else:
            horizon = now + WINDOWS["7d"] - c.at
            for t in run_contact(doc, c.contact, c.entry, c.at, horizon):
                channels.add(t.channel)
                step = doc.steps.get(t.step)
                category = str((step.config.get("category") if step else None) or doc.settings.category)
                no_consent = category == "marketing" and (
                    c.contact.consents.get(CONSENT_OF.get(t.channel, t.channel)) != "granted"
                )
                for name, span in WINDOWS.items():
                    copies = _cohorts(c, t.at - now, span)
                    if copies:
                        counts[(t.channel, name)] = counts.get((t.channel, name), 0) + copies
                        if no_consent:
                            key = (t.channel + _NO_CONSENT, name)
                            counts[key] = counts.get(key, 0) + copies
        rows.append(counts)
    for counts in rows:
        for ch in channels:
            for name in WINDOWS:
                for k in (ch, ch + _NO_CONSENT):
                    per_contact.setdefault((k, name), []).append(counts.get((k, name), 0))
    n = len(candidates)
    scale = population / n if n else 0.0
    messages = {
        ch: {name: round(sum(per_contact[(ch, name)]) * scale) for name in WINDOWS} for ch in sorted(channels)
    }
    margin = {
        ch: {name: _margin(per_contact[(ch, name)], population) for name in WINDOWS} for ch in sorted(channels)
    }
    without = {
        ch: {name: round(sum(per_contact[(ch + _NO_CONSENT, name)]) * scale) for name in WINDOWS}
        for ch in sorted(channels)
    }
    return Preview(
        doc.key,
        now,
        population,
        n,
        {name: round(sum(v) * scale) for name, v in entered.items()},
        messages,
        margin,
        without,
        {name: _margin(v, population) for name, v in entered.items()},
        basis,
        refused,
    )
