"""Ad-audience normalisation and hashing as Meta and Google document it; the consent rule."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.audiences.eligibility import AudienceRow, Member, audience_row
from tidings.domain.audiences.hashing import (
    COLUMNS,
    PLATFORMS,
    hashed_email,
    hashed_phone,
    normalise_email,
    normalise_phone_for,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_meta_email_and_phone_as_meta_documents() -> None:
    assert normalise_email("meta", "  John.Doe@Gmail.COM ") == "john.doe@gmail.com"  # Meta keeps the dots
    assert hashed_email("meta", " Alice@Example.com") == sha("alice@example.com")
    assert normalise_phone_for("meta", "+1 (650) 253-0000") == "16502530000"
    assert normalise_phone_for("meta", "0044 20 7946 0958") == "442079460958"
    assert hashed_phone("meta", "+16502530000") == sha("16502530000")


def test_google_email_drops_gmail_dots_and_phone_keeps_plus() -> None:
    assert normalise_email("google", " John.Doe@Gmail.COM") == "johndoe@gmail.com"
    assert normalise_email("google", "j.o.e@googlemail.com") == "joe@googlemail.com"
    assert normalise_email("google", "john.doe@example.com") == "john.doe@example.com"
    assert normalise_phone_for("google", "+1 650-253-0000") == "+16502530000"
    assert hashed_phone("google", "16502530000") == sha("+16502530000")


def test_unusable_values_give_no_hash() -> None:
    for platform in PLATFORMS:
        assert hashed_email(platform, "not an email") is None
        assert hashed_email(platform, None) is None
        assert hashed_phone(platform, "0170 1234567") is None  # national: country unknown, never guessed
        assert hashed_phone(platform, "+1 123") is None
    assert normalise_email("google", "...@gmail.com") is None


def test_column_headers_per_platform() -> None:
    assert (COLUMNS["meta"].email, COLUMNS["meta"].phone) == ("email", "phone")
    assert (COLUMNS["google"].email, COLUMNS["google"].phone) == ("Email", "Phone")


local = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcxyz0189"),
    st.text(alphabet="abcxyz0189._+-", max_size=20),
)
domains = st.sampled_from(["gmail.com", "googlemail.com", "example.com", "mail.example.org"])
platforms = st.sampled_from(PLATFORMS)
spaces = st.sampled_from(["", " ", "\t", "  \n"])


@given(platforms, local, domains, spaces, spaces)
def test_email_normalisation_is_idempotent_and_equivalents_hash_equal(
    platform: str, user: str, domain: str, before: str, after: str
) -> None:
    plain = f"{user}@{domain}"
    norm = normalise_email(platform, plain)  # type: ignore[arg-type]
    if norm is None:
        return
    assert normalise_email(platform, norm) == norm  # type: ignore[arg-type]
    variant = before + plain.upper() + after
    assert hashed_email(platform, variant) == hashed_email(platform, plain) == sha(norm)  # type: ignore[arg-type]


@given(platforms, st.sampled_from(["+1650253", "+44207946", "+49301234", "+3314527"]),
       st.integers(min_value=0, max_value=9999), st.sampled_from(["", " ", "-", "(", ")"]))
def test_phone_normalisation_is_idempotent_and_formatting_does_not_matter(
    platform: str, prefix: str, tail: int, sep: str
) -> None:
    number = prefix + f"{tail:04d}"
    norm = normalise_phone_for(platform, number)  # type: ignore[arg-type]
    if norm is None:
        return
    assert normalise_phone_for(platform, norm) == norm  # type: ignore[arg-type]
    spaced = number[:3] + sep + number[3:6] + sep + number[6:]
    assert hashed_phone(platform, spaced) == hashed_phone(platform, number) == sha(norm)  # type: ignore[arg-type]
    assert norm.startswith("+") == (platform == "google")


def member(consents: dict[str, str], suppressed: bool = False, email: str | None = "a@example.com",
           phone: str | None = None) -> Member:
    return Member(1, email, phone, consents, suppressed)


def test_only_consenting_unsuppressed_contacts_are_rows() -> None:
    assert isinstance(audience_row("meta", member({"email": "granted"})), AudienceRow)
    assert isinstance(audience_row("meta", member({"sms": "granted"}, phone="+16502530000", email=None)), AudienceRow)
    assert audience_row("meta", member({})) == "no_consent"
    assert audience_row("meta", member({"email": "pending"})) == "no_consent"
    assert audience_row("meta", member({"email": "granted", "sms": "unsubscribed"})) == "no_consent"
    assert audience_row("meta", member({"email": "granted"}, suppressed=True)) == "no_consent"
    assert audience_row("google", member({"email": "granted"}, email=None)) == "no_identifier"
    row = audience_row("google", member({"email": "granted"}, phone="+16502530000"))
    assert isinstance(row, AudienceRow) and row.hashes() == (sha("a@example.com"), sha("+16502530000"))
