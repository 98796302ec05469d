"""Demo data for `tidings serve --demo` / `tidings demo`.

A small shop's audience: contacts at different lifecycle stages, with owners, tags, consent
with proof, and a history of events (sign-ups, page views, carts, orders, an NPS answer, a
webinar registration). Loading it again changes nothing: contacts upsert by email with the
same values and events carry fixed message ids.

Beside them, 400 contacts with 90 days of history (``application/demo/seed.py``). The past never
runs live: only events of the last :data:`LIVE_HOURS` reach the worker (a cart left an hour ago,
a webinar registration), the older ones are recorded as already processed, so no welcome goes to
a contact who signed up weeks ago.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer

from tidings.bootstrap import Container
from tidings.store.sql_uow import joined

PROOF = {
    "form": "newsletter-footer",
    "text": "Yes, send me news and offers by email.",
    "ip": "203.0.113.10",
    "user_agent": "Mozilla/5.0 (demo)",
}

#: (email, first, last, stage, owner, tags, timezone, locale, attributes, consent channels, phone)
CONTACTS: list[tuple[Any, ...]] = [
    (
        "ana.souza@example.com",
        "Ana",
        "Souza",
        "customer",
        None,
        ["newsletter", "vip"],
        "America/Sao_Paulo",
        "pt-BR",
        {"plan": "pro", "city": "São Paulo"},
        ["email", "sms"],
        "+5511987654321",
    ),
    (
        "ben.okafor@example.com",
        "Ben",
        "Okafor",
        "lead",
        None,
        ["newsletter"],
        "Africa/Lagos",
        "en",
        {"source_campaign": "spring-webinar"},
        ["email"],
        None,
    ),
    (
        "chen.wei@example.com",
        "Chen",
        "Wei",
        "opportunity",
        "sam@tidings.test",
        ["demo-requested"],
        "Asia/Shanghai",
        "zh-CN",
        {"company": "Wei Trading", "employees": 40},
        ["email", "phone"],
        "+8613812345678",
    ),
    (
        "dara.khan@example.com",
        "Dara",
        "Khan",
        "customer",
        None,
        ["newsletter", "aligners"],
        "Europe/London",
        "en-GB",
        {"treatment_start": "2026-02-01"},
        ["email", "sms"],
        "+442079460123",
    ),
    (
        "elena.ivanenko@example.com",
        "Olena",
        "Ivanenko",
        "subscriber",
        None,
        ["newsletter"],
        "Europe/Kyiv",
        "uk",
        {},
        ["email"],
        None,
    ),
    (
        "farid.haddad@example.com",
        "Farid",
        "Haddad",
        "customer",
        "amy@tidings.test",
        ["key-account"],
        "Asia/Dubai",
        "ar",
        {"company": "Haddad Optics", "last_eye_exam": "2025-11-20"},
        ["email", "direct_mail"],
        None,
    ),
    (
        "somchai.p@example.com",
        "Somchai",
        "Prasert",
        "lead",
        None,
        ["cart-abandoner"],
        "Asia/Bangkok",
        "th",
        {},
        ["email"],
        None,
    ),
    (
        "noy.vong@example.com",
        "Noy",
        "Vongsa",
        "subscriber",
        None,
        ["webinar"],
        "Asia/Vientiane",
        "lo",
        {},
        [],
        None,
    ),
]

#: (email index, name, properties, days ago)
EVENTS: list[tuple[int, str, dict[str, Any], float]] = [
    (0, "subscribed", {"list": "newsletter"}, 60),
    (0, "order.completed", {"order_id": "D-1001", "revenue": 129.0}, 30),
    (0, "order.completed", {"order_id": "D-1002", "revenue": 89.5}, 3),
    (0, "nps.answered", {"score": 9}, 2),
    (1, "subscribed", {"list": "newsletter"}, 10),
    (1, "webinar.registered", {"webinar": "spring-launch"}, 0.1),
    (2, "page.viewed", {"url": "https://shop.example/pricing"}, 4),
    (2, "demo.requested", {"product": "Pro"}, 1),
    (3, "order.completed", {"order_id": "D-1003", "revenue": 1800.0, "product": "aligners"}, 20),
    (4, "subscribed", {"list": "newsletter"}, 1),
    (5, "order.completed", {"order_id": "D-1004", "revenue": 420.0}, 200),
    (6, "product.viewed", {"sku": "LENS-2", "price": 59.0}, 0.2),
    (6, "checkout.started", {"cart_id": "C-77", "value": 59.0}, 0.1),
    (7, "webinar.registered", {"webinar": "spring-launch"}, 0.08),
]


LIVE_HOURS = 6


def load_demo(container: Container) -> list[dict[str, Any]]:
    """Install the ready-made journeys, load the demo contacts and the demo history (idempotent).

    Returns the recipe install results (services/recipes.py)."""
    from tidings.application.contacts.contacts import normalise_input, upsert_contact
    from tidings.application.ingest.ingest import Incoming, ingest
    from tidings.store.demo_sql import SqlDemoHistory

    installed = install_recipes(container)

    now = container.clock.now()
    ids: list[int] = []
    with container.engine.begin() as conn:
        for email, first, last, stage, owner, tags, tz, locale, attrs, channels, phone in CONTACTS:
            raw: dict[str, Any] = {
                "email": email,
                "first_name": first,
                "last_name": last,
                "lifecycle_stage": stage,
                "owner": owner,
                "tags": tags,
                "timezone": tz,
                "locale": locale,
                "attributes": attrs,
                "phone": phone,
                "consent": {
                    ch: {
                        "status": "granted",
                        "source": "form",
                        "proof": PROOF,
                        "recorded_at": "2026-01-15T10:00:00+00:00",
                    }
                    for ch in channels
                },
            }
            cid, _ = upsert_contact(joined(conn), normalise_input(raw, now), now, source="demo")
            ids.append(cid)
        items = [
            Incoming(
                kind="track",
                message_id=f"demo-{n}",
                occurred_at=now - timedelta(days=ago),
                name=name,
                properties=_with_schedule(name, props, now),
                contact_id=ids[i],
                index=n,
            )
            for n, (i, name, props, ago) in enumerate(EVENTS)
        ]
        ingest(joined(conn), items, now, source="demo")
        live = [it.message_id for it in items if it.occurred_at >= now - timedelta(hours=LIVE_HOURS)]
        SqlDemoHistory(conn).settle(ids, live)
    load_history(container)
    return installed


def load_history(container: Container) -> dict[str, int] | None:
    """The 90 days of history (once); prints how long it took. None when it was there already."""
    import time

    from tidings.application.demo.seed import seed_history
    from tidings.cli import common
    from tidings.store.analytics import SqlAnalytics
    from tidings.store.demo_sql import SqlDemoHistory

    started = time.perf_counter()
    with common.console.status("writing 90 days of demo history…"):
        done = seed_history(container.engine.begin, SqlDemoHistory, SqlAnalytics, container.clock.now())
    if done is not None:
        common.console.print(
            f"demo history: {done['contacts']} contacts, {done['events']} events, {done['messages']} messages, "
            f"{done['enrollments']} enrolments ({done['waiting']} still waiting) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    return done


def _with_schedule(name: str, props: dict[str, Any], now: Any) -> dict[str, Any]:
    """A demo webinar starts in three days at 16:00 UTC, so the webinar recipe has a date to run to."""
    if name != "webinar.registered":
        return props
    starts = (now + timedelta(days=3)).replace(hour=16, minute=0, second=0, microsecond=0)
    return {
        "webinar_id": props.get("webinar", "demo"),
        "title": "Spring launch: automation without overkill",
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "join_url": "https://example.com/live/spring-launch",
        **props,
    }


DEMO_ADMIN_EMAIL = "admin@example.com"


def ensure_demo_admin(container: Container) -> str | None:
    """Create the demo's web app administrator once; return its new password, or None if it existed.

    The password is random and shown only at creation (`tidings users set-password` resets it)."""
    import secrets

    from tidings.application.access.users import create_user, get_user_by_email

    if get_user_by_email(container.uow(), DEMO_ADMIN_EMAIL) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user(container.uow(), DEMO_ADMIN_EMAIL, password, "admin", container.clock.now(), name="Demo admin")
    return password


def print_demo_login(password: str | None) -> None:
    from tidings.cli import common

    if password:
        common.console.print(
            f"web app login: [bold]{DEMO_ADMIN_EMAIL}[/] / password [bold]{password}[/] (shown once; "
            f"reset with: tidings users set-password --email {DEMO_ADMIN_EMAIL})"
        )
    else:
        common.console.print(
            f"web app login: {DEMO_ADMIN_EMAIL} (password shown when first created; "
            f"reset with: tidings users set-password --email {DEMO_ADMIN_EMAIL})"
        )


def install_recipes(container: Container) -> list[dict[str, Any]]:
    """Install every recipe (the ready-made automations) so the demo contacts run through them.

    Demo data need not have every attribute a recipe expects, so missing data does not stop
    an install; templates or journeys edited since an earlier run are kept."""
    from tidings.application.recipes.recipes import install_all

    return install_all(container, ignore_problems=True)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Install every recipe, load the demo contacts and 90 days of history (safe to run twice)."""
        from tidings.cli import common

        c = common.open_container()
        installed = load_demo(c)
        print_demo_login(ensure_demo_admin(c))
        common.console.print(
            f"demo data loaded ({len(CONTACTS)} contacts, {len(EVENTS)} events, "
            f"{sum(r['installed'] for r in installed)} recipes installed: tidings recipes list)"
        )
