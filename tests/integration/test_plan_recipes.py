"""The content gap report on the shipped recipes (issue 19's "done when"): the example plan of
docs/examples/content-plan.yaml over every recipe installed lists real gaps, each for its reason."""

from __future__ import annotations

from pathlib import Path

import yaml

from tidings.application.plan import plan as use
from tidings.application.recipes import recipes
from tidings.bootstrap import Container
from tidings.domain.plan.status import CellStatus

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "content-plan.yaml"


def test_gap_report_on_the_shipped_recipes(container: Container) -> None:
    recipes.install_all(container)
    use.save_plan(container.uow(), yaml.safe_load(EXAMPLE.read_text()), container.clock.now())
    report = use.gaps(container.uow(read_only=True), container.clock.now().date())
    status = {v.coordinates: v.status for v in report.cells}
    reasons = {v.coordinates: v.reasons for v in report.cells}
    assert sum(report.counts.values()) == 125
    # sent by the published recipe journeys
    for xyz in [("marketer", "consideration", "how"), ("marketer", "decision", "proof"),
                ("founder", "onboarding", "next"), ("customer", "decision", "cost"),
                ("customer", "onboarding", "how"), ("customer", "loyalty", "next")]:
        assert status[xyz] is CellStatus.LIVE, (xyz, reasons[xyz])
    # real gaps
    assert status[("marketer", "decision", "cost")] is CellStatus.MISSING  # pricing-explained is not written
    assert reasons[("marketer", "decision", "cost")] == ("template 'pricing-explained' does not exist",)
    assert status[("customer", "loyalty", "why")] is CellStatus.WRONG_FORMAT  # a printed letter in an email cell
    assert "written for direct_mail, not email" in reasons[("customer", "loyalty", "why")][0]
    assert status[("founder", "awareness", "why")] is CellStatus.DRAFT  # the blog post comes out in 2027
    assert report.counts[CellStatus.MISSING] == 125 - 13 + 1
    assert all(status[("developer", s.key, q.key)] is CellStatus.MISSING
               for s in report.plan.stages for q in report.plan.questions)
    gaps = use.report_json(report)["gaps"]
    assert len(gaps) == 125 - report.counts[CellStatus.LIVE]
    entries = use.calendar(container.uow(read_only=True))
    assert [(e.day.isoformat(), e.kind) for e in entries] == [
        ("2027-01-15", "publish"), ("2027-02-01", "publish"), ("2027-07-15", "review")]
    assert reasons[("customer", "onboarding", "next")] == ("sent by webinar",)  # an SMS within 2 segments
