"""Import presets (pure): column maps, vendor value conversions, consent proof per Mailchimp file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.contacts import InvalidValue
from tidings.domain.imports.presets import (
    HUBSPOT,
    MAILCHIMP,
    MAUTIC,
    MissingColumns,
    get_preset,
    mailchimp_kind,
    parse_time,
    snake_case,
    split_pipe_tags,
    split_quoted_tags,
)

tag = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12).filter(
    lambda t: t.strip() == t and ";" not in t and "," not in t and t != ""
)


@given(st.lists(tag, min_size=1, max_size=5))
def test_mailchimp_tags_round_trip(tags: list[str]) -> None:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(tags)  # how Mailchimp writes TAGS
    assert split_quoted_tags(buf.getvalue()).split(";") == tags


@given(st.lists(tag.filter(lambda t: "|" not in t), min_size=1, max_size=5))
def test_mautic_tags_split_on_pipes_and_commas(tags: list[str]) -> None:
    assert split_pipe_tags("|".join(tags)) == ";".join(tags) == split_pipe_tags(",".join(tags))


@given(st.text(max_size=30))
def test_snake_case_is_a_key(text: str) -> None:
    key = snake_case(text)
    assert key and " " not in key and key == key.lower() and snake_case(key) == key


def test_snake_case_examples() -> None:
    assert snake_case("Marketing contact status") == "marketing_contact_status"
    assert snake_case("Job Title") == "job_title"
    assert snake_case("Marketing Qualified Lead") == "marketing_qualified_lead"
    assert snake_case("Ville (ชื่อ)") == "ville_ชื่อ"


def test_column_maps_and_custom_columns() -> None:
    header = ["Email Address", "First Name", "TAGS", "MEMBER_RATING", "OPTIN_IP", "Favourite Colour"]
    cols = MAILCHIMP.column_map(header)
    assert cols == {
        "Email Address": "email",
        "First Name": "first_name",
        "TAGS": "tags",
        "MEMBER_RATING": "attributes.member_rating",
        "OPTIN_IP": "ignore",
        "Favourite Colour": "attributes.favourite_colour",
    }
    assert MAUTIC.column_map(["email", "points", "stage"])["points"] == "score"
    assert HUBSPOT.column_map(["Email", "HubSpot Score", "Lifecycle Stage"])["Lifecycle Stage"] == "lifecycle_stage"


def test_wrong_preset_names_the_missing_columns() -> None:
    with pytest.raises(MissingColumns) as err:
        MAILCHIMP.column_map(["Email", "First Name"])
    assert err.value.missing == ["Email Address"] and "Mailchimp" in str(err.value)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("salesforce")


def test_mailchimp_files_and_proof() -> None:
    sub = ["Email Address", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP"]
    assert mailchimp_kind(sub) == "subscribed"
    row = {
        "Email Address": "a@example.com",
        "OPTIN_TIME": "2024-01-10 08:00:00",
        "OPTIN_IP": "203.0.113.10",
        "CONFIRM_TIME": "2024-01-10 08:05:12",
        "CONFIRM_IP": "203.0.113.10",
    }
    c = MAILCHIMP.facts(row, sub).consent["email"]
    assert c["status"] == "granted" and c["source"] == "mailchimp import"
    assert c["recorded_at"] == datetime(2024, 1, 10, 8, 5, 12, tzinfo=UTC)
    assert c["proof"]["double_opt_in"] is True and c["proof"]["optin_ip"] == "203.0.113.10"
    single = MAILCHIMP.facts({**row, "CONFIRM_TIME": "", "CONFIRM_IP": ""}, sub).consent["email"]
    assert single["proof"]["double_opt_in"] is False and single["recorded_at"].hour == 8

    unsub = [*sub, "UNSUB_TIME", "UNSUB_REASON"]
    facts = MAILCHIMP.facts({**row, "UNSUB_TIME": "2024-04-02 16:45:00", "UNSUB_REASON": "NORMAL"}, unsub)
    assert facts.consent["email"]["status"] == "unsubscribed"
    assert facts.consent["email"]["recorded_at"] == datetime(2024, 4, 2, 16, 45, tzinfo=UTC)
    assert facts.consent["email"]["proof"]["unsub_reason"] == "NORMAL"

    cleaned = MAILCHIMP.facts({**row, "CLEAN_TIME": "2024-05-06 07:08:09"}, [*sub, "CLEAN_TIME"])
    assert facts.suppress is None and cleaned.consent == {}
    assert cleaned.suppress == {
        "reason": "hard_bounce",
        "detail": {"source": "mailchimp import", "clean_time": "2024-05-06 07:08:09"},
    }


def test_times_are_utc_and_in_range() -> None:
    assert parse_time("2024-01-10T10:00:00+02:00", "x") == datetime(2024, 1, 10, 8, tzinfo=UTC)
    assert parse_time("", "x") is None
    with pytest.raises(InvalidValue, match="out of range"):
        parse_time("0001-01-01T00:00:00+14:00", "since")


def test_bad_time_names_its_column() -> None:
    with pytest.raises(InvalidValue) as err:
        MAILCHIMP.facts({"OPTIN_TIME": "yesterday"}, ["Email Address", "OPTIN_TIME"])
    assert err.value.field == "OPTIN_TIME"


def test_mautic_and_hubspot_unsubscribes() -> None:
    assert MAUTIC.facts({"email": "a@x.org", "do_not_contact": ""}, ["email", "do_not_contact"]).consent == {}
    dnc = MAUTIC.facts({"email": "a@x.org", "do_not_contact": "bounced"}, ["email", "do_not_contact"])
    assert dnc.consent["email"]["status"] == "unsubscribed" and dnc.suppress is not None
    assert MAUTIC.convert("stage", "lifecycle_stage", "Marketing Qualified Lead") == "marketing_qualified_lead"
    assert HUBSPOT.facts({"Unsubscribed from all email": "false"}, []).consent == {}
    hs = HUBSPOT.facts({"Unsubscribed from all email": "true"}, [])
    assert hs.consent["email"]["status"] == "unsubscribed" and hs.consent["email"]["source"] == "hubspot import"
