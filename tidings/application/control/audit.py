"""Use case: the automation audit. Gathers documents and counts from storage (the
:class:`~tidings.application.ports.audit.AuditStore` port, ``store/audit_sql.py``), runs the pure
checks (``domain/audit``), returns the report.

An empty database gives an empty report. Journeys installed from a recipe are simulated
against the recipe's scenarios, so branches no scenario takes are reported too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.application.ports.audit import AuditStore
from tidings.application.ports.uow import Transaction
from tidings.domain.audit.findings import Finding
from tidings.domain.audit.inputs import AuditSettings, JourneyFacts
from tidings.domain.audit.names import KnownNames
from tidings.domain.audit.report import AuditInputs, AuditReport, Overlap, audit
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyDoc, JourneyError
from tidings.domain.journeys.simulate import simulate
from tidings.domain.rules import parse_rule
from tidings.domain.rules.ast import RuleError

#: how far back human opens and clicks count towards a journey's authenticity
ENGAGEMENT_WINDOW = timedelta(days=90)


class AuditError(ValueError):
    """The audit cannot run as asked (bad settings)."""


def settings_from(**values: Any) -> AuditSettings:
    """Audit settings from optional overrides (None = default); bad values raise AuditError."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return AuditSettings(**given)
    except (TypeError, ValueError) as exc:
        raise AuditError(str(exc)) from exc


def known_names(conn: Transaction, store: AuditStore) -> KnownNames:
    """Names storage has seen: events, contact attributes and tags, segments, templates."""
    return KnownNames(
        events=frozenset(store.event_names(conn)),
        attributes=frozenset(store.attribute_keys(conn)),
        tags=frozenset(store.tag_counts(conn)),
        segments=frozenset(store.segment_rules(conn)),
        templates=frozenset(store.template_keys(conn)),
    )


#: a recipe's scenarios by recipe name: (scenarios, start, horizon), as ``recipes.scenarios`` gives
RecipeScenarios = Callable[[str], tuple[list[Mapping[str, Any]], datetime, timedelta]]


def _coverage(
    recipe: str | None, doc: JourneyDoc, problems: list[Finding], scenarios: RecipeScenarios | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(untaken branches, unreached steps) of the recipe's scenarios run on this document."""
    if not recipe or scenarios is None:
        return None, None
    try:
        items, start, horizon = scenarios(recipe)
        result = simulate(doc, items, start=start, horizon=horizon)
    except (ValueError, OSError) as exc:  # no such recipe (any more), scenarios that do not fit
        problems.append(
            Finding("scenarios_unusable", "info", (f"journey:{doc.key}",),
                    f"journey {doc.key!r}: the scenarios of recipe {recipe!r} do not run on it: {exc}",
                    "fix the scenarios, or simulate the journey with your own")  # fmt: skip
        )
        return None, None
    return tuple(result.untaken_branches), tuple(result.unreached_steps)


def gather(
    conn: Transaction,
    now: datetime,
    settings: AuditSettings,
    store: AuditStore,
    scenarios: RecipeScenarios | None = None,
) -> AuditInputs:
    rows = store.published_journeys(conn)
    stats = store.enrolment_stats(conn)
    revenue = store.revenue_by_journey(conn)
    sends = store.sends_by_journey(conn)
    human = store.human_engagement_by_journey(conn, now - ENGAGEMENT_WINDOW)
    busy = [int(r["id"]) for r in rows if stats.get(int(r["id"]), {}).get("enrolments", 0) >= settings.min_enrolments]
    reached = store.reached_steps(conn, busy)
    facts: list[JourneyFacts] = []
    ids: dict[int, str] = {}
    marketing: list[int] = []
    problems: list[Finding] = []
    for r in rows:
        try:
            doc = parse_journey(str(r["source"]))
        except JourneyError as exc:
            problems.append(
                Finding("journey_unreadable", "error", (f"journey:{r['key']}",),
                        f"journey {r['key']!r}: its current version no longer validates: {exc.problems[0]}",
                        "publish a corrected version")  # fmt: skip
            )
            continue
        jid = int(r["id"])
        ids[jid] = doc.key
        if doc.settings.category == "marketing":
            marketing.append(jid)
        st = stats.get(jid, {})
        untaken, unreached = _coverage(r["recipe"], doc, problems, scenarios)
        facts.append(
            JourneyFacts(
                key=doc.key,
                status=str(r["status"]),
                doc=doc,
                published_at=r["first_published"],
                enrolments=int(st.get("enrolments", 0)),
                last_entered_at=st.get("last_entered_at"),
                conversions=int(st.get("conversions", 0)),
                revenue=float(revenue.get(doc.key, 0.0)),
                sends=int(sends.get(jid, 0)),
                human_engagements=int(human.get(doc.key, 0)),
                reached_steps=frozenset(reached.get(jid, set())),
                untaken_branches=untaken,
                unreached_by_scenarios=unreached,
            )
        )
    sources = store.segment_rules(conn)
    segments = {}
    for key, raw in sources.items():
        try:
            segments[key] = parse_rule(raw)
        except RuleError as exc:
            problems.append(
                Finding("segment_unreadable", "error", (f"segment:{key}",),
                        f"segment {key!r}: its rule no longer parses: {exc}",
                        "save the segment with a valid rule")  # fmt: skip
            )
    overlaps = [
        Overlap(tuple(ids[j] for j in combo if j in ids), n) for combo, n in store.active_overlaps(conn, marketing)
    ]
    return AuditInputs(
        now=now,
        journeys=facts,
        segments=segments,
        segment_sources=sources,
        contact_tags=store.tag_counts(conn),
        known=known_names(conn, store),
        overlaps=[o for o in overlaps if len(o.journeys) > 1],
        settings=settings,
        problems=problems,
    )


def run(
    conn: Transaction,
    now: datetime,
    store: AuditStore,
    settings: AuditSettings | None = None,
    scenarios: RecipeScenarios | None = None,
) -> AuditReport:
    """The audit report over everything published; ``scenarios`` (a recipe's scenarios by name)
    lets journeys installed from a recipe be simulated for untaken branches."""
    return audit(gather(conn, now, settings or AuditSettings(), store, scenarios))
