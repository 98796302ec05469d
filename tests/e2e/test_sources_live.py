"""Vendor sources on a live stack: signed Shopify and Stripe fixtures over real HTTP become events
that start the abandoned-cart and repeat-purchase recipes; time moved by the test clock; the
messages read back from the built-in SMTP catcher. The clock starts on Monday 2026-03-02 09:00 UTC."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveStack
from tidings.application.access.keys import create_key
from tidings.domain.vendors import signatures as sig
from tidings.store.sql_uow import SqlUnitOfWork

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"
DAY = 86400
SHOP_SECRET = "shpss_e2e_secret"
STRIPE_SECRET = "whsec_e2e_secret"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


class Shop:
    def __init__(self, stack: LiveStack) -> None:
        _, key = create_key(SqlUnitOfWork(stack.container.engine), "e2e", ["admin"], stack.container.clock.now())
        self.http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        self.hooks = httpx.Client(base_url=stack.url, timeout=60)  # vendors send no API key

    def ok(self, r: httpx.Response, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    def source(self, vendor: str, secret: str, **extra: Any) -> str:
        made = self.ok(self.http.post("/api/sources", json={"vendor": vendor, "secret": secret, **extra}), 201)
        return str(made["webhook_path"])

    def shopify(self, path: str, topic: str, body: bytes, webhook_id: str, secret: str = SHOP_SECRET) -> httpx.Response:
        r = self.hooks.post(path, content=body, headers={
            "X-Shopify-Hmac-Sha256": sig.base64_hmac(secret, body), "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id, "Content-Type": "application/json"})
        return r

    def stripe(self, path: str, body: bytes) -> httpx.Response:
        t = int(time.time())
        return self.hooks.post(path, content=body, headers={
            "Stripe-Signature": f"t={t},v1={sig.stripe_signature(STRIPE_SECRET, t, body)}"})

    def advance(self, seconds: float) -> None:
        self.ok(self.http.post("/api/test/clock/advance", json={"seconds": seconds}))

    def subjects(self, recipient: str) -> list[str]:
        items = self.ok(self.http.get("/api/inbox", params={"channel": "email", "recipient": recipient}))["items"]
        return [i["subject"] for i in reversed(items)]

    def first_body(self, recipient: str) -> str:
        items = self.ok(self.http.get("/api/inbox", params={"channel": "email", "recipient": recipient}))["items"]
        return str(self.ok(self.http.get(f"/api/inbox/{items[-1]['id']}"))["body_text"])


@pytest.fixture
def shop(live_stack: LiveStack) -> Iterator[Shop]:
    client = Shop(live_stack)
    yield client
    client.http.close()
    client.hooks.close()


def customer(email: str, first: str) -> bytes:
    raw = json.loads(fixture("shopify_customers_create"))
    return json.dumps(raw | {"email": email, "first_name": first, "id": zlib.crc32(email.encode())}).encode()


def test_shopify_and_stripe_fixtures_start_the_abandoned_cart_and_repeat_purchase_recipes(shop: Shop) -> None:
    shop.ok(shop.http.post("/api/recipes/abandoned-cart/install", json={"parameters": {"first_delay": "30m"}}))
    shop.ok(shop.http.post("/api/recipes/repeat-purchase/install",
                           json={"parameters": {"days_after_first_purchase": "10d"}}))
    shopify = shop.source("shopify", SHOP_SECRET, abandon_after_minutes=60)
    stripe = shop.source("stripe", STRIPE_SECRET)
    bob, ann, jenny = "bob.norman@mail.example.com", "ann@shop.example", "jenny.rosen@example.com"
    # customers/create carries their email consent (Shopify's email_marketing_consent: subscribed)
    for i, (email, first) in enumerate(((bob, "Bob"), (ann, "Ann"))):
        shop.ok(shop.shopify(shopify, "customers/create", customer(email, first), f"cust-{i}"))
    consent = {"email": {"status": "granted", "source": "e2e"}}
    shop.ok(shop.http.post("/api/contacts", json={"email": jenny, "consent": consent}), 201)
    # both start a checkout; Bob orders, Ann goes quiet
    bob_checkout = fixture("shopify_checkouts_create")
    ann_checkout = bob_checkout.replace(b"bd5a8aa1ecd019dd3520ff791ee3a24c", b"a11a8aa1ecd019dd3520ff791ee3a24c") \
        .replace(bob.encode(), ann.encode())
    shop.ok(shop.shopify(shopify, "checkouts/create", bob_checkout, "chk-bob"))
    shop.ok(shop.shopify(shopify, "checkouts/create", ann_checkout, "chk-ann"))
    forged = shop.shopify(shopify, "orders/create", fixture("shopify_orders_create"), "ord-x", secret="guess")
    assert forged.status_code == 401
    order = fixture("shopify_orders_create")
    assert shop.ok(shop.shopify(shopify, "orders/create", order, "ord-1"))["accepted"] == 2
    assert shop.ok(shop.shopify(shopify, "orders/create", order, "ord-1"))["duplicates"] == 1  # retried
    assert shop.ok(shop.shopify(shopify, "orders/paid", order, "ord-2"))["duplicates"] == 1  # same purchase
    assert shop.ok(shop.stripe(stripe, fixture("stripe_checkout_session_completed")))["accepted"] == 2
    shop.advance(1)
    # after the quiet period Ann's checkout is a Cart Abandoned; 30 minutes later the first reminder
    shop.advance(59 * 60)
    shop.advance(2 * 60)
    assert shop.subjects(ann) == []
    shop.advance(31 * 60)
    assert shop.subjects(ann) == ["You left something in your cart"]
    text = shop.first_body(ann)
    assert "IPod Nano - 8GB" in text and "199.00 USD" in text
    assert shop.subjects(bob) == []  # his checkout became an order: never abandoned
    # ten days after their first purchase, Bob (Shopify) and Jenny (Stripe) are invited to buy again
    shop.advance(10 * DAY)
    assert shop.subjects(bob) == ["Time for a refill, Bob?"]
    assert shop.subjects(jenny) == ["Time for a refill, Jenny?"]
