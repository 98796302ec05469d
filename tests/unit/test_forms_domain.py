"""Forms, pure: the definition's validation with paths, a submission's check, the opt-in states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.forms.model import FormInvalid, parse_form
from tidings.domain.forms.pending import Action, Outcome, Pending, PendingStatus, apply, confirm, deadlines, due_action
from tidings.domain.forms.ratelimit import SlidingWindow
from tidings.domain.forms.submission import SubmissionInvalid, check_submission, redirect_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEXT = "Yes, email me the newsletter. I can unsubscribe at any time."


def doc(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": "newsletter",
        "name": "Newsletter",
        "fields": [
            {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
            {"name": "first_name", "label": "First name", "maps_to": "first_name"},
            {"name": "company", "label": "Company"},
            {"name": "plan", "label": "Plan", "type": "select", "options": ["free", "pro"]},
        ],
        "consents": [{"channel": "email", "text": TEXT}],
        "allowed_redirects": ["https://shop.example.com/thanks"],
        "allowed_origins": ["https://shop.example.com"],
    }
    return base | over


def errors_of(d: Any) -> dict[str, str]:
    with pytest.raises(FormInvalid) as caught:
        parse_form(d)
    return dict(caught.value.errors)


def test_a_valid_form_round_trips_through_its_document() -> None:
    form = parse_form(doc())
    assert form.double_opt_in is True and form.field("company") is not None
    assert form.field("company").maps_to == "attributes.company"  # type: ignore[union-attr]
    assert parse_form(form.as_doc()) == form


def test_definition_errors_carry_field_paths() -> None:
    bad = doc(key="Bad Key", fields=[
        {"name": "email", "maps_to": "email", "required": True},
        {"name": "x", "maps_to": "score"},
        {"name": "website_url"},
        {"name": "p", "type": "select"},
    ], consents=[{"channel": "fax", "text": ""}], redirect_url="https://evil.example/", remind_after_hours=0)
    errs = errors_of(bad)
    assert "key" in errs and "fields[1].maps_to" in errs and "fields[2].name" in errs
    assert "fields[3].options" in errs and "consents[0].channel" in errs and "consents[0].text" in errs
    assert "no open redirect" in errs["redirect_url"] and "remind_after_hours" in errs


def test_a_form_needs_a_required_email_and_one_box_per_channel() -> None:
    errs = errors_of(doc(fields=[{"name": "first_name", "maps_to": "first_name"}],
                         consents=[{"channel": "email", "text": "a"}, {"channel": "email", "text": "b"}]))
    assert "email" in errs["fields"] and "consents[1].channel" in errs


def test_origins_must_be_bare_origins() -> None:
    assert "allowed_origins[0]" in errors_of(doc(allowed_origins=["https://shop.example.com/page"]))


def test_a_submission_maps_fields_normalises_and_captures_utm() -> None:
    form = parse_form(doc())
    got = check_submission(form, {"email": " Ann@Example.COM ", "first_name": "Ann", "company": "ACME",
                                  "plan": "pro", "consent_email": "on"},
                           page_url="https://shop.example.com/join?utm_source=ads&utm_campaign=spring",
                           referrer="https://search.example/")
    assert got.contact == {"email": "ann@example.com", "first_name": "Ann",
                           "attributes": {"company": "ACME", "plan": "pro", "utm_source": "ads",
                                          "utm_campaign": "spring", "referrer": "https://search.example/"}}
    assert [c.text for c in got.consents] == [TEXT] and not got.spam


def test_an_unticked_box_records_no_consent_and_a_required_box_must_be_ticked() -> None:
    form = parse_form(doc())
    assert check_submission(form, {"email": "a@example.com"}).consents == ()
    strict = parse_form(doc(consents=[{"channel": "email", "text": TEXT, "required": True}]))
    with pytest.raises(SubmissionInvalid) as caught:
        check_submission(strict, {"email": "a@example.com", "consent_email": ""})
    assert dict(caught.value.errors).keys() == {"consent_email"}


def test_bad_values_are_named() -> None:
    form = parse_form(doc())
    with pytest.raises(SubmissionInvalid) as caught:
        check_submission(form, {"email": "not-an-email", "plan": "gold"})
    assert set(dict(caught.value.errors)) == {"email", "plan"}
    with pytest.raises(SubmissionInvalid):
        check_submission(form, {"first_name": "Ann"})  # email is required


def test_the_honeypot_marks_spam_and_keeps_nothing() -> None:
    got = check_submission(parse_form(doc()), {"email": "bot@example.com", "website_url": "http://spam"})
    assert got.spam and got.contact == {} and got.consents == ()


def test_redirects_only_to_an_allowed_url() -> None:
    assert redirect_for(parse_form(doc())) is None
    assert redirect_for(parse_form(doc(redirect_url="https://shop.example.com/thanks"))) == (
        "https://shop.example.com/thanks")


def pending(**over: Any) -> Pending:
    remind, expires = deadlines(NOW, 24, 7)
    return Pending(1, over.pop("status", PendingStatus.PENDING), NOW, remind, expires, **over)


def test_pending_reminds_once_then_expires() -> None:
    p = pending()
    assert due_action(p, NOW + timedelta(hours=23)) is None
    at = NOW + timedelta(hours=24)
    assert due_action(p, at) is Action.REMIND
    reminded = apply(p, Action.REMIND, at)
    assert due_action(reminded, NOW + timedelta(days=3)) is None  # once
    assert due_action(reminded, NOW + timedelta(days=7)) is Action.EXPIRE
    expired = apply(reminded, Action.EXPIRE, NOW + timedelta(days=7))
    assert expired.status is PendingStatus.EXPIRED and due_action(expired, NOW + timedelta(days=30)) is None
    with pytest.raises(ValueError):
        apply(reminded, Action.REMIND, NOW + timedelta(days=3))


def test_confirm_before_expiry_only_and_twice_is_harmless() -> None:
    p = pending()
    done, outcome = confirm(p, NOW + timedelta(hours=1))
    assert outcome is Outcome.CONFIRMED and done.status is PendingStatus.CONFIRMED
    assert confirm(done, NOW + timedelta(hours=2))[1] is Outcome.ALREADY
    late, outcome = confirm(p, NOW + timedelta(days=7))
    assert outcome is Outcome.EXPIRED and late == p


@given(st.lists(st.integers(min_value=0, max_value=600), max_size=60), st.integers(min_value=1, max_value=8))
def test_the_window_never_lets_more_than_the_limit_through(offsets: list[int], limit: int) -> None:
    window = SlidingWindow(limit, timedelta(seconds=60))
    allowed = [t for t in sorted(offsets) if window.allow("ip", NOW + timedelta(seconds=t))]
    for t in allowed:
        assert sum(1 for u in allowed if t - 60 < u <= t) <= limit


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(["key", "name", "fields", "consents", "double_opt_in", "redirect_url", "allowed_redirects",
                        "allowed_origins", "remind_after_hours", "expire_after_days", "locale", "thank_you"])


@given(st.dictionaries(KEYS, JSON, max_size=8) | JSON)
def test_any_json_is_a_form_or_a_form_invalid(doc: Any) -> None:
    """The API hands parse_form whatever JSON it got: it answers a definition or FormInvalid, never crashes."""
    try:
        form = parse_form(doc)
    except FormInvalid as exc:
        assert exc.errors
    else:
        assert parse_form(form.as_doc()) == form


@given(st.dictionaries(st.sampled_from(["email", "first_name", "company", "plan", "consent_email", "website_url",
                                        "page_url", "referrer", "utm_source"]), JSON, max_size=9))
def test_any_posted_values_are_checked_or_refused(values: dict[str, Any]) -> None:
    try:
        got = check_submission(parse_form(doc()), values)
    except SubmissionInvalid as exc:
        assert exc.errors
    else:
        assert got.spam or got.contact["email"]
