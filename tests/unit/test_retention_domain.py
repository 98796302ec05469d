"""Retention policies, pure: parsing, one kind at a time, and the cut-offs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.retention import (
    KINDS,
    MAX_DAYS,
    MIN_DAYS,
    MIN_DAYS_BY_KIND,
    InvalidPolicy,
    RetentionPolicy,
    cutoffs,
    parse_policy,
    with_days,
)

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)



def least(kind: str) -> int:
    return MIN_DAYS_BY_KIND.get(kind, MIN_DAYS)


policies = (
    st.lists(st.sampled_from(KINDS), unique=True)
    .flatmap(lambda ks: st.fixed_dictionaries({k: st.integers(least(k), MAX_DAYS) for k in ks}))
    .map(RetentionPolicy)
)
instants = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_off_by_default() -> None:
    assert parse_policy(None).document() == {k: None for k in KINDS}
    assert cutoffs(parse_policy(None), NOW) == {}
    assert not parse_policy({"events": None}).enabled


def test_cutoff_is_now_minus_the_days() -> None:
    policy = parse_policy({"events": 30, "inbox": 1})
    assert cutoffs(policy, NOW) == {"events": NOW - timedelta(days=30), "inbox": NOW - timedelta(days=1)}


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        ({"contacts": 3}, "contacts", "unknown kind"),
        ({"events": 0}, "events", "between 1 and 36500"),
        ({"events": MAX_DAYS + 1}, "events", "between"),
        ({"events": "30"}, "events", "whole number"),
        ({"events": True}, "events", "whole number"),
        ({"events": 2.5}, "events", "whole number"),
        ({"outbox": 729}, "outbox", "at least 730: the unsubscribe link"),
    ],
)
def test_bad_policies_name_the_field(doc: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message) as exc:
        parse_policy(doc)
    assert exc.value.field == field


@given(policies, instants)
def test_cutoffs_only_for_enabled_kinds_and_never_after_now(policy: RetentionPolicy, now: datetime) -> None:
    got = cutoffs(policy, now)
    assert set(got) == set(policy.days)
    assert list(got) == [k for k in KINDS if k in got]  # a stable order: logs and answers read the same
    for kind, cutoff in got.items():
        assert cutoff < now and (now - cutoff).days == policy.days[kind]


@given(policies, instants, st.sampled_from(KINDS), st.data())
def test_more_days_keep_more(policy: RetentionPolicy, now: datetime, kind: str, data: st.DataObject) -> None:
    days = data.draw(st.integers(least(kind), MAX_DAYS - 1))
    shorter, longer = with_days(policy, kind, days), with_days(policy, kind, days + 1)
    assert cutoffs(longer, now)[kind] < cutoffs(shorter, now)[kind]
    assert {k: v for k, v in cutoffs(longer, now).items() if k != kind} == {
        k: v for k, v in cutoffs(policy, now).items() if k != kind}


@given(policies)
def test_the_document_parses_back_to_the_same_policy(policy: RetentionPolicy) -> None:
    assert parse_policy(policy.document()) == policy
    for kind in KINDS:
        assert kind not in with_days(policy, kind, None).days
