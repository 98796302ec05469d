"""Each journey's complexity against its value, ranked, with the article's rule of thumb:
value rises with authenticity and falls with complexity.

- complexity = steps + extra branch edges + waits + chain depth below it + dependencies
  (distinct names it reads and links to or from other journeys);
- value = log(1 + enrolments) + 2·log(1 + conversions) + log(1 + revenue) + outputs used
  downstream (links from it that start another journey);
- authenticity = the share of its messages a person (not a proxy or scanner) opened or
  clicked, capped at 1; 0.5 (neutral) while it has sent nothing;
- score = value × (0.5 + authenticity) / complexity × 10.

Suggestion: *retire* an active journey idle since publication, *merge* one whose entry
overlaps another marketing journey, *simplify* one above the complexity limit whose score is
below the median, else *keep*. Pure.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.audit import graph
from tidings.domain.audit.inputs import AuditSettings, JourneyFacts
from tidings.domain.audit.usage import reads
from tidings.domain.journeys.links import Link
from tidings.domain.statuses import JourneyStatus


@dataclass(frozen=True, slots=True)
class JourneyValue:
    key: str
    steps: int
    branches: int
    waits: int
    chain_depth: int
    dependencies: int
    complexity: int
    enrolments: int
    conversions: int
    revenue: float
    downstream: int
    authenticity: float | None
    value: float
    score: float
    suggestion: str  # keep | simplify | merge | retire
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "complexity": {
                "total": self.complexity,
                "steps": self.steps,
                "branches": self.branches,
                "waits": self.waits,
                "chain_depth": self.chain_depth,
                "dependencies": self.dependencies,
            },
            "value": {
                "total": self.value,
                "enrolments": self.enrolments,
                "conversions": self.conversions,
                "revenue": self.revenue,
                "downstream": self.downstream,
                "authenticity": self.authenticity,
            },
            "score": self.score,
            "suggestion": self.suggestion,
            "advice": self.advice,
        }


def rank(
    journeys: Sequence[JourneyFacts],
    links: Sequence[Link],
    now: datetime,
    settings: AuditSettings,
    overlaps: Sequence[tuple[str, str, str]],
) -> list[JourneyValue]:
    keys = [j.key for j in journeys]
    chains = graph.chains(keys, links)
    partners: dict[str, list[str]] = {}
    for a, b, _ in overlaps:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    rows: list[tuple[JourneyFacts, int, int, int, int, int, int, int, float | None, float, float]] = []
    for j in journeys:
        doc = j.doc
        steps = len(doc.steps)
        branches = sum(max(0, len(st.edges) - 1) for st in doc.steps.values())
        waits = sum(1 for st in doc.steps.values() if st.is_wait)
        depth = len(chains[j.key]) - 1
        names = {(u.kind, u.name) for u in reads(doc)}
        linked = {lk.target for lk in links if lk.source == j.key} | {lk.source for lk in links if lk.target == j.key}
        dependencies = len(names) + len(linked - {j.key})
        complexity = steps + branches + waits + depth + dependencies
        downstream = len({(lk.step, lk.target) for lk in links if lk.source == j.key and lk.target != j.key})
        authenticity = min(1.0, j.human_engagements / j.sends) if j.sends else None
        value = (
            math.log1p(j.enrolments) + 2 * math.log1p(j.conversions) + math.log1p(max(0.0, j.revenue)) + downstream
        )
        auth = 0.5 if authenticity is None else authenticity
        score = round(value * (0.5 + auth) / max(1, complexity) * 10, 3)
        rows.append((j, steps, branches, waits, depth, dependencies, complexity, downstream, authenticity,
                     round(value, 3), score))  # fmt: skip
    median = statistics.median([r[10] for r in rows]) if rows else 0.0
    out: list[JourneyValue] = []
    horizon = now - timedelta(days=settings.idle_days)
    for j, steps, branches, waits, depth, deps, complexity, downstream, authenticity, value, score in rows:
        live = j.status == JourneyStatus.ACTIVE
        if live and j.enrolments == 0 and j.published_at is not None and j.published_at <= horizon:
            suggestion, advice = "retire", f"never triggered in {(now - j.published_at).days} days: retire it"
        elif j.key in partners:
            others = ", ".join(sorted(set(partners[j.key])))
            suggestion, advice = "merge", f"starts on the same stimulus as {others}: merge them into one journey"
        elif complexity > settings.complexity_limit and score <= median:
            suggestion, advice = (
                "simplify",
                f"complexity {complexity} (limit {settings.complexity_limit}) for a below-median score: simplify it",
            )
        else:
            suggestion, advice = "keep", ""
        out.append(
            JourneyValue(j.key, steps, branches, waits, depth, deps, complexity, j.enrolments, j.conversions,
                         j.revenue, downstream, authenticity, value, score, suggestion, advice)  # fmt: skip
        )
    out.sort(key=lambda v: (-v.score, v.key))
    return out
