"""Address validation names the field that is wrong."""

from __future__ import annotations

import pytest

from tidings.domain.postal import AddressError, validate_address

GOOD = {"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115", "country": "de"}


def test_valid_address_prints_in_country_order() -> None:
    a = validate_address(GOOD, name="Anna Schmidt")
    assert a.country == "DE"
    assert a.lines() == ["Anna Schmidt", "Hauptstr. 5", "10115 Berlin", "DE"]
    us = validate_address(
        {
            "name": "Al",
            "line1": "1 Main St",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701-1234",
            "country": "US",
        }
    )
    assert us.lines()[2] == "Springfield IL 62701-1234"
    assert validate_address({**GOOD, "country": "IE", "postal_code": ""}, name="x").postal_code == ""


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"line1": ""}, "line1", "is required"),
        ({"city": None}, "city", "is required"),
        ({"country": ""}, "country", "is required"),
        ({"country": "Germany"}, "country", "two-letter"),
        ({"postal_code": ""}, "postal_code", "required for DE"),
        ({"postal_code": "1234"}, "postal_code", "not a valid postal code for DE (5 digits)"),
        ({"line1": "x" * 80}, "line1", "at most 64"),
        ({"country": "US", "postal_code": "12345"}, "state", "required for US"),
    ],
)
def test_errors_name_the_field(patch: dict, field: str, words: str) -> None:
    with pytest.raises(AddressError) as info:
        validate_address({**GOOD, **patch}, name="Anna")
    assert info.value.field == field
    assert str(info.value).startswith(f"address.{field}: ")
    assert words in str(info.value)


def test_missing_name_and_missing_address() -> None:
    with pytest.raises(AddressError, match="address.name: is required"):
        validate_address(GOOD)
    with pytest.raises(AddressError, match="no postal address"):
        validate_address(None, name="x")
