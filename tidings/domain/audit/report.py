"""The automation audit: findings from journey documents, segment rules and a few counts.

The application gathers :class:`AuditInputs` (documents and counts from storage); everything
here is pure. Checks: tags (sprawl, set-but-never-read, read-but-never-set, near duplicates),
loops and long chains between journeys, dead conditions / steps / branches, overlap (contacts
in several marketing journeys, overlapping entry rules), idle journeys and unknown trigger
names, and each journey's complexity against its value (:mod:`tidings.domain.audit.value`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.audit import graph
from tidings.domain.audit.findings import (
    Finding,
    did_you_mean,
    journey,
    near_duplicates,
    sort_findings,
    step,
    suggestion_text,
)
from tidings.domain.audit.inputs import AuditSettings, JourneyFacts
from tidings.domain.audit.names import KnownNames, read_names, unknown_uses
from tidings.domain.audit.satisfiable import contradiction
from tidings.domain.audit.usage import produced_by, reads, rule_uses
from tidings.domain.audit.value import JourneyValue, rank
from tidings.domain.journeys.links import Link, journey_links
from tidings.domain.rules.ast import All, Not, Rule
from tidings.domain.statuses import JourneyStatus


@dataclass(frozen=True, slots=True)
class Overlap:
    journeys: tuple[str, ...]
    contacts: int


@dataclass(frozen=True, slots=True)
class AuditInputs:
    now: datetime
    journeys: Sequence[JourneyFacts] = ()
    #: segment key -> parsed rule
    segments: Mapping[str, Rule] = field(default_factory=dict)
    #: segment key -> the rule's structured form (what the journey map reads)
    segment_sources: Mapping[str, Any] = field(default_factory=dict)
    #: tag -> number of contacts carrying it
    contact_tags: Mapping[str, int] = field(default_factory=dict)
    #: names seen in storage (events, attributes, tags, segments, templates)
    known: KnownNames = KnownNames()
    overlaps: Sequence[Overlap] = ()
    settings: AuditSettings = AuditSettings()
    #: problems found while gathering (a stored version or rule that no longer parses)
    problems: Sequence[Finding] = ()


@dataclass
class AuditReport:
    generated_at: datetime
    findings: list[Finding]
    journeys: list[JourneyValue]
    settings: AuditSettings

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in ("error", "warning", "info")}
        return {
            "generated_at": self.generated_at.isoformat(),
            "summary": {"findings": len(self.findings), **counts, "journeys": len(self.journeys)},
            "settings": {
                "tag_limit": self.settings.tag_limit,
                "idle_days": self.settings.idle_days,
                "chain_depth": self.settings.chain_depth,
                "min_enrolments": self.settings.min_enrolments,
                "complexity_limit": self.settings.complexity_limit,
            },
            "findings": [f.to_dict() for f in self.findings],
            "journeys": [j.to_dict() for j in self.journeys],
        }


def audit(inputs: AuditInputs) -> AuditReport:
    docs = [j.doc for j in inputs.journeys]
    links = journey_links(docs, inputs.segment_sources)
    findings = [
        *inputs.problems,
        *tag_findings(inputs),
        *chain_findings(inputs, links),
        *dead_findings(inputs),
        *overlap_findings(inputs),
        *idle_findings(inputs),
    ]
    values = rank(inputs.journeys, links, inputs.now, inputs.settings, _entry_overlaps(inputs.journeys))
    for v in values:
        if v.suggestion != "keep":
            findings.append(
                Finding(
                    "journey_value",
                    "info",
                    (journey(v.key),),
                    f"journey {v.key!r}: complexity {v.complexity}, value {v.value:g}, score {v.score:g}",
                    v.advice,
                    {"suggestion": v.suggestion},
                )
            )
    return AuditReport(inputs.now, sort_findings(findings), values, inputs.settings)


# --------------------------------------------------------------------------- tags


def _tags_read(inputs: AuditInputs) -> dict[str, list[str]]:
    """tag -> who reads it (journey or segment subjects)."""
    out: dict[str, list[str]] = {}
    for j in inputs.journeys:
        for u in reads(j.doc):
            if u.kind == "tag":
                out.setdefault(u.name, []).append(journey(j.key))
    for key, rule in inputs.segments.items():
        for u in rule_uses(rule, f"segment {key}"):
            if u.kind == "tag":
                out.setdefault(u.name, []).append(f"segment:{key}")
    return out


def tag_findings(inputs: AuditInputs) -> list[Finding]:
    s = inputs.settings
    read = _tags_read(inputs)
    set_by: dict[str, list[str]] = {}
    for j in inputs.journeys:
        for name in produced_by([j.doc])["tag"]:
            set_by.setdefault(name, []).append(journey(j.key))
    existing = set(inputs.contact_tags) | set(set_by)
    out: list[Finding] = []
    if len(existing) > s.tag_limit:
        out.append(
            Finding(
                "tag_sprawl",
                "warning",
                tuple(f"tag:{t}" for t in sorted(existing)),
                f"{len(existing)} distinct tags (more than {s.tag_limit} is a warning sign)",
                "merge near-duplicates, delete tags no rule reads, and prefer attributes for values",
                {"tags": len(existing), "limit": s.tag_limit},
            )
        )
    for tag in sorted(set(set_by) - set(read)):
        out.append(
            Finding(
                "tag_unread",
                "warning",
                (f"tag:{tag}", *sorted(set(set_by[tag]))),
                f"tag {tag!r} is added by {', '.join(sorted(set(set_by[tag])))} but no rule or trigger reads it",
                "remove the step that adds it, or use it in a segment or trigger",
            )
        )
    idle_tags = sorted(set(inputs.contact_tags) - set(read) - set(set_by))
    if idle_tags:
        out.append(
            Finding(
                "tag_unread",
                "info",
                tuple(f"tag:{t}" for t in idle_tags),
                f"{len(idle_tags)} tag(s) on contacts that no journey or segment reads: "
                + ", ".join(idle_tags[:10])
                + (" …" if len(idle_tags) > 10 else ""),
                "delete the ones nobody needs",
                {"contacts": {t: inputs.contact_tags[t] for t in idle_tags}},
            )
        )
    for tag in sorted(set(read) - existing):
        close = did_you_mean(tag, existing)
        out.append(
            Finding(
                "tag_unset",
                "warning",
                (f"tag:{tag}", *sorted(set(read[tag]))),
                f"tag {tag!r} is read by {', '.join(sorted(set(read[tag])))} but no contact has it "
                "and no journey adds it",
                suggestion_text(close) or "check the spelling, or add the tag where it should come from",
                {"did_you_mean": close},
            )
        )
    for group in near_duplicates(existing | set(read)):
        out.append(
            Finding(
                "tag_near_duplicate",
                "warning",
                tuple(f"tag:{t}" for t in group),
                "tags that look like one: " + ", ".join(repr(t) for t in group),
                f"pick one spelling (e.g. {group[0]!r}) and re-tag the contacts",
                {"contacts": {t: inputs.contact_tags.get(t, 0) for t in group}},
            )
        )
    return out


# --------------------------------------------------------------------------- loops and chains


def chain_findings(inputs: AuditInputs, links: Sequence[Link]) -> list[Finding]:
    keys = [j.key for j in inputs.journeys]
    once = {j.key for j in inputs.journeys if j.doc.settings.reentry == "never"}
    out: list[Finding] = []
    for loop in graph.loops(keys, links):
        if once.intersection(loop.journeys):
            continue  # a contact enters a reentry: never journey once ever: the chain ends there
        vias = ", ".join(v for v in loop.via if v)
        out.append(
            Finding(
                "journey_loop",
                "warning",
                tuple(journey(k) for k in loop.journeys),
                f"loop between journeys: {loop.text()} ({vias})",
                "break the cycle (one journey should not re-trigger the other), or declare loop_limit",
                {"cycle": [*loop.journeys, loop.journeys[0]], "via": list(loop.via), "depth": len(loop.journeys)},
            )
        )
    chains = graph.chains(keys, links)
    for key in graph.chain_starts(keys, links):
        chain = chains[key]
        if len(chain) <= inputs.settings.chain_depth:
            continue
        out.append(
            Finding(
                "journey_chain",
                "warning",
                tuple(journey(k) for k in chain),
                f"chain of {len(chain)} journeys: {' → '.join(chain)}",
                "a change upstream ripples through every journey below it; flatten the chain or merge steps",
                {"depth": len(chain), "chain": chain},
            )
        )
    return out


# --------------------------------------------------------------------------- dead conditions, steps, branches


def dead_findings(inputs: AuditInputs) -> list[Finding]:
    out: list[Finding] = []
    for j in inputs.journeys:
        doc = j.doc
        checks = [(t.where, f"trigger {t.index} can never fire", "fix the trigger's where filter",
                   f"triggers.{t.index}") for t in doc.triggers]  # fmt: skip
        for group, criteria in (("exit", doc.settings.exit), ("suppress", doc.settings.suppress),
                                ("goal", doc.settings.goal)):  # fmt: skip
            checks += [(c.rule, f"{group} criterion {i} can never be met", f"fix or remove settings.{group}.{i}",
                        f"settings.{group}.{i}") for i, c in enumerate(criteria)]  # fmt: skip
        for rule, what, fix, where in checks:
            why = contradiction(rule) if isinstance(rule, Rule) else None
            if why:
                out.append(
                    Finding("condition_unsatisfiable", "warning", (journey(j.key),),
                            f"journey {j.key!r}: {what}: {why}", fix, {"where": where})  # fmt: skip
                )
        for sid, st in doc.steps.items():
            prior: list[Rule] = []
            for label, rule in st.rules.items():
                if not isinstance(rule, Rule):
                    continue
                why = contradiction(rule)
                if why is None and label.startswith("branch:") and prior:
                    # a branch is only reached when every earlier branch was false
                    why = contradiction(All((rule, *(Not(p) for p in prior))))
                    why = f"the earlier branches always win ({why})" if why else None
                if label.startswith("branch:"):
                    prior.append(rule)
                if why:
                    target = st.edges.get(label, "")
                    out.append(
                        Finding(
                            "condition_unsatisfiable",
                            "warning",
                            (journey(j.key), step(j.key, sid)),
                            f"journey {j.key!r}, step {sid!r}: {label.replace(':', ' ')} can never be taken: {why}",
                            f"fix the condition or remove the branch (it leads to {target!r})",
                            {"edge": label, "target": target},
                        )
                    )
        if j.enrolments >= inputs.settings.min_enrolments:
            never = [sid for sid in doc.steps if sid not in j.reached_steps]
            if never:
                out.append(
                    Finding(
                        "step_never_reached",
                        "warning",
                        (journey(j.key), *(step(j.key, s) for s in never)),
                        f"journey {j.key!r}: {len(never)} step(s) never reached by its {j.enrolments} "
                        f"enrolments: {', '.join(never)}",
                        "check the conditions in front of them, or remove them",
                        {"steps": never, "enrolments": j.enrolments},
                    )
                )
        if j.unreached_by_scenarios or j.untaken_branches:
            parts = []
            if j.unreached_by_scenarios:
                parts.append("steps " + ", ".join(j.unreached_by_scenarios))
            if j.untaken_branches:
                parts.append("branches " + ", ".join(j.untaken_branches))
            out.append(
                Finding(
                    "branch_untaken",
                    "info",
                    (journey(j.key), *(step(j.key, b.split(":")[0]) for b in j.untaken_branches or ())),
                    f"journey {j.key!r}: its scenarios never reach {'; '.join(parts)}",
                    "add a scenario that takes them, or remove what no one can reach",
                    {"steps": list(j.unreached_by_scenarios or ()), "branches": list(j.untaken_branches or ())},
                )
            )
    for key, rule in inputs.segments.items():
        why = contradiction(rule)
        if why:
            out.append(
                Finding(
                    "condition_unsatisfiable",
                    "warning",
                    (f"segment:{key}",),
                    f"segment {key!r} can never have members: {why}",
                    "fix the segment's rule",
                )
            )
    return out


# --------------------------------------------------------------------------- overlap


def _entry_overlaps(journeys: Sequence[JourneyFacts]) -> list[tuple[str, str, str]]:
    """(journey, journey, what) for marketing journeys started by the same stimulus."""
    by_stimulus: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for j in journeys:
        if j.doc.settings.category != "marketing":
            continue
        for t in j.doc.triggers:
            if t.target and t.type != "manual":
                by_stimulus.setdefault((t.type, t.target), []).append((j.key, t.where))
    out = []
    for (kind, target), items in sorted(by_stimulus.items()):
        for i, (a, wa) in enumerate(items):
            for b, wb in items[i + 1 :]:
                if a == b:
                    continue
                both = [w for w in (wa, wb) if isinstance(w, Rule)]
                if both and contradiction(All(tuple(both))):
                    continue
                out.append((a, b, f"{kind.replace('_', ' ')} {target}"))
    return out


def overlap_findings(inputs: AuditInputs) -> list[Finding]:
    out = [
        Finding(
            "contacts_in_several_journeys",
            "warning",
            tuple(journey(k) for k in o.journeys),
            f"{o.contacts} contact(s) are in {len(o.journeys)} marketing journeys at once: {', '.join(o.journeys)}",
            "add a suppression (in_journey(...)) or an exit so one journey wins, or merge them",
            {"contacts": o.contacts},
        )
        for o in inputs.overlaps
    ]
    for a, b, what in _entry_overlaps(inputs.journeys):
        out.append(
            Finding(
                "entry_overlap",
                "warning",
                (journey(a), journey(b)),
                f"journeys {a!r} and {b!r} both start on {what}",
                "give one of them a narrower trigger, suppress one while the other runs, or merge them",
            )
        )
    return out


# --------------------------------------------------------------------------- idle journeys, unknown trigger names


def idle_findings(inputs: AuditInputs) -> list[Finding]:
    s = inputs.settings
    horizon = inputs.now - timedelta(days=s.idle_days)
    out: list[Finding] = []
    for j in inputs.journeys:
        if j.status != JourneyStatus.ACTIVE:
            continue
        if j.enrolments == 0 and j.published_at is not None and j.published_at <= horizon:
            out.append(
                Finding(
                    "journey_idle",
                    "warning",
                    (journey(j.key),),
                    f"journey {j.key!r} was published {(inputs.now - j.published_at).days} days ago "
                    "and has never been triggered",
                    "check its triggers (see the unknown-name findings), or retire it",
                    {"enrolments": 0, "published_at": j.published_at.isoformat()},
                )
            )
        elif j.last_entered_at is not None and j.last_entered_at <= horizon:
            out.append(
                Finding(
                    "journey_idle",
                    "info",
                    (journey(j.key),),
                    f"journey {j.key!r}: no one has entered for {(inputs.now - j.last_entered_at).days} days",
                    "retire it if its trigger no longer happens",
                    {"last_entered_at": j.last_entered_at.isoformat(), "enrolments": j.enrolments},
                )
            )
    made = produced_by(j.doc for j in inputs.journeys)
    known = inputs.known.with_produced(made)
    for j in inputs.journeys:
        uses = [u for u in reads(j.doc) if u.where.startswith("triggers.") and _evidence(inputs.known, u.kind)]
        hints = read_names(o.doc for o in inputs.journeys if o.key != j.key)
        for w in unknown_uses(uses, known, hints):
            out.append(
                Finding(
                    "trigger_unknown_name",
                    "warning",
                    (journey(j.key), f"{w.kind}:{w.name}"),
                    f"journey {j.key!r}, {w.where}: {w.message}",
                    suggestion_text(list(w.suggestions)) or f"check the {w.kind} name",
                    {"did_you_mean": list(w.suggestions)},
                )
            )
    return out


def _evidence(known: KnownNames, kind: str) -> bool:
    """Whether storage has anything of ``kind`` to compare against (an empty database has seen
    no events yet: every trigger would look unknown). Segments are definitions: always checked."""
    return kind == "segment" or bool(getattr(known, kind + "s"))
