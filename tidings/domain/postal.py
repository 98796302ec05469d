"""Postal address validation for letters (pure): errors name the field that is wrong.

A letter needs a recipient name, a first address line, a city, a country (ISO 3166-1 alpha-2)
and, where the country uses them, a postal code in that country's shape. Patterns cover the
countries most letters go to; other countries need a non-empty postal code unless they have none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POSTAL_PATTERNS: dict[str, tuple[str, str]] = {
    "US": (r"\d{5}(-\d{4})?", "5 digits or ZIP+4 (12345-6789)"),
    "CA": (r"[A-Z]\d[A-Z] ?\d[A-Z]\d", "A1A 1A1"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", "a UK postcode such as SW1A 1AA"),
    "DE": (r"\d{5}", "5 digits"),
    "FR": (r"\d{5}", "5 digits"),
    "IT": (r"\d{5}", "5 digits"),
    "ES": (r"\d{5}", "5 digits"),
    "NL": (r"\d{4} ?[A-Z]{2}", "4 digits and 2 letters (1234 AB)"),
    "BE": (r"\d{4}", "4 digits"),
    "AT": (r"\d{4}", "4 digits"),
    "CH": (r"\d{4}", "4 digits"),
    "DK": (r"\d{4}", "4 digits"),
    "NO": (r"\d{4}", "4 digits"),
    "SE": (r"\d{3} ?\d{2}", "5 digits (123 45)"),
    "PL": (r"\d{2}-\d{3}", "12-345"),
    "PT": (r"\d{4}-\d{3}", "1234-567"),
    "UA": (r"\d{5}", "5 digits"),
    "TH": (r"\d{5}", "5 digits"),
    "LA": (r"\d{5}", "5 digits"),
    "CN": (r"\d{6}", "6 digits"),
    "JP": (r"\d{3}-?\d{4}", "123-4567"),
    "AU": (r"\d{4}", "4 digits"),
    "IN": (r"\d{6}", "6 digits"),
    "BR": (r"\d{5}-?\d{3}", "12345-678"),
}
#: countries without postal codes (a code is then optional).
NO_POSTAL_CODE = frozenset(
    {"AE", "AO", "AG", "BS", "BZ", "BO", "HK", "IE", "JM", "QA", "SA", "SY", "TV", "UG", "ZW"}
)
MAX_LINE = 64


class AddressError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"address.{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class PostalAddress:
    name: str
    line1: str
    city: str
    country: str
    postal_code: str = ""
    line2: str = ""
    state: str = ""

    def lines(self) -> list[str]:
        """The address block as printed (postal code before or after the city by convention)."""
        city_line = (
            f"{self.city} {self.state} {self.postal_code}"
            if self.country in {"US", "CA", "AU"}
            else f"{self.postal_code} {self.city}"
        )
        return [
            x for x in (self.name, self.line1, self.line2, " ".join(city_line.split()), self.country) if x
        ]

    def summary(self) -> str:
        return ", ".join(self.lines())


def _text(raw: Mapping[str, Any], field: str, *aliases: str, required: bool = True) -> str:
    value = next((raw[k] for k in (field, *aliases) if raw.get(k) not in (None, "")), "")
    text = " ".join(str(value).split())
    if required and not text:
        raise AddressError(field, "is required")
    if len(text) > MAX_LINE:
        raise AddressError(field, f"is {len(text)} characters long; at most {MAX_LINE} fit on an envelope")
    return text


def validate_address(raw: Mapping[str, Any] | None, *, name: str | None = None) -> PostalAddress:
    """A printable address, or ``AddressError`` naming the first field that is wrong."""
    if not isinstance(raw, Mapping) or not raw:
        raise AddressError("line1", "the contact has no postal address (attributes.address)")
    full_name = _text({"name": raw.get("name") or name or ""}, "name")
    line1 = _text(raw, "line1", "address_line1", "street")
    line2 = _text(raw, "line2", "address_line2", required=False)
    city = _text(raw, "city", "address_city")
    state = _text(raw, "state", "address_state", required=False)
    country = _text(raw, "country", "address_country").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise AddressError("country", f"{country!r} is not an ISO 3166 two-letter country code (e.g. DE, US)")
    postal = _text(raw, "postal_code", "address_zip", "zip", required=False).upper()
    if not postal and country not in NO_POSTAL_CODE:
        raise AddressError("postal_code", f"is required for {country}")
    pattern = POSTAL_PATTERNS.get(country)
    if postal and pattern and not re.fullmatch(pattern[0], postal):
        raise AddressError(
            "postal_code", f"{postal!r} is not a valid postal code for {country} ({pattern[1]})"
        )
    if postal and not pattern and not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,11}", postal):
        raise AddressError("postal_code", f"{postal!r} does not look like a postal code")
    if country == "US" and not state:
        raise AddressError("state", "is required for US addresses")
    return PostalAddress(full_name, line1, city, country, postal, line2, state)
