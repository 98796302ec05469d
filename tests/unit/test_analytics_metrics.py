"""What each engagement event counts for, and rates over the right denominators."""

from __future__ import annotations

from tidings.domain.analytics.metrics import contribution, rates


def test_email_sent_counts_delivered_and_a_bounce_takes_it_back_once() -> None:
    sent = contribution("message.sent", {"message_id": 1, "channel": "email"}, None)
    assert sent is not None and dict(sent.always) == {"sent": 1, "delivered": 1}
    bounce = contribution("message.bounced", {"message_id": 1, "channel": "email", "bounce_type": "hard"}, None)
    assert bounce is not None and dict(bounce.always) == {"bounced_hard": 1}
    assert bounce.first_kind == "bounce" and dict(bounce.first) == {"delivered": -1}


def test_sms_delivery_comes_from_receipts() -> None:
    sent = contribution("message.sent", {"message_id": 2, "channel": "sms"}, None)
    assert sent is not None and dict(sent.always) == {"sent": 1}
    delivered = contribution("message.delivered", {"message_id": 2, "channel": "sms"}, None)
    assert delivered is not None and dict(delivered.always) == {"delivered": 1}
    assert contribution("message.delivered", {"message_id": 3, "channel": "email"}, None) is None


def test_machine_opens_and_clicks_are_counted_apart() -> None:
    human = contribution("message.opened", {"message_id": 1, "machine": False}, None)
    machine = contribution("message.opened", {"message_id": 1, "machine": True}, None)
    assert human is not None and machine is not None
    assert dict(human.always) == {"opened_human": 1} and human.first_kind == "open_human"
    assert dict(machine.always) == {"opened_machine": 1} and machine.first_kind == "open_machine"
    scan = contribution("message.clicked", {"message_id": 1, "machine": True}, None)
    assert scan is not None and dict(scan.always) == {"clicked_machine": 1} and scan.first_kind is None


def test_conversion_counts_its_value_as_revenue() -> None:
    c = contribution("journey.converted", {"journey": "cart", "revenue": 10}, 49.5)
    assert c is not None and dict(c.always) == {"converted": 1, "revenue": 49.5}
    assert contribution("page.viewed", {}, None) is None


def test_rates_use_delivered_and_opens_as_denominators() -> None:
    r = rates(
        {"sent": 100, "delivered": 80, "bounced_hard": 15, "bounced_soft": 5, "opened_human_unique": 40,
         "opened_machine_unique": 30, "clicked_unique": 10, "unsubscribed": 2, "converted": 4, "revenue": 200.0}
    )
    assert r["delivery_rate"] == 0.8 and r["bounce_rate"] == 0.2
    assert r["open_rate"] == 0.5  # human opens only, over delivered
    assert r["machine_open_rate"] == 0.375
    assert r["click_rate"] == 0.125 and r["click_to_open_rate"] == 0.25
    assert r["unsubscribe_rate"] == 0.025 and r["conversion_rate"] == 0.05
    assert r["revenue_per_delivered"] == 2.5
    assert rates({})["open_rate"] is None
