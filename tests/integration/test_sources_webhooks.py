"""Vendor sources over HTTP: /api/sources, signed webhooks in, idempotency, cart abandonment."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tidings.application.sources.abandonment import abandon_due
from tidings.bootstrap import Container
from tidings.domain.vendors import signatures as sig
from tidings.store import schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def events(engine: sa.Engine) -> list[tuple[str, dict[str, Any], str | None]]:
    e, c = schema.events, schema.contacts
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.name, e.c.properties, c.c.email).join(c, c.c.id == e.c.contact_id)
            .where(~e.c.name.like("contact.%"), ~e.c.name.like("consent.%")).order_by(e.c.id)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def add(api: Any, vendor: str, secret: str | None = None, **extra: Any) -> dict[str, Any]:
    r = api.post("/api/sources", json={"vendor": vendor, **({"secret": secret} if secret else {}), **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def shopify(api: Any, path: str, secret: str, topic: str, body: bytes, webhook_id: str) -> Any:
    return api.post(path, content=body, headers={
        "X-Shopify-Hmac-Sha256": sig.base64_hmac(secret, body), "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id, "Content-Type": "application/json"})


def stripe(api: Any, path: str, secret: str, body: bytes, stamp: int | None = None) -> Any:
    t = int(time.time()) if stamp is None else stamp
    return api.post(path, content=body, headers={
        "Stripe-Signature": f"t={t},v1={sig.stripe_signature(secret, t, body)}", "Content-Type": "application/json"})


def test_sources_api_generates_a_secret_shown_once_and_lists_none(api: Any) -> None:
    made = add(api, "shopify", name="main shop")
    assert made["secret_shown_once"] is True and made["secret"].startswith("whsec_")
    assert made["webhook_path"] == f"/webhooks/shopify/{made['id']}"
    listed = api.get("/api/sources").json()["items"]
    assert [s["id"] for s in listed] == [made["id"]]
    assert made["secret"] not in str(listed)
    assert api.post("/api/sources", json={"vendor": "shopify", "name": "main shop"}).status_code == 409
    bad = api.post("/api/sources", json={"vendor": "paypal"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "vendor"]
    assert api.delete(f"/api/sources/{made['id']}").status_code == 200
    assert api.delete(f"/api/sources/{made['id']}").status_code == 404


def test_shopify_signed_order_stored_once_forged_refused(api: Any, engine: sa.Engine) -> None:
    src = add(api, "shopify", "shpss_test_secret")
    path = src["webhook_path"]
    body = fixture("shopify_orders_create")
    forged = shopify(api, path, "not-the-secret", "orders/create", body, "w-1")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    assert events(engine) == []
    first = shopify(api, path, "shpss_test_secret", "orders/create", body, "w-1")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "stored" and first.json()["accepted"] == 2  # identify + order
    again = shopify(api, path, "shpss_test_secret", "orders/create", body, "w-1")  # Shopify's retry
    paid = shopify(api, path, "shpss_test_secret", "orders/paid", body, "w-2")  # the same purchase, paid
    assert again.json()["duplicates"] == 1 and paid.json()["duplicates"] == 1
    [(name, props, email)] = events(engine)
    assert name == "order.completed" and email == "bob.norman@mail.example.com"
    assert props["revenue"] == 403.0 and props["currency"] == "USD"
    # the refund names only the order: it lands on the order's contact
    refund = shopify(api, path, "shpss_test_secret", "refunds/create", fixture("shopify_refunds_create"), "w-3")
    assert refund.status_code == 200, refund.text
    assert events(engine)[-1][0] == "order.refunded" and events(engine)[-1][2] == "bob.norman@mail.example.com"
    # an unknown topic: 200, ignored, nothing stored; the URL without the id finds the source too
    ignored = shopify(api, "/webhooks/shopify", "shpss_test_secret", "products/update", body, "w-4")
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert len(events(engine)) == 2
    # a body that is not what Shopify documents: 422, nothing stored
    broken = shopify(api, path, "shpss_test_secret", "orders/create", b'{"id": 5, "email": "a@b.example"}', "w-5")
    assert broken.status_code == 422 and len(events(engine)) == 2
    # oversized: 413 before any check
    huge = shopify(api, path, "shpss_test_secret", "orders/create", b" " * (1024 * 1024 + 1), "w-6")
    assert huge.status_code == 413
    assert api.post("/webhooks/paypal", content=b"{}").status_code == 404


def test_shopify_customer_consent(api: Any, engine: sa.Engine) -> None:
    src = add(api, "shopify", "shpss_test_secret")
    r = shopify(api, src["webhook_path"], "shpss_test_secret", "customers/create", fixture("shopify_customers_create"),
                "w-9")
    assert r.status_code == 200, r.text
    k, c = schema.consents, schema.contacts
    with engine.connect() as conn:
        row = conn.execute(sa.select(k).join(c, c.c.id == k.c.contact_id)
                           .where(c.c.email == "bob@biller.example.com")).mappings().one()
    assert row["channel"] == "email" and row["status"] == "granted"
    assert row["proof"]["opt_in_level"] == "confirmed_opt_in"


def test_checkout_quiet_period_abandons_unless_ordered(api: Any, engine: sa.Engine, container: Container) -> None:
    src = add(api, "shopify", "shpss_test_secret", abandon_after_minutes=30)
    path = src["webhook_path"]
    checkout = fixture("shopify_checkouts_create")
    assert shopify(api, path, "shpss_test_secret", "checkouts/create", checkout, "c-1").status_code == 200
    other = checkout.replace(b"bd5a8aa1ecd019dd3520ff791ee3a24c", b"0000aa1ecd019dd3520ff791ee3a2400") \
        .replace(b"bob.norman@mail.example.com", b"ann@shop.example")
    assert shopify(api, path, "shpss_test_secret", "checkouts/create", other, "c-2").status_code == 200
    # Bob orders (his checkout completes); Ann goes quiet
    assert shopify(api, path, "shpss_test_secret", "orders/create", fixture("shopify_orders_create"), "o-1") \
        .status_code == 200
    now = container.clock.now()
    assert abandon_due(container.intake, now + timedelta(minutes=29)) == 0
    assert container.due_checkouts(now + timedelta(minutes=31)) == 1
    assert abandon_due(container.intake, now + timedelta(minutes=31)) == 1
    assert abandon_due(container.intake, now + timedelta(minutes=90)) == 0  # once per checkout
    abandoned = [(p, e) for n, p, e in events(engine) if n == "cart.abandoned"]
    assert len(abandoned) == 1 and abandoned[0][1] == "ann@shop.example"
    assert abandoned[0][0]["cart_url"].startswith("https://checkout.local/") and abandoned[0][0]["total"] == 398.0


def test_stripe_replays_stale_and_rolling_secrets(api: Any, engine: sa.Engine) -> None:
    src = add(api, "stripe", "whsec_test_secret")
    path = src["webhook_path"]
    body = fixture("stripe_checkout_session_completed")
    stale = stripe(api, path, "whsec_test_secret", body, int(time.time()) - 301)
    assert stale.status_code == 401 and events(engine) == []
    ok = stripe(api, path, "whsec_test_secret", body)
    assert ok.status_code == 200, ok.text
    replay = stripe(api, path, "whsec_test_secret", body)  # a new signature, the same event id
    assert replay.json()["duplicates"] == 1
    sub = stripe(api, path, "whsec_test_secret", fixture("stripe_customer_subscription_created"))
    assert sub.status_code == 200, sub.text
    names = [(n, e) for n, _, e in events(engine)]
    jenny = "jenny.rosen@example.com"
    assert names == [("order.completed", jenny), ("subscription.created", jenny)]


def test_zoom_url_validation_needs_the_signature(api: Any, engine: sa.Engine) -> None:
    src = add(api, "zoom", "zoom-secret-token")
    body = fixture("zoom_url_validation")
    ts = str(int(time.time()))
    unsigned = api.post(src["webhook_path"], content=body)
    assert unsigned.status_code == 401
    r = api.post(src["webhook_path"], content=body, headers={
        "x-zm-request-timestamp": ts, "x-zm-signature": sig.zoom_signature("zoom-secret-token", ts, body)})
    assert r.status_code == 200
    assert r.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                        "encryptedToken": sig.zoom_validation_token("zoom-secret-token", "qgg8vlvZRS6UYooatFL8Aw")}
    reg = fixture("zoom_webinar_registration_created")
    r = api.post(src["webhook_path"], content=reg, headers={
        "x-zm-request-timestamp": ts, "x-zm-signature": sig.zoom_signature("zoom-secret-token", ts, reg)})
    assert r.status_code == 200, r.text
    assert events(engine)[0][0] == "webinar.registered"


def test_woocommerce_order(api: Any, engine: sa.Engine) -> None:
    src = add(api, "woocommerce", "wc-secret-123")
    body = fixture("woocommerce_order_updated")
    headers = {"X-WC-Webhook-Signature": sig.base64_hmac("wc-secret-123", body), "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Delivery-ID": "36e520ebabc2fa725092ff4a47acedf2"}
    assert api.post(src["webhook_path"], content=body, headers=headers).status_code == 200
    assert api.post(src["webhook_path"], content=body, headers=headers).json()["duplicates"] == 1
    [(name, props, email)] = events(engine)
    assert (name, props["revenue"], email) == ("order.completed", 29.35, "john.doe@example.com")


def test_one_url_for_several_sources_and_removed_sources_are_refused(api: Any, engine: sa.Engine) -> None:
    eu = add(api, "stripe", "whsec_eu_secret", name="eu")
    us = add(api, "stripe", "whsec_us_secret", name="us")
    body = fixture("stripe_invoice_paid")
    r = stripe(api, "/webhooks/stripe", "whsec_us_secret", body)
    assert r.status_code == 200 and r.json()["source_id"] == us["id"]
    # a source's own URL accepts only its own secret
    assert stripe(api, eu["webhook_path"], "whsec_us_secret", body).status_code == 401
    assert api.delete(f"/api/sources/{us['id']}").status_code == 200
    assert stripe(api, "/webhooks/stripe", "whsec_us_secret", body).status_code == 401
    assert stripe(api, us["webhook_path"], "whsec_us_secret", body).status_code == 401
    assert [n for n, _, _ in events(engine)] == ["order.completed"]
