"""Tracking tokens, link rewriting and machine detection (pure functions)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from tidings.channels import tracking as t

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "s3cret"


def test_round_trip_and_kinds() -> None:
    tok = t.make_token(SECRET, t.CLICK, 123456789, 7, NOW)
    got = t.read_token(SECRET, tok, t.CLICK, NOW + timedelta(days=1))
    assert (got.a, got.b) == (123456789, 7)
    with pytest.raises(t.BadToken, match="another purpose"):
        t.read_token(SECRET, tok, t.UNSUBSCRIBE, NOW)
    with pytest.raises(t.BadToken):
        t.read_token("other-secret", tok, t.CLICK, NOW)


def test_every_single_bit_flip_is_rejected() -> None:
    tok = t.make_token(SECRET, t.OPEN, 42, 0, NOW)
    raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(t.BadToken):
            t.read_token(SECRET, forged, t.OPEN, NOW)


@pytest.mark.parametrize("junk", ["", "x", "!!!!", "A" * 46, "A" * 400])
def test_junk_is_rejected(junk: str) -> None:
    with pytest.raises(t.BadToken):
        t.read_token(SECRET, junk, t.CLICK, NOW)


def test_expiry() -> None:
    tok = t.make_token(SECRET, t.CLICK, 1, 0, NOW, ttl=timedelta(hours=1))
    t.read_token(SECRET, tok, t.CLICK, NOW + timedelta(minutes=59))
    with pytest.raises(t.ExpiredToken):
        t.read_token(SECRET, tok, t.CLICK, NOW + timedelta(hours=1))


def test_tokens_for_neighbouring_ids_share_nothing_guessable() -> None:
    a, b = t.make_token(SECRET, t.CLICK, 1, 0, NOW), t.make_token(SECRET, t.CLICK, 2, 0, NOW)
    assert a[-22:] != b[-22:]  # the MAC part differs entirely


def test_rewrite_links_keeps_our_own_and_non_web_links() -> None:
    html = (
        "<html><body><a href=\"https://shop.example.com/x?a=1&amp;b=2\">A</a> <a href='https://shop.example.com/x?a=1&amp;b=2'>"
        'again</a> <a href="mailto:x@y.z">mail</a> <a class="c" href="http://t.example.com/u/tok">unsub</a>'
        "</body></html>"
    )
    out, links = t.rewrite_links(html, secret=SECRET, outbox_id=9, public_url="http://t.example.com", now=NOW)
    assert links == ["https://shop.example.com/x?a=1&b=2"]
    assert out.count("http://t.example.com/t/c/") == 2
    assert 'href="mailto:x@y.z"' in out and 'href="http://t.example.com/u/tok"' in out
    assert out.index("/t/o/") < out.index("</body>")


@pytest.mark.parametrize(
    ("kind", "ua", "ip", "age_s", "machine"),
    [
        (t.CLICK, "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36", "203.0.113.9", 600, None),
        (
            t.CLICK,
            "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36",
            "203.0.113.9",
            3,
            "within 10s of sending",
        ),
        (t.CLICK, "Mozilla/5.0 (compatible; proofpoint urldefense)", None, 600, "link scanner user agent"),
        (t.CLICK, "", None, 600, "no user agent"),
        (t.OPEN, "Mozilla/5.0", "203.0.113.9", 600, "apple mail privacy protection"),
        (
            t.OPEN,
            "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148",
            "17.58.1.2",
            600,
            "apple mail privacy protection",
        ),
        (
            t.OPEN,
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            None,
            600,
            "mail provider image proxy",
        ),
        (t.OPEN, "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148", "198.51.100.7", 600, None),
    ],
)
def test_machine_detection(kind: bytes, ua: str, ip: str | None, age_s: int, machine: str | None) -> None:
    assert t.machine_reason(kind, ua, ip, NOW, NOW + timedelta(seconds=age_s)) == machine
