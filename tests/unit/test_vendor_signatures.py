"""Vendor webhook signatures (domain/vendors/signatures.py), as each vendor documents them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.vendors import signatures as sig

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_test_webhook","object":"event"}'


def test_shopify_is_base64_hmac_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(b"hush", BODY, hashlib.sha256).digest()).decode()
    assert sig.verify("shopify", "hush", {"x-shopify-hmac-sha256": expected}, BODY, NOW) is None
    assert sig.verify("shopify", "hush", {"x-shopify-hmac-sha256": expected}, BODY + b" ", NOW) is not None
    assert sig.verify("shopify", "other", {"x-shopify-hmac-sha256": expected}, BODY, NOW) is not None
    assert sig.verify("shopify", "hush", {}, BODY, NOW) is not None


def test_woocommerce_uses_its_own_header() -> None:
    good = sig.base64_hmac("wc-secret", BODY)
    assert sig.verify("woocommerce", "wc-secret", {"x-wc-webhook-signature": good}, BODY, NOW) is None
    assert sig.verify("woocommerce", "wc-secret", {"x-shopify-hmac-sha256": good}, BODY, NOW) is not None


def test_stripe_signs_timestamp_dot_body_and_accepts_any_v1() -> None:
    v1 = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sig.stripe_signature(SECRET, T, BODY) == v1
    assert sig.stripe_check(SECRET, BODY, f"t={T},v1={v1}", NOW) is None
    # secret rolling: several v1 values (and a v0 test-mode one) may come; one match is enough
    assert sig.stripe_check(SECRET, BODY, f"t={T},v1={'0' * 64},v0=abc,v1={v1}", NOW) is None
    assert sig.stripe_check(SECRET, BODY, f"t={T},v1={'0' * 64}", NOW) == "no v1 signature matches"
    assert sig.stripe_check(SECRET, BODY, f"t={T + 1},v1={v1}", NOW) == "no v1 signature matches"
    assert sig.stripe_check(SECRET, BODY, f"v1={v1}", NOW) is not None
    assert sig.stripe_check(SECRET, BODY, None, NOW) is not None


def test_stripe_refuses_stale_and_future_timestamps() -> None:
    for stamp in (T - 301, T + 301):
        header = f"t={stamp},v1={sig.stripe_signature(SECRET, stamp, BODY)}"
        reason = sig.stripe_check(SECRET, BODY, header, NOW)
        assert reason is not None and "300 s" in reason
    edge = T - 300
    assert sig.stripe_check(SECRET, BODY, f"t={edge},v1={sig.stripe_signature(SECRET, edge, BODY)}", NOW) is None


def test_zoom_signs_v0_timestamp_body_and_answers_the_validation() -> None:
    ts = str(T)
    expected = "v0=" + hmac.new(b"zoom-token", f"v0:{ts}:".encode() + BODY, hashlib.sha256).hexdigest()
    headers = {"x-zm-request-timestamp": ts, "x-zm-signature": expected}
    assert sig.verify("zoom", "zoom-token", headers, BODY, NOW) is None
    assert sig.verify("zoom", "zoom-token", headers | {"x-zm-request-timestamp": str(T + 1)}, BODY, NOW) is not None
    old = str(T - 3600)
    stale = {"x-zm-request-timestamp": old, "x-zm-signature": sig.zoom_signature("zoom-token", old, BODY)}
    assert "300 s" in (sig.verify("zoom", "zoom-token", stale, BODY, NOW) or "")
    token = hmac.new(b"zoom-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert sig.zoom_validation_token("zoom-token", "qgg8vlvZRS6UYooatFL8Aw") == token


@given(st.binary(max_size=200), st.text(min_size=8, max_size=40), st.integers(0, 199), st.integers(1, 255))
def test_any_altered_byte_breaks_every_signature(body: bytes, secret: str, at: int, flip: int) -> None:
    if not body:
        body = b"{}"
    at %= len(body)
    altered = body[:at] + bytes([body[at] ^ flip]) + body[at + 1:]
    shopify = {"x-shopify-hmac-sha256": sig.base64_hmac(secret, body)}
    stripe = {"stripe-signature": f"t={T},v1={sig.stripe_signature(secret, T, body)}"}
    zoom = {"x-zm-request-timestamp": str(T), "x-zm-signature": sig.zoom_signature(secret, str(T), body)}
    for vendor, headers in (("shopify", shopify), ("stripe", stripe), ("zoom", zoom)):
        assert sig.verify(vendor, secret, headers, body, NOW) is None
        assert sig.verify(vendor, secret, headers, altered, NOW) is not None
