"""The content plan's pure core: documents, every cell's one status, the gap report, the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.plan.calendar import CSV_COLUMNS, calendar_entries, csv_rows, to_ical
from tidings.domain.plan.model import DEFAULT_PLAN, Cell, PlanInvalid, parse_cell, parse_plan
from tidings.domain.plan.status import (
    STATUSES,
    CellStatus,
    TemplateUse,
    TemplateVariant,
    gap_report,
    months_before,
    stale_templates,
    template_facts,
)

TODAY = date(2026, 12, 7)
RECENT = datetime(2026, 11, 1, tzinfo=UTC)
OLD = datetime(2025, 1, 1, tzinfo=UTC)
XYZ = ("founder", "awareness", "why")


def variant(key: str, channel: str = "email", fmt: str = "html", body: str = "<p>Hi</p>",
            updated: datetime = RECENT, locale: str = "") -> TemplateVariant:
    return TemplateVariant(key, locale, channel, fmt, body, updated)


def status_of(cell: Cell | None, variants: list[TemplateVariant], uses: list[TemplateUse],
              reviews: dict[str, datetime] | None = None) -> tuple[CellStatus, tuple[str, ...]]:
    cells = {cell.coordinates: cell} if cell else {}
    report = gap_report(DEFAULT_PLAN, cells, template_facts(variants, reviews or {}), uses, TODAY)
    view = report.cell(*XYZ)
    assert view is not None
    return view.status, view.reasons


def live(key: str, published: bool = True) -> TemplateUse:
    return TemplateUse(key, "welcome-series", "send1", "email", published)


def test_default_plan_is_five_by_five_by_five_and_round_trips() -> None:
    assert (len(DEFAULT_PLAN.personas), len(DEFAULT_PLAN.stages), len(DEFAULT_PLAN.questions)) == (5, 5, 5)
    assert [s.key for s in DEFAULT_PLAN.stages] == ["awareness", "consideration", "decision", "onboarding", "loyalty"]
    assert all(p.description for p in DEFAULT_PLAN.personas)
    assert parse_plan(DEFAULT_PLAN.as_doc()) == DEFAULT_PLAN
    assert len(DEFAULT_PLAN.coordinates()) == 125


def test_plan_problems_have_field_paths() -> None:
    with pytest.raises(PlanInvalid) as e:
        parse_plan({"personas": [{"key": "A b", "name": "x"}, {"key": "a", "name": ""}], "stages": [],
                    "questions": [{"key": "q", "name": "Q"}, {"key": "q", "name": "Q"}], "review_months": 0,
                    "colour": "red"})
    paths = {p for p, _ in e.value.errors}
    assert paths == {"colour", "personas[0].key", "personas[1].name", "stages", "questions[1].key",
                     "review_months"}


def test_cell_validation() -> None:
    cell = parse_cell({"persona": "founder", "stage": "awareness", "question": "why", "templates": "a, b,a",
                       "assets": ["https://x.example/p"], "channel": "sms", "publish_on": "2027-01-05"},
                      DEFAULT_PLAN)
    assert cell.templates == ("a", "b") and cell.publish_on == date(2027, 1, 5)
    with pytest.raises(PlanInvalid) as e:
        parse_cell({"persona": "nobody", "stage": "awareness", "question": "why", "assets": ["javascript:x"],
                    "channel": "fax", "review_on": "soon"}, DEFAULT_PLAN)
    assert {p for p, _ in e.value.errors} == {"persona", "assets[0]", "channel", "review_on"}


def test_missing_when_nothing_or_only_unknown_templates() -> None:
    assert status_of(None, [], [])[0] is CellStatus.MISSING
    status, reasons = status_of(Cell(*XYZ, ("ghost",)), [], [])
    assert status is CellStatus.MISSING and "'ghost' does not exist" in reasons[0]


def test_live_when_a_published_journey_sends_it() -> None:
    status, reasons = status_of(Cell(*XYZ, ("welcome",), channel="email"), [variant("welcome")], [live("welcome")])
    assert status is CellStatus.LIVE and reasons == ("sent by welcome-series",)


def test_unused_and_draft() -> None:
    cell = Cell(*XYZ, ("welcome",), channel="email")
    assert status_of(cell, [variant("welcome")], [])[0] is CellStatus.UNUSED
    assert status_of(cell, [variant("welcome")], [live("welcome", published=False)])[0] is CellStatus.DRAFT
    later = Cell(*XYZ, ("welcome",), channel="email", publish_on=TODAY + timedelta(days=3))
    assert status_of(later, [variant("welcome")], [])[0] is CellStatus.DRAFT


def test_wrong_format_for_the_channel() -> None:
    mjml = variant("promo", fmt="mjml", body="<mjml></mjml>")
    status, reasons = status_of(Cell(*XYZ, ("promo",), channel="sms"), [mjml], [live("promo")])
    assert status is CellStatus.WRONG_FORMAT and "written for email, not sms" in reasons[0]
    sms_mjml = variant("promo", channel="sms", fmt="mjml", body="<mjml></mjml>")
    assert "only email renders" in status_of(Cell(*XYZ, ("promo",), channel="sms"), [sms_mjml], [])[1][0]
    long_sms = variant("promo", channel="sms", fmt="text", body="x" * (153 * 3 + 1))
    status, reasons = status_of(Cell(*XYZ, ("promo",), channel="sms"), [long_sms], [live("promo")])
    assert status is CellStatus.WRONG_FORMAT and "4 SMS segments (the plan allows 3)" in reasons[0]
    short_sms = variant("promo", channel="sms", fmt="text", body="x" * 153 * 3)
    assert status_of(Cell(*XYZ, ("promo",), channel="sms"), [short_sms], [live("promo")])[0] is CellStatus.LIVE


def test_needs_update_when_not_reviewed_for_months_or_review_date_due() -> None:
    cell = Cell(*XYZ, ("welcome",), channel="email")
    stale = variant("welcome", updated=OLD)
    assert status_of(cell, [stale], [live("welcome")])[0] is CellStatus.NEEDS_UPDATE
    # a review counts as much as an edit
    assert status_of(cell, [stale], [live("welcome")], {"welcome": RECENT})[0] is CellStatus.LIVE
    due = Cell(*XYZ, ("welcome",), channel="email", review_on=TODAY - timedelta(days=1))
    status, reasons = status_of(due, [variant("welcome")], [live("welcome")])
    assert status is CellStatus.NEEDS_UPDATE and "is due" in reasons[0]
    assert status_of(due, [variant("welcome")], [live("welcome")], {"welcome": datetime(2026, 12, 7, tzinfo=UTC)}
                     )[0] is CellStatus.LIVE


def test_assets_only_cell() -> None:
    cell = Cell(*XYZ, (), ("https://blog.example.com/why",))
    assert status_of(cell, [], [])[0] is CellStatus.LIVE
    later = Cell(*XYZ, (), ("https://blog.example.com/why",), publish_on=TODAY + timedelta(days=1))
    assert status_of(later, [], [])[0] is CellStatus.DRAFT


def test_months_before_clamps() -> None:
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_stale_templates_oldest_first() -> None:
    facts = template_facts([variant("a", updated=OLD), variant("b", updated=RECENT),
                            variant("c", updated=OLD - timedelta(days=9))], {"a": datetime(2025, 2, 1, tzinfo=UTC)})
    assert [t.key for t in stale_templates(facts, TODAY, 6)] == ["c", "a"]
    assert stale_templates(facts, TODAY, 24) == []


keys = st.sampled_from(["welcome", "promo", "sms-short", "ghost"])
channels = st.sampled_from([None, "email", "sms", "voice"])
days = st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 12, 31)))
cells = st.builds(
    Cell, st.sampled_from([p.key for p in DEFAULT_PLAN.personas]),
    st.sampled_from([s.key for s in DEFAULT_PLAN.stages]), st.sampled_from([q.key for q in DEFAULT_PLAN.questions]),
    st.lists(keys, max_size=3, unique=True).map(tuple),
    st.lists(st.just("https://x.example/a"), max_size=1).map(tuple), channels, st.none(), days, days,
)
VARIANTS = [variant("welcome"), variant("promo", fmt="mjml", updated=OLD),
            variant("sms-short", channel="sms", fmt="text", body="Hi {{ first_name }}")]


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, max_size=40), st.lists(st.tuples(keys, st.booleans()), max_size=6))
def test_every_cell_has_exactly_one_status_and_counts_add_up(cs: list[Cell], used: list[tuple[str, bool]]) -> None:
    stored = {c.coordinates: c for c in cs}
    uses = [TemplateUse(k, "j", "s", None, p) for k, p in used]
    report = gap_report(DEFAULT_PLAN, stored, template_facts(VARIANTS, {}), uses, TODAY)
    assert len(report.cells) == DEFAULT_PLAN.size == 125
    assert len({v.coordinates for v in report.cells}) == 125
    assert sum(report.counts.values()) == 125
    assert set(report.counts) == set(STATUSES)
    for v in report.cells:
        assert v.status in STATUSES and v.reasons
    assert len(report.gaps) == 125 - report.counts[CellStatus.LIVE]
    assert report.counts[CellStatus.MISSING] >= 125 - len(stored)


def test_calendar_entries_ical_and_csv() -> None:
    cells = [Cell(*XYZ, ("welcome",), ("https://x.example/a",), "email", "ana@example.com", date(2027, 1, 5),
                  date(2027, 6, 1)),
             Cell("customer", "loyalty", "next", ("tips",), publish_on=date(2027, 1, 2)),
             Cell("gone", "loyalty", "next", publish_on=date(2027, 1, 1))]  # not in the plan any more
    entries = calendar_entries(DEFAULT_PLAN, cells)
    assert [(e.day, e.kind) for e in entries] == [
        (date(2027, 1, 2), "publish"), (date(2027, 1, 5), "publish"), (date(2027, 6, 1), "review")]
    window = calendar_entries(DEFAULT_PLAN, cells, since=date(2027, 1, 3), until=date(2027, 5, 1))
    assert [e.day for e in window] == [date(2027, 1, 5)]
    stamp = datetime(2026, 12, 7, 12, tzinfo=UTC)
    cal = icalendar.Calendar.from_ical(to_ical(entries, stamp))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 3
    first = events[1]
    assert first.decoded("dtstart") == date(2027, 1, 5)
    assert str(first["summary"]) == "Publish: Small-business founder / Awareness / Why should I care?"
    assert "Owner: ana@example.com" in str(first["description"])
    assert len({str(e["uid"]) for e in events}) == 3
    rows = csv_rows(entries)
    assert rows[0] == list(CSV_COLUMNS) and rows[2][0] == "2027-01-05" and rows[2][8] == "welcome"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["founder", "email", "2027-01-01"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["personas", "stages", "questions", "key", "name", "persona", "stage", "question", "templates",
                         "assets", "channel", "publish_on", "review_months", "x"]), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_a_plan_or_a_plan_invalid_with_paths(doc: object) -> None:
    """The API hands these parsers any JSON body: they answer a value or PlanInvalid, never crash."""
    for parse in (parse_plan, lambda d: parse_cell(d, DEFAULT_PLAN)):
        try:
            parse(doc)
        except PlanInvalid as exc:
            assert exc.errors and all(isinstance(p, str) and m for p, m in exc.errors)


def test_uses_from_a_parsed_draft_and_from_a_stored_document_agree() -> None:
    from tidings.domain.journeys.document import parse_journey
    from tidings.domain.plan.usage import document_uses, template_uses

    text = ("key: j\nname: J\ntriggers:\n  - event: signed_up\nsteps:\n  - id: a\n    type: send\n    channel: sms\n"
            "    template: t1\n  - id: w\n    type: wait\n    duration: 1d\n  - id: b\n    type: send\n"
            "    channel: email\n    template: t2\n")
    doc = {"key": "j", "steps": [{"id": "a", "type": "send", "channel": "sms", "template": "t1"},
                                 {"id": "w", "type": "wait", "duration": "1d"},
                                 {"id": "b", "type": "send", "channel": "email", "template": "t2"}, "junk"]}
    parsed = template_uses(parse_journey(text), published=True)
    assert parsed == document_uses(doc, published=True)
    assert [(u.template, u.step, u.channel) for u in parsed] == [("t1", "a", "sms"), ("t2", "b", "email")]
    assert document_uses({"steps": "no"}, published=True) == [] and document_uses(None, published=False) == []
