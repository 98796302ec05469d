"""Pure contact rules: identifiers, traits, attribute merges, event values, CSV cells."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.contacts import (
    InvalidValue,
    event_value,
    merge_attributes,
    neutralise_cell,
    normalise_email,
    normalise_field,
    normalise_locale,
    normalise_phone,
    normalise_timezone,
    split_traits,
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (" Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("bob+tag@sub.example.org", "bob+tag@sub.example.org"),
        ("kim@shop.test", "kim@shop.test"),
        ("josé@exämple.com", "josé@exämple.com"),
    ],
)
def test_email_normalised(raw: str, want: str) -> None:
    assert normalise_email(raw) == want


@pytest.mark.parametrize(
    "raw", ["", "plain", "a@", "@b.com", "a b@c.com", "a@b..com", "x@y.invalid", "a@localhost"]
)
def test_email_invalid(raw: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        normalise_email(raw)
    assert exc.value.field == "email"


@pytest.mark.parametrize(
    ("raw", "region", "want"),
    [
        ("+1 (415) 555-0132", None, "+14155550132"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("+66 2 123 4567", None, "+6621234567"),
    ],
)
def test_phone_e164(raw: str, region: str | None, want: str) -> None:
    assert normalise_phone(raw, region) == want


@pytest.mark.parametrize("raw", ["12", "4155550132", "+1 555", "phone", "+999 123456"])
def test_phone_invalid(raw: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        normalise_phone(raw)
    assert exc.value.field == "phone"


def test_timezone_and_locale() -> None:
    assert normalise_timezone("Europe/Berlin") == "Europe/Berlin"
    assert normalise_timezone("asia/bangkok") == "Asia/Bangkok"
    assert normalise_timezone("UTC") == "UTC"
    with pytest.raises(InvalidValue):
        normalise_timezone("Mars/Olympus")
    assert normalise_locale("pt_br") == "pt-BR"
    assert normalise_locale("EN") == "en"
    assert normalise_locale("zh-hant-tw") == "zh-Hant-TW"
    with pytest.raises(InvalidValue):
        normalise_locale("english please")


def test_fields() -> None:
    assert normalise_field("score", "12.5") == 12.5
    assert normalise_field("score", None) == 0.0
    assert normalise_field("first_name", "  Ann ") == "Ann"
    assert normalise_field("email", "") is None
    with pytest.raises(InvalidValue):
        normalise_field("score", "nan")
    with pytest.raises(InvalidValue):
        normalise_field("first_name", {"a": 1})
    with pytest.raises(InvalidValue):
        normalise_field("last_name", "x" * 201)


def test_split_traits() -> None:
    std, attrs = split_traits(
        {
            "email": "a@b.co",
            "firstName": "Ann",
            "Last Name": "Lee",
            "phone_number": "+1",
            "plan": "pro",
            "address": {"city": "Oslo"},
        }
    )
    assert std == {"email": "a@b.co", "first_name": "Ann", "last_name": "Lee", "phone": "+1"}
    assert attrs == {"plan": "pro", "address": {"city": "Oslo"}}
    std, attrs = split_traits({"name": "Grace Brewster Hopper"})
    assert std == {"first_name": "Grace", "last_name": "Brewster Hopper"}
    assert attrs == {"name": "Grace Brewster Hopper"}
    # a userId trait never overrides the identity
    std, attrs = split_traits({"userId": "x"})
    assert std == {} and attrs == {"userId": "x"}


def test_merge_attributes() -> None:
    assert merge_attributes(
        {"a": 1, "b": {"x": 1, "y": 2}}, {"a": None, "b": {"y": None, "z": 3}, "c": [1]}
    ) == {"b": {"x": 1, "z": 3}, "c": [1]}


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=8))
def test_merge_with_itself_is_identity(d: dict[str, object]) -> None:
    assert merge_attributes(d, d) == d
    assert merge_attributes({}, d) == d


def test_event_value() -> None:
    assert event_value({"revenue": 12.5, "value": 3}) == 12.5
    assert event_value({"total": "19.90"}) == 19.9
    assert event_value({"score": 9}) == 9.0
    assert event_value({"revenue": True, "value": "n/a"}) is None
    assert event_value({}) is None


@pytest.mark.parametrize(
    ("cell", "want"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("ok", "ok"),
        ("a=b", "a=b"),
        (None, ""),
        (-5, "-5"),
        (1.5, "1.5"),
    ],
)
def test_neutralise_cell(cell: object, want: str) -> None:
    assert neutralise_cell(cell) == want


@given(st.from_regex(r"[a-zA-Z0-9.+_'-]{1,12}@[a-z0-9.-]{1,10}\.(com|io|x|test|local|onion)", fullmatch=True))
def test_fast_email_path_agrees_with_email_validator(address: str) -> None:
    """The fast pattern for plain addresses must accept exactly what email-validator accepts."""
    from email_validator import EmailNotValidError, validate_email

    from tidings.domain.contacts import _simple_email

    fast = _simple_email(address)
    if fast is None:
        return
    try:
        full = validate_email(address, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        raise AssertionError(f"fast path accepted {address!r}, email-validator rejects it") from None
    assert fast == full.lower()
