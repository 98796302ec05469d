"""The audit's pure core: satisfiability, names, near duplicates, loops and chains, the
report on hand-built inputs, and the preview's sampling margin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.audit.findings import did_you_mean, edit_distance, near_duplicates, normalise, within_one_edit
from tidings.domain.audit.graph import chain_starts, chains, loops
from tidings.domain.audit.inputs import AuditSettings, JourneyFacts
from tidings.domain.audit.names import KnownNames, check_names
from tidings.domain.audit.preview import Candidate, blast_radius
from tidings.domain.audit.report import AuditInputs, audit
from tidings.domain.audit.satisfiable import contradiction, satisfiable
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.links import Link
from tidings.domain.journeys.triggers import manual_entry
from tidings.domain.rules import evaluate, parse_rule
from tidings.domain.snapshot import ContactSnapshot

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "score > 50 and score < 10",
        "score >= 10 and score < 10",
        'attributes.plan == "a" and attributes.plan == "b"',
        'attributes.plan in ["a", "b"] and attributes.plan == "c"',
        'has_tag("vip") and not has_tag("vip")',
        "score > 50 and not score > 10",
        "attributes.x exists and attributes.x not exists",
        '(score > 50 or score > 60) and score < 5',
    ],
)
def test_contradictions_are_found(text: str) -> None:
    rule = parse_rule(text)
    assert not satisfiable(rule) and contradiction(rule)


@pytest.mark.parametrize(
    "text",
    [
        "score > 5 and score < 10",
        "score >= 10 and score <= 10",
        'score > 50 or has_tag("x")',
        'score > 50 and (score < 10 or has_tag("x"))',
        'attributes.plan == "a" and attributes.other == "b"',
        'not (score > 5 and score < 10)',
    ],
)
def test_satisfiable_rules_are_left_alone(text: str) -> None:
    assert satisfiable(parse_rule(text)) and contradiction(parse_rule(text)) is None


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(-20, 20), hi=st.integers(-20, 20), score=st.integers(-30, 30))
def test_an_unsatisfiable_range_is_false_for_every_contact(lo: int, hi: int, score: int) -> None:
    rule = parse_rule(f"score > {lo} and score < {hi}")
    if not satisfiable(rule):
        assert not evaluate(rule, ContactSnapshot(id=1, score=float(score)), NOW)


def test_names_normalise_and_suggest() -> None:
    assert normalise("Web_Inar  Registered") == normalise("web-inar.registered")
    assert did_you_mean("webinar-registerd", {"webinar.registered", "order.completed"}) == ["webinar.registered"]
    assert did_you_mean("zzz", {"webinar.registered"}) == []
    groups = near_duplicates(["VIP Customer", "vip-customer", "newsletter", "newsleter", "cohort-1", "cohort-2"])
    assert ["VIP Customer", "vip-customer"] in groups and ["newsleter", "newsletter"] in groups
    assert not any("cohort-1" in g for g in groups)  # numbered tags are distinct on purpose
    assert near_duplicates(["ping-me", "pong-me"]) == []  # a changed letter in a short name: two words
    assert near_duplicates(["customer", "custumer"]) == [["customer", "custumer"]]


@settings(max_examples=300, deadline=None)
@given(a=st.text("abc", max_size=6), b=st.text("abc", max_size=6))
def test_one_edit_check_agrees_with_levenshtein(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (edit_distance(a, b, 1) <= 1)


def test_check_names_counts_the_documents_own_outputs() -> None:
    doc = parse_journey(
        """key: j
triggers: [{event: signed_up}]
steps:
  - {id: t, type: update_contact, add_tags: [welcomed]}
  - id: b
    type: branch
    branches: [{when: 'has_tag("welcomed") and has_tag("vipp")', next: end}]
"""
    )
    warnings = check_names(doc, KnownNames(events=frozenset({"signed_up"}), tags=frozenset({"vip"})))
    assert [(w.kind, w.name, w.suggestions) for w in warnings] == [("tag", "vipp", ("vip",))]
    assert warnings[0].step == "b" and warnings[0].line == 5


def _link(a: str, b: str) -> Link:
    return Link(a, "s", b, 0, "tag", f"{a}-{b}")


def test_loops_and_chains() -> None:
    links = [_link("a", "b"), _link("b", "a"), _link("b", "c"), _link("c", "d"), _link("e", "e")]
    found = {lp.journeys: lp.text() for lp in loops(list("abcde"), links)}
    assert found == {("a", "b"): "a → b → a", ("e",): "e → e"}
    ch = chains(list("abcde"), links)
    assert ch["a"] == ["a", "b", "c", "d"] and ch["c"] == ["c", "d"] and ch["e"] == ["e"]
    assert set(chain_starts(list("abcde"), links)) == {"a", "e"}  # a loop's group starts at its first key


def test_settings_refuse_bad_values() -> None:
    for bad in (0, -1, True, "3"):
        with pytest.raises(ValueError, match="chain_depth"):
            AuditSettings(chain_depth=bad)  # type: ignore[arg-type]


def test_report_on_hand_built_inputs() -> None:
    doc = parse_journey("key: lonely\ntriggers: [{event: ping}]\nsteps:\n  - {id: x, type: exit}\n")
    facts = JourneyFacts("lonely", "active", doc, published_at=NOW - timedelta(days=40))
    report = audit(AuditInputs(now=NOW, journeys=[facts], known=KnownNames(events=frozenset({"pinged"}))))
    kinds = {f.kind: f for f in report.findings}
    assert kinds["journey_idle"].subjects == ("journey:lonely",)
    assert kinds["trigger_unknown_name"].detail["did_you_mean"] == ["pinged"]
    assert report.journeys[0].suggestion == "retire"
    # with no events in the store, trigger names are not judged (nothing to compare with)
    quiet = audit(AuditInputs(now=NOW, journeys=[facts]))
    assert "trigger_unknown_name" not in {f.kind for f in quiet.findings}


def test_preview_margin_shrinks_to_zero_when_everyone_is_simulated() -> None:
    doc = parse_journey(
        "key: p\ntriggers: [{manual: true}]\nsteps:\n  - {id: s, type: send, channel: email, template: t}\n"
    )
    people = [ContactSnapshot(id=i, consents={"email": "granted"} if i % 2 else {}) for i in range(10)]
    cands = [Candidate(c, manual_entry(doc), NOW) for c in people]
    full = blast_radius(doc, cands, population=10, now=NOW)
    assert full.messages == {"email": {"24h": 10, "7d": 10}} and full.margin["email"]["7d"] == 0
    assert full.without_consent["email"]["7d"] == 5 and full.would_enter == {"24h": 10, "7d": 10}
    half = blast_radius(doc, cands[:5], population=10, now=NOW)
    assert half.sampled and half.messages["email"]["7d"] == 10
    with pytest.raises(ValueError):
        blast_radius(doc, cands, population=3, now=NOW)


def test_preview_counts_who_cannot_enter_after_who_can() -> None:
    from tidings.domain.journeys.model import PriorEnrollment

    doc = parse_journey(
        "key: p\ntriggers: [{manual: true}]\nsettings: {reentry: never}\n"
        "steps:\n  - {id: s, type: send, channel: email, template: t}\n"
    )
    before = PriorEnrollment("ended", "completed", NOW - timedelta(days=3), NOW - timedelta(days=2), "")
    cands = [
        Candidate(ContactSnapshot(id=1), manual_entry(doc), NOW),
        Candidate(ContactSnapshot(id=2), manual_entry(doc), NOW, (before,)),
        Candidate(ContactSnapshot(id=3), manual_entry(doc), NOW, (), "", "trigger does not match now"),
    ]
    p = blast_radius(doc, cands, population=3, now=NOW)
    assert p.would_enter == {"24h": 1, "7d": 1} and p.messages == {"email": {"24h": 1, "7d": 1}}
    assert p.refused == {"re-entry: never": 1, "trigger does not match now": 1}


def test_a_daily_inflow_repeats_each_day_of_the_week() -> None:
    doc = parse_journey(
        "key: p\ntriggers: [{manual: true}]\nsteps:\n"
        "  - {id: a, type: send, channel: email, template: t}\n"
        "  - {id: w, type: wait, duration: 3d}\n"
        "  - {id: b, type: send, channel: email, template: t}\n"
    )
    c = Candidate(ContactSnapshot(id=1), manual_entry(doc), NOW, daily=True)
    p = blast_radius(doc, [c], population=1, now=NOW)
    # one entry a day: 7 in the week; "a" at day 0..6 -> 7 sends, "b" three days later -> days 0..3 -> 4
    assert p.would_enter == {"24h": 1, "7d": 7}
    assert p.messages == {"email": {"24h": 1, "7d": 11}}
