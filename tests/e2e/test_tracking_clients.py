"""The real Segment and RudderStack Python clients, pointed at a live Tidings server."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from tidings.application.access.keys import create_key
from tidings.store import schema


def contact_by(engine: sa.Engine, **where: Any) -> dict[str, Any] | None:
    c = schema.contacts
    with engine.connect() as conn:
        q = sa.select(c)
        for k, v in where.items():
            q = q.where(c.c[k] == v)
        row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def events_of(engine: sa.Engine, contact_id: int) -> list[tuple[str, dict[str, Any]]]:
    e = schema.events
    with engine.connect() as conn:
        return [
            (r.name, r.properties)
            for r in conn.execute(
                sa.select(e.c.name, e.c.properties).where(e.c.contact_id == contact_id).order_by(e.c.id)
            )
        ]


def track_key(container: Any) -> str:
    return create_key(container.uow(), "site", ["track"], container.clock.now())[1]


def run_journey_of_calls(client: Any, errors: list[Any], engine: sa.Engine, prefix: str) -> None:
    """Anonymous browsing, then sign-up: the anonymous history ends up on the known contact."""
    anon = f"{prefix}-anon-1"
    client.page(
        anonymous_id=anon, category="Docs", name="Pricing", properties={"url": "https://x.test/pricing"}
    )
    client.track(anonymous_id=anon, event="Product Viewed", properties={"sku": "A-1", "price": 10})
    client.identify(
        f"{prefix}-user-1",
        {"email": f"{prefix}.Ann@Example.com", "firstName": "Ann", "lastName": "Lee", "plan": "pro"},
        anonymous_id=anon,
    )
    client.track(f"{prefix}-user-1", "Order Completed", {"revenue": 99.5, "order_id": "o-1"})
    client.screen(f"{prefix}-user-1", name="Home")
    client.group(f"{prefix}-user-1", "acme", {"name": "Acme Inc", "employees": 40})
    client.alias(f"{prefix}-old-id", f"{prefix}-user-1")
    client.flush()
    assert errors == []
    user = contact_by(engine, external_id=f"{prefix}-user-1")
    assert user is not None
    assert user["email"] == f"{prefix}.ann@example.com"
    assert user["first_name"] == "Ann" and user["last_name"] == "Lee"
    assert user["attributes"]["plan"] == "pro"
    assert user["attributes"]["group"] == {"id": "acme", "name": "Acme Inc", "employees": 40}
    names = [n for n, _ in events_of(engine, user["id"])]
    assert {"page.viewed", "product.viewed", "order.completed", "screen.viewed"} <= set(names)
    page = next(p for n, p in events_of(engine, user["id"]) if n == "page.viewed")
    assert page["name"] == "Pricing" and page["category"] == "Docs"
    # the anonymous contact was merged away
    c = schema.contacts
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(c).where(c.c.anonymous.is_(True))).scalar()
            == 0
        )
        e = schema.events
        value = conn.execute(sa.select(e.c.value).where(e.c.name == "order.completed")).scalar()
    assert value == 99.5


def test_segment_client(live_server: Any, container: Any, engine: sa.Engine) -> None:
    from segment.analytics.client import Client

    errors: list[Any] = []
    client = Client(
        write_key=track_key(container),
        host=live_server.url,
        sync_mode=True,
        max_retries=0,
        on_error=lambda e, batch: errors.append(e),
    )
    run_journey_of_calls(client, errors, engine, "seg")
    # the same write key cannot read anything back
    r = httpx.get(f"{live_server.url}/api/contacts", auth=(track_key(container), ""))
    assert r.status_code == 403


def test_rudderstack_client_gzip(live_server: Any, container: Any, engine: sa.Engine) -> None:
    from rudderstack.analytics.client import Client

    errors: list[Any] = []
    client = Client(
        write_key=track_key(container),
        host=live_server.url,
        sync_mode=True,
        max_retries=0,
        gzip=True,
        on_error=lambda e, batch: errors.append(e),
    )
    run_journey_of_calls(client, errors, engine, "rud")


def test_wrong_write_key_is_refused(live_server: Any) -> None:
    from segment.analytics.client import Client

    errors: list[Any] = []
    client = Client(
        write_key="tdk_wrong",
        host=live_server.url,
        sync_mode=True,
        max_retries=0,
        on_error=lambda e, batch: errors.append(e),
    )
    try:
        client.track("u", "x")
    except Exception as exc:  # sync mode re-raises the API error
        errors.append(exc)
    assert errors
    assert any("401" in str(e) or "invalid or revoked" in str(e) for e in errors), errors
