"""The vendors' webhook signatures, as pure functions (keys: the source's secret).

- Shopify: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(secret, raw body)).
- WooCommerce: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret, raw body)).
- Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``, v1 = hex(HMAC-SHA256(secret,
  "<t>.<raw body>")); refused when ``t`` is more than ``tolerance`` seconds from now (replays);
  any one of several ``v1`` values may match (secret rolling).
- Zoom: ``x-zm-signature: v0=<hex>`` = hex(HMAC-SHA256(secret, "v0:<x-zm-request-timestamp>:<raw
  body>")), with the same timestamp tolerance; the URL validation answer is
  hex(HMAC-SHA256(secret, plainToken)).
- Meta (lead ads): ``X-Hub-Signature-256: sha256=<hex>`` = hex(HMAC-SHA256(app secret, raw body)).
  No timestamp is signed: a replayed delivery is harmless because leads are stored once per lead
  id. The subscription check (``hub.verify_token``) is answered with :func:`meta_verify_token`.
- Google (lead form extensions): the body's ``google_key`` equals the key set on the form (the
  source's secret); a replay is stored once per ``lead_id`` likewise.

Every comparison is constant time. ``verify`` answers None when the delivery is authentic, or the
reason it is not (for the log; the HTTP answer is a plain 401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime

#: seconds a signed timestamp may be away from our clock (Stripe's and Zoom's default)
TOLERANCE = 300


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def base64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(_mac(secret, body)).decode()


def shopify_valid(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(base64_hmac(secret, body), (header or "").strip())


woocommerce_valid = shopify_valid


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    return _mac(secret, str(timestamp).encode() + b"." + body).hex()


def stripe_check(
    secret: str, body: bytes, header: str | None, now: datetime, tolerance: int = TOLERANCE
) -> str | None:
    if not header:
        return "no Stripe-Signature header"
    stamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                stamp = int(value)
            except ValueError:
                return "Stripe-Signature: t is not a number"
        elif key == "v1":
            candidates.append(value)
    if stamp is None or not candidates:
        return "Stripe-Signature needs t= and v1="
    expected = stripe_signature(secret, stamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        return "no v1 signature matches"
    if abs(now.timestamp() - stamp) > tolerance:
        return f"timestamp {stamp} is more than {tolerance} s away from now"
    return None


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + _mac(secret, b"v0:" + timestamp.encode() + b":" + body).hex()


def zoom_check(
    secret: str, body: bytes, timestamp: str | None, header: str | None, now: datetime, tolerance: int = TOLERANCE
) -> str | None:
    if not timestamp or not header:
        return "x-zm-signature and x-zm-request-timestamp are required"
    if not hmac.compare_digest(zoom_signature(secret, timestamp, body), header.strip()):
        return "x-zm-signature does not match"
    try:
        stamp = int(timestamp)
    except ValueError:
        return "x-zm-request-timestamp is not a number"
    seconds = stamp / 1000 if stamp > 10**11 else stamp
    if abs(now.timestamp() - seconds) > tolerance:
        return f"timestamp {timestamp} is more than {tolerance} s away from now"
    return None


def zoom_validation_token(secret: str, plain_token: str) -> str:
    return _mac(secret, plain_token.encode()).hex()


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _mac(secret, body).hex()


def meta_valid(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(meta_signature(secret, body), (header or "").strip().lower())


def meta_verify_token(secret: str) -> str:
    """The verify token to type into Meta's webhook settings, derived from the app secret (so the
    secret itself never travels in a query string)."""
    return "tv_" + _mac(secret, b"tidings meta-leads verify token").hex()[:32]


def google_key_valid(secret: str, body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    key = payload.get("google_key") if isinstance(payload, dict) else None
    return isinstance(key, str) and hmac.compare_digest(key.encode(), secret.encode())


def verify(vendor: str, secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> str | None:
    """None when the delivery is signed with ``secret``; else why not. ``headers`` keys are lower case."""
    if vendor == "shopify":
        ok = shopify_valid(secret, body, headers.get("x-shopify-hmac-sha256"))
        return None if ok else "bad X-Shopify-Hmac-Sha256"
    if vendor == "woocommerce":
        ok = woocommerce_valid(secret, body, headers.get("x-wc-webhook-signature"))
        return None if ok else "bad X-WC-Webhook-Signature"
    if vendor == "stripe":
        return stripe_check(secret, body, headers.get("stripe-signature"), now)
    if vendor == "zoom":
        return zoom_check(secret, body, headers.get("x-zm-request-timestamp"), headers.get("x-zm-signature"), now)
    if vendor == "meta-leads":
        return None if meta_valid(secret, body, headers.get("x-hub-signature-256")) else "bad X-Hub-Signature-256"
    if vendor == "google-leads":
        return None if google_key_valid(secret, body) else "google_key does not match"
    return f"unknown vendor {vendor!r}"
