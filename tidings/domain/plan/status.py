"""Each cell's status, computed from the templates and journeys (no I/O, no clock: ``today`` is given).

One status per cell, the first that holds, in this order:

1. ``missing`` — nothing linked, or none of the linked templates exists (and no asset);
2. ``wrong_format`` — a linked template does not fit the cell's channel: written for another
   channel, an MJML/HTML body in an SMS or voice cell, an SMS over the plan's segment limit;
3. ``needs_update`` — a linked template was neither reviewed nor edited for ``review_months``,
   or the cell's review date has passed since its last review;
4. ``draft`` — publish date still ahead, or the templates are used by draft journeys only;
5. ``unused`` — the templates exist but no journey's send step names them;
6. ``live`` — used by a published journey (or, for an asset-only cell, its publish date is past).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from tidings.domain.plan.model import Cell, PlanDoc
from tidings.domain.sms import segment_count


class CellStatus(StrEnum):
    MISSING = "missing"
    WRONG_FORMAT = "wrong_format"
    NEEDS_UPDATE = "needs_update"
    DRAFT = "draft"
    UNUSED = "unused"
    LIVE = "live"


#: the order of precedence (and of the report's columns)
STATUSES: tuple[CellStatus, ...] = tuple(CellStatus)
#: body formats that only the email channel renders
EMAIL_ONLY_FORMATS = frozenset({"mjml", "html"})


@dataclass(frozen=True, slots=True)
class TemplateVariant:
    """One (key, locale) row of ``templates``, reduced to what the plan reads."""

    key: str
    locale: str
    channel: str
    format: str
    body: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateFacts:
    """A template key with its variants and its last review."""

    key: str
    variants: tuple[TemplateVariant, ...]
    reviewed_at: datetime | None = None

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(v.channel for v in self.variants)

    @property
    def updated_at(self) -> datetime:
        return max(v.updated_at for v in self.variants)

    @property
    def last_review(self) -> datetime:
        """An edit counts as a review: someone looked at the content then."""
        return max(self.updated_at, self.reviewed_at) if self.reviewed_at else self.updated_at


def template_facts(variants: Iterable[TemplateVariant], reviews: Mapping[str, datetime]) -> dict[str, TemplateFacts]:
    by_key: dict[str, list[TemplateVariant]] = {}
    for v in variants:
        by_key.setdefault(v.key, []).append(v)
    return {k: TemplateFacts(k, tuple(sorted(vs, key=lambda v: v.locale)), reviews.get(k))
            for k, vs in sorted(by_key.items())}


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """A journey's send step naming a template; ``published``: in the journey's current version of
    an active or paused journey (else the step is in a draft)."""

    template: str
    journey: str
    step: str
    channel: str | None
    published: bool


@dataclass(frozen=True, slots=True)
class CellView:
    """A cell with its computed status, why, and what links to it."""

    persona: str
    stage: str
    question: str
    status: CellStatus
    reasons: tuple[str, ...]
    cell: Cell | None
    uses: tuple[TemplateUse, ...] = ()
    unknown_templates: tuple[str, ...] = ()

    @property
    def coordinates(self) -> tuple[str, str, str]:
        return (self.persona, self.stage, self.question)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (clamped to that month's last day)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(y, m + 1, min(day.day, monthrange(y, m + 1)[1]))


def format_problems(t: TemplateFacts, channel: str | None, max_sms_segments: int) -> list[str]:
    """Why template ``t`` is the wrong format for a cell of ``channel`` (empty: it fits)."""
    if channel is None:
        return []
    out: list[str] = []
    fitting = [v for v in t.variants if v.channel == channel]
    if not fitting:
        others = ", ".join(sorted(t.channels))
        return [f"template {t.key!r} is written for {others}, not {channel}"]
    for v in fitting:
        where = f"template {t.key!r}" + (f" ({v.locale})" if v.locale else "")
        if channel != "email" and v.format in EMAIL_ONLY_FORMATS:
            out.append(f"{where} has a {v.format} body, which only email renders")
        if channel == "sms":
            n = segment_count(v.body)
            if n > max_sms_segments:
                out.append(f"{where} is {n} SMS segments (the plan allows {max_sms_segments})")
    return out


def cell_status(
    plan: PlanDoc,
    coordinates: tuple[str, str, str],
    cell: Cell | None,
    templates: Mapping[str, TemplateFacts],
    uses: Sequence[TemplateUse],
    today: date,
) -> CellView:
    persona, stage, question = coordinates

    def view(status: CellStatus, reasons: Iterable[str], mine: Sequence[TemplateUse] = (),
             unknown: Sequence[str] = ()) -> CellView:
        return CellView(persona, stage, question, status, tuple(reasons), cell, tuple(mine), tuple(unknown))

    if cell is None or (not cell.templates and not cell.assets):
        return view(CellStatus.MISSING, ["no content is linked to this cell"])
    known = [templates[k] for k in cell.templates if k in templates]
    unknown = [k for k in cell.templates if k not in templates]
    linked = {t.key for t in known}
    mine = [u for u in uses if u.template in linked]
    if not known and not cell.assets:
        return view(CellStatus.MISSING, [f"template {k!r} does not exist" for k in unknown], unknown=unknown)
    wrong = [p for t in known for p in format_problems(t, cell.channel, plan.max_sms_segments)]
    if wrong:
        return view(CellStatus.WRONG_FORMAT, wrong, mine, unknown)
    stale_before = months_before(today, plan.review_months)
    old = [f"template {t.key!r} last reviewed {t.last_review.date().isoformat()}" for t in known
           if t.last_review.date() < stale_before]
    if cell.review_on is not None and cell.review_on <= today:
        last = max((t.last_review.date() for t in known), default=None)
        if last is None or last < cell.review_on:
            old.append(f"the review planned for {cell.review_on.isoformat()} is due")
    if old:
        return view(CellStatus.NEEDS_UPDATE, old, mine, unknown)
    if cell.publish_on is not None and cell.publish_on > today:
        return view(CellStatus.DRAFT, [f"to be published on {cell.publish_on.isoformat()}"], mine, unknown)
    if not known:  # assets only: published on their date
        return view(CellStatus.LIVE, ["the linked assets are published"], mine, unknown)
    if not mine:
        return view(CellStatus.UNUSED, ["no journey sends " + ", ".join(repr(k) for k in sorted(linked))],
                    mine, unknown)
    if not any(u.published for u in mine):
        return view(CellStatus.DRAFT, ["only draft journeys send it: " + ", ".join(sorted({u.journey for u in mine}))],
                    mine, unknown)
    live = sorted({u.journey for u in mine if u.published})
    return view(CellStatus.LIVE, ["sent by " + ", ".join(live)], mine, unknown)


@dataclass(frozen=True, slots=True)
class GapReport:
    plan: PlanDoc
    cells: tuple[CellView, ...]
    counts: Mapping[CellStatus, int] = field(default_factory=dict)

    @property
    def gaps(self) -> list[CellView]:
        """Every cell that is not live, in the order of the matrix."""
        return [c for c in self.cells if c.status is not CellStatus.LIVE]

    def cell(self, persona: str, stage: str, question: str) -> CellView | None:
        for c in self.cells:
            if c.coordinates == (persona, stage, question):
                return c
        return None


def gap_report(
    plan: PlanDoc,
    cells: Mapping[tuple[str, str, str], Cell],
    templates: Mapping[str, TemplateFacts],
    uses: Sequence[TemplateUse],
    today: date,
) -> GapReport:
    """Every cell of the matrix with its status (cells stored for coordinates the plan no longer
    has are left out), and the count of each status."""
    views = tuple(cell_status(plan, xyz, cells.get(xyz), templates, uses, today) for xyz in plan.coordinates())
    counts = {s: 0 for s in STATUSES}
    for v in views:
        counts[v.status] += 1
    return GapReport(plan, views, counts)


def stale_templates(templates: Mapping[str, TemplateFacts], today: date, months: int) -> list[TemplateFacts]:
    """Templates neither reviewed nor edited in the last ``months`` months, oldest first."""
    before = months_before(today, months)
    return sorted((t for t in templates.values() if t.last_review.date() < before),
                  key=lambda t: (t.last_review, t.key))
