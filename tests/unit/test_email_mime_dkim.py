"""Email bytes and DKIM signatures, checked with the stdlib parser and dkimpy's verifier."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from functools import cache

import dkim
import pytest

from tidings.channels import mime
from tidings.channels.dkim import DkimSigner, generate_key, relaxed_body

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UNSUB = {
    "List-Unsubscribe": "<https://t.example.com/u/abc>, <mailto:unsubscribe@shop.example.com?subject=u-abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@cache
def signer() -> DkimSigner:
    return DkimSigner.from_pem("shop.example.com", "s1", generate_key())


def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
    assert name == b"s1._domainkey.shop.example.com."
    return signer().public_dns_record().encode()


def build(**kw: object) -> bytes:
    args: dict[str, object] = dict(
        sender="Shöp Ünïcode <news@shop.example.com>",
        recipient="ann@example.org",
        subject="Héllo Ann — a long subject line that must be folded " * 2,
        message_id="42.abcdef@shop.example.com",
        date=NOW,
        text="Hello  Ann,\n\nline with trailing space \n= sign\n.leading dot\n",
        html="<p>Héllo <b>Ann</b></p>" * 30,
        extra=UNSUB,
        reply_to="help@shop.example.com",
    )
    args.update(kw)
    headers, body = mime.build_email(**args)  # type: ignore[arg-type]
    return mime.serialise([signer().sign(headers, body), *headers], body)


def test_multipart_round_trips_through_the_stdlib_parser() -> None:
    msg = message_from_bytes(build(), policy=policy.default)
    assert msg["Subject"] == "Héllo Ann — a long subject line that must be folded " * 2
    assert str(msg["From"]) == "Shöp Ünïcode <news@shop.example.com>"
    assert msg["Message-ID"] == "<42.abcdef@shop.example.com>"
    assert msg["Reply-To"] == "help@shop.example.com"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n") == "Hello  Ann,\n\nline with trailing space \n= sign\n.leading dot\n"
    assert msg.get_body(("html",)).get_content().startswith("<p>Héllo <b>Ann</b></p>")  # type: ignore[union-attr]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_every_line_ends_with_crlf_and_stays_short() -> None:
    raw = build()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_dkim_signature_verifies_and_covers_list_unsubscribe() -> None:
    raw = build()
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    sig = message_from_bytes(raw)["DKIM-Signature"]
    signed = sig.split("h=", 1)[1].split(";", 1)[0].replace("\r\n", "").replace(" ", "").split(":")
    assert {"from", "to", "subject", "message-id", "list-unsubscribe", "list-unsubscribe-post"} <= set(signed)


@pytest.mark.parametrize(
    "tamper",
    [
        (
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"List-Unsubscribe-Post: List-Unsubscribe=Nope",
        ),
        (b"Hello  Ann", b"Hello  Bob"),
        (b"To: ann@example.org", b"To: eve@example.org"),
    ],
)
def test_tampering_breaks_the_signature(tamper: tuple[bytes, bytes]) -> None:
    raw = build()
    assert tamper[0] in raw
    assert not dkim.verify(raw.replace(tamper[0], tamper[1]), dnsfunc=dnsfunc)


def test_text_only_and_html_only_messages_verify() -> None:
    for kw in ({"html": None}, {"text": None}):
        raw = build(**kw)
        assert dkim.verify(raw, dnsfunc=dnsfunc)
        assert b"multipart" not in raw.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("field", ["subject", "recipient", "sender"])
def test_header_injection_is_refused(field: str) -> None:
    with pytest.raises(ValueError):
        build(**{field: "x@example.org\r\nBcc: victim@example.org"})


def test_relaxed_body_canonicalisation() -> None:
    assert relaxed_body(b"a  b \t\r\nc\r\n\r\n\r\n") == b"a b\r\nc\r\n"
    assert relaxed_body(b"") == b""
    assert relaxed_body(b"\r\n\r\n") == b""


def test_long_list_unsubscribe_folds_between_uris_and_round_trips() -> None:
    long_value = (
        "<https://tracking.shop.example.com/u/"
        + "A" * 46
        + ">, <mailto:unsubscribe@shop.example.com?subject="
        "unsubscribe-" + "A" * 46 + ">"
    )
    raw = build(extra={"List-Unsubscribe": long_value, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    assert b"List-Unsubscribe: <https://" in raw  # the first line carries the first URI, not a bare fold
    assert message_from_bytes(raw, policy=policy.default)["List-Unsubscribe"] == long_value
    assert dkim.verify(raw, dnsfunc=dnsfunc)
