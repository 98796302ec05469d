"""Vendor payloads -> Segment spec events (domain/vendors), on the vendors' example payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tidings.domain.vendors.delivery import map_delivery
from tidings.domain.vendors.model import Mapped, PayloadError, minor_units

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"


def body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def shopify(topic: str, name: str) -> Mapped:
    return map_delivery("shopify", 7, {"x-shopify-topic": topic, "x-shopify-webhook-id": "w-1"}, body(name))


def tracks(m: Mapped) -> list[tuple[str | None, dict[str, Any]]]:
    return [(c.name, dict(c.properties)) for c in m.calls if c.kind == "track"]


def test_shopify_order_is_one_order_completed_with_revenue_and_products() -> None:
    created = shopify("orders/create", "shopify_orders_create")
    paid = shopify("orders/paid", "shopify_orders_create")
    [(name, props)] = tracks(created)
    assert name == "Order Completed"
    assert props["order_id"] == "820982911946154508"
    assert props["revenue"] == props["total"] == 403.0 and props["currency"] == "USD"
    assert [p["sku"] for p in props["products"]] == ["IPOD2008PINK", "IPOD2008PINK"]
    assert props["products"][0]["price"] == 199.0
    # orders/create then orders/paid are one purchase: the same message id
    assert [c.message_id for c in created.calls] == [c.message_id for c in paid.calls]
    assert created.checkouts_completed == ("bd5a8aa1ecd019dd3520ff791ee3a24c",)
    identify = created.calls[0]
    assert identify.kind == "identify" and identify.traits["email"] == "bob.norman@mail.example.com"


def test_shopify_checkout_is_started_and_watched() -> None:
    m = shopify("checkouts/create", "shopify_checkouts_create")
    [(name, props)] = tracks(m)
    assert name == "Checkout Started"
    assert props["cart_id"] == "bd5a8aa1ecd019dd3520ff791ee3a24c" and props["total"] == 398.0
    assert props["cart_url"].startswith("https://checkout.local/")
    [seen] = m.checkouts_seen
    assert seen.email == "bob.norman@mail.example.com" and seen.properties["products"][0]["quantity"] == 2
    completed = json.loads(body("shopify_checkouts_create")) | {"completed_at": "2026-03-02T10:00:00-05:00"}
    done = map_delivery("shopify", 7, {"x-shopify-topic": "checkouts/update"}, json.dumps(completed).encode())
    assert done.calls == () and done.checkouts_completed == ("bd5a8aa1ecd019dd3520ff791ee3a24c",)


def test_shopify_refund_names_the_order_contact_and_amount() -> None:
    m = shopify("refunds/create", "shopify_refunds_create")
    [call] = m.calls
    assert call.name == "Order Refunded" and call.email is None
    assert call.anonymous_id == "shopify-order:shopify:7:820982911946154508"
    assert call.properties["revenue"] == 199.0 and call.properties["currency"] == "USD"
    # the order ties its id to the contact: the refund finds it
    order = shopify("orders/create", "shopify_orders_create")
    assert order.calls[0].anonymous_id == call.anonymous_id


def test_shopify_customer_consent_comes_with_proof() -> None:
    [call] = shopify("customers/create", "shopify_customers_create").calls
    consent = call.traits["consent"]["email"]
    assert consent["status"] == "granted" and consent["source"] == "shopify"
    assert consent["proof"]["opt_in_level"] == "confirmed_opt_in"
    raw = json.loads(body("shopify_customers_create"))
    raw["email_marketing_consent"] = None
    raw["accepts_marketing"] = False
    [old] = map_delivery("shopify", 7, {"x-shopify-topic": "customers/create"}, json.dumps(raw).encode()).calls
    assert old.traits["consent"]["email"]["status"] == "denied"


def test_unknown_topics_and_broken_bodies() -> None:
    assert shopify("products/update", "shopify_orders_create").ignored == "topic 'products/update' is not mapped"
    with pytest.raises(PayloadError):
        map_delivery("shopify", 7, {"x-shopify-topic": "orders/create"}, b"[1, 2]")
    with pytest.raises(PayloadError):
        bad_total = b'{"id": 1, "email": "a@b.c", "total_price": "x"}'
        map_delivery("shopify", 7, {"x-shopify-topic": "orders/create"}, bad_total)


def test_stripe_events() -> None:
    session = map_delivery("stripe", 3, {}, body("stripe_checkout_session_completed"))
    [identify, order] = session.calls
    assert identify.traits == {"email": "jenny.rosen@example.com", "first_name": "Jenny", "last_name": "Rosen"}
    assert identify.anonymous_id == "stripe-customer:stripe:3:cus_NffrFeUfNV2Hib"
    assert order.name == "Order Completed" and order.message_id == "stripe:3:evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert order.properties["revenue"] == 20.0 and order.properties["currency"] == "USD"
    [(name, inv)] = tracks(map_delivery("stripe", 3, {}, body("stripe_invoice_paid")))
    assert name == "Order Completed" and inv["revenue"] == 15.0
    assert inv["products"][0]["sku"] == "price_1MowQULkdIwHu7ixraBm864M"
    [(name, refund)] = tracks(map_delivery("stripe", 3, {}, body("stripe_charge_refunded")))
    assert name == "Order Refunded" and refund["revenue"] == 5.0 and refund["order_id"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    [sub] = map_delivery("stripe", 3, {}, body("stripe_customer_subscription_created")).calls
    assert sub.name == "subscription.created" and sub.email is None
    assert sub.anonymous_id == identify.anonymous_id
    assert sub.properties["amount"] == 15.0 and sub.properties["interval"] == "month"
    deleted = json.loads(body("stripe_customer_subscription_created")) | {"type": "customer.subscription.deleted"}
    assert map_delivery("stripe", 3, {}, json.dumps(deleted).encode()).calls[0].name == "subscription.cancelled"
    other = json.loads(body("stripe_invoice_paid")) | {"type": "invoice.created"}
    ignored = map_delivery("stripe", 3, {}, json.dumps(other).encode()).ignored
    assert ignored == "event type 'invoice.created' is not mapped"


def test_stripe_subscription_checkout_leaves_the_money_to_the_invoice() -> None:
    raw = json.loads(body("stripe_checkout_session_completed"))
    raw["data"]["object"]["mode"] = "subscription"
    m = map_delivery("stripe", 3, {}, json.dumps(raw).encode())
    assert [c.kind for c in m.calls] == ["identify"]


def test_minor_units_follow_the_currency() -> None:
    assert minor_units(1999, "usd", "x") == 19.99
    assert minor_units(500, "JPY", "x") == 500.0
    assert minor_units(1234, "kwd", "x") == 1.234
    with pytest.raises(PayloadError):
        minor_units("12", "usd", "x")


def test_woocommerce_completed_orders_only() -> None:
    headers = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-delivery-id": "d1"}
    m = map_delivery("woocommerce", 4, headers, body("woocommerce_order_updated"))
    [(name, props)] = tracks(m)
    assert name == "Order Completed" and props["revenue"] == 29.35 and props["currency"] == "USD"
    assert props["products"][1]["variant"] == "23"
    pending = json.loads(body("woocommerce_order_updated")) | {"status": "processing"}
    assert map_delivery("woocommerce", 4, headers, json.dumps(pending).encode()).ignored == "order 727 is 'processing'"
    refunded = json.loads(body("woocommerce_order_updated")) | {"status": "refunded"}
    assert tracks(map_delivery("woocommerce", 4, headers, json.dumps(refunded).encode()))[0][0] == "Order Refunded"
    assert map_delivery("woocommerce", 4, {}, b"webhook_id=12").ignored == "WooCommerce ping"


def test_zoom_webinar_events_match_the_webinar_recipe() -> None:
    [identify, registered] = map_delivery("zoom", 5, {}, body("zoom_webinar_registration_created")).calls
    assert identify.traits == {"email": "jchill@example.com", "first_name": "Jill", "last_name": "Chill"}
    assert registered.name == "webinar.registered"
    assert registered.properties["webinar_id"] == "85791256930"
    assert registered.properties["join_url"].startswith("https://example.zoom.us/")
    [joined] = map_delivery("zoom", 5, {}, body("zoom_webinar_participant_joined")).calls
    assert joined.name == "webinar.checked_in" and joined.email == "jchill@example.com"
    assert joined.properties["joined_at"] == "2026-03-10T20:01:40+00:00"
