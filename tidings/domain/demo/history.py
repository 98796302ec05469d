"""The demo's 90 days of history, planned from a seed: contacts, their behaviour, and what the
journeys did with them, replayed through the real state machine (``journeys/machine.advance``).

Everything is decided by ``random.Random(seed)`` and ``now``: the same inputs give the same plan.
Engagement follows believable rates (:data:`RATES`); every message the replay sends is answered with
``message.sent`` and, by chance, a bounce, machine and human opens, clicks, an unsubscribe. The
replay stops at ``now``: an enrolment still running keeps its state and its timers (all in the
future), so nothing of the past is sent again when the server starts.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.demo.people import LANGUAGES
from tidings.domain.journeys.effects import Conversion, SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    JourneyDoc,
    TimerDue,
    TimerRequest,
    Transition,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

DAYS = 90
SIZE = 400
SEED = 2026
CURRENCY = "USD"
#: the journeys the replay runs (recipes' keys); the others keep no past.
JOURNEYS: tuple[str, ...] = ("welcome-series", "abandoned-cart")
#: chances per delivered email (opens, clicks over opens, unsubscribes over opens) and per contact.
RATES: Mapping[str, float] = {
    "bounce": 0.02,
    "machine_open": 0.12,
    "open": 0.42,
    "click": 0.3,
    "unsubscribe": 0.02,
    "cart": 0.4,
    "cart_recovered": 0.3,
    "buyer": 0.35,
}
PAGES = ("/", "/pricing", "/blog/espresso-at-home", "/shop", "/about", "/shop/grinders")
PRODUCTS: tuple[tuple[str, str, float], ...] = (
    ("ESP-1", "Espresso machine", 349.0),
    ("GRD-2", "Burr grinder", 129.0),
    ("BEAN-5", "House beans 1 kg", 24.0),
    ("MILK-1", "Milk jug", 19.0),
    ("SCL-3", "Brew scale", 45.0),
)


@dataclass(frozen=True)
class DemoContact:
    ref: int
    email: str
    first_name: str
    last_name: str
    locale: str
    timezone: str
    signed_up: datetime
    stage: str
    #: when the contact unsubscribed from email (consent is then ``unsubscribed``), if ever.
    unsubscribed_at: datetime | None = None


@dataclass(frozen=True)
class DemoEvent:
    contact: int
    name: str
    at: datetime
    key: str  # the event's message id: writing it twice inserts it once
    properties: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None
    #: the message (its idempotency key) whose ``message.*`` event this is.
    message: str | None = None
    #: the enrolment (its ref) a ``journey.converted`` event belongs to.
    enrollment: str | None = None


@dataclass(frozen=True)
class DemoMessage:
    key: str  # the outbox idempotency key
    contact: int
    enrollment: str
    journey: str
    step: str
    channel: str
    template: str
    category: str
    at: datetime
    status: str  # sent | failed (bounced at once)


@dataclass(frozen=True)
class DemoTrace:
    """One line of an enrolment's explanation ("why"), as the engine writes it."""

    step_id: str | None
    stimulus: str
    action: str
    detail: Mapping[str, Any]
    at: datetime
    #: the message (its idempotency key) this line explains, if any.
    message: str | None = None


@dataclass(frozen=True)
class DemoEnrollment:
    ref: str
    contact: int
    journey: str
    state: EnrollmentState
    entered_at: datetime
    updated_at: datetime
    timers: tuple[TimerRequest, ...]
    #: (day, from step, to step) walked, for the journey's funnel.
    moves: tuple[tuple[str, str, str], ...]
    traces: tuple[DemoTrace, ...] = ()


@dataclass
class DemoPlan:
    contacts: list[DemoContact] = field(default_factory=list)
    events: list[DemoEvent] = field(default_factory=list)
    messages: list[DemoMessage] = field(default_factory=list)
    enrollments: list[DemoEnrollment] = field(default_factory=list)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def _contacts(rng: random.Random, now: datetime, size: int) -> list[DemoContact]:
    weights = [w for *_, w in LANGUAGES]
    out = []
    for n in range(size):
        locale, tz, given, family, _ = rng.choices(LANGUAGES, weights)[0]
        # the oldest signs up 90 days ago; the others spread over the 90 days, a few a day
        ago = timedelta(days=DAYS) * (1.0 if n == 0 else rng.random())
        out.append(
            DemoContact(
                ref=n,
                email=f"demo-{n:03d}@example.com",
                first_name=rng.choice(given),
                last_name=rng.choice(family),
                locale=locale,
                timezone=tz,
                signed_up=(now - ago).replace(microsecond=0),
                stage="subscriber",
            )
        )
    return out


def _behaviour(rng: random.Random, c: DemoContact, now: datetime) -> list[DemoEvent]:
    """What the contact did on the site: the sign-up, page and product views, a cart, orders."""
    n = c.ref
    evs = [DemoEvent(n, "subscribed", c.signed_up, f"demo-h:{n}:subscribed", {"list": "newsletter"})]
    for i in range(rng.randint(1, 8)):
        at = _between(rng, c.signed_up, now)
        evs.append(
            DemoEvent(n, "page.viewed", at, f"demo-h:{n}:page:{i}", {"url": f"https://shop.example{rng.choice(PAGES)}"})
        )
    for i in range(rng.randint(0, 4)):
        sku, title, price = rng.choice(PRODUCTS)
        at = _between(rng, c.signed_up, now)
        evs.append(
            DemoEvent(n, "product.viewed", at, f"demo-h:{n}:product:{i}", {"sku": sku, "name": title, "price": price})
        )
    # a cart needs time: started 2 h after signing up at the earliest, abandoned 1 h later, before now
    if rng.random() < RATES["cart"] and c.signed_up + timedelta(hours=2) < now - timedelta(hours=3):
        sku, title, price = rng.choice(PRODUCTS)
        qty = rng.randint(1, 2)
        total = price * qty
        started = _between(rng, c.signed_up + timedelta(hours=2), now - timedelta(hours=3))
        cart = {
            "cart_id": f"DC-{n}",
            "value": total,
            "total": total,
            "currency": CURRENCY,
            "items": [{"sku": sku, "quantity": qty}],
        }
        evs.append(DemoEvent(n, "checkout.started", started, f"demo-h:{n}:checkout", cart))
        abandoned = started + timedelta(hours=1)
        evs.append(DemoEvent(n, "cart.abandoned", abandoned, f"demo-h:{n}:abandoned", cart))
        if rng.random() < RATES["cart_recovered"]:
            at = abandoned + timedelta(hours=rng.uniform(2, 60))
            if at < now:
                evs.append(_order(n, f"DO-{n}-c", at, total))
    if rng.random() < RATES["buyer"]:
        for i in range(rng.randint(1, 3)):
            _, _, price = rng.choice(PRODUCTS)
            evs.append(_order(n, f"DO-{n}-{i}", _between(rng, c.signed_up, now), price * rng.randint(1, 3)))
    return evs


def _order(n: int, order_id: str, at: datetime, total: float) -> DemoEvent:
    props = {"order_id": order_id, "revenue": total, "total": total, "currency": CURRENCY}
    return DemoEvent(n, "order.completed", at, f"demo-h:{n}:order:{order_id}", props, value=total)


def _engagement(rng: random.Random, m: DemoMessage, now: datetime) -> list[DemoEvent]:
    """The answers to one sent email: sent, then by chance a bounce, opens, a click, an unsubscribe."""
    n, k = m.contact, m.key
    props = {"channel": m.channel}

    def answer(name: str, at: datetime, tag: str, **extra: Any) -> DemoEvent:
        return DemoEvent(n, name, at, f"demo-h:{tag}:{k}", {**props, **extra}, message=k)

    out = [DemoEvent(n, "message.sent", m.at, f"sent:{k}", props, message=k)]
    if rng.random() < RATES["bounce"]:
        kind = "hard" if rng.random() < 0.4 else "soft"
        out.append(answer("message.bounced", m.at + timedelta(minutes=2), "bounce", bounce_type=kind))
        return out
    if rng.random() < RATES["machine_open"]:
        out.append(answer("message.opened", m.at + timedelta(minutes=1), "mopen", machine=True))
    if rng.random() < RATES["open"]:
        opened = m.at + timedelta(minutes=rng.uniform(5, 36 * 60))
        out.append(DemoEvent(n, "message.opened", opened, f"demo-h:open:{k}", props, message=k))
        if rng.random() < RATES["click"]:
            url = f"https://shop.example{rng.choice(PAGES)}"
            clicked = opened + timedelta(minutes=rng.uniform(0.5, 20))
            out.append(DemoEvent(n, "message.clicked", clicked, f"demo-h:click:{k}", {**props, "url": url}, message=k))
        elif rng.random() < RATES["unsubscribe"]:
            out.append(
                DemoEvent(
                    n, "message.unsubscribed", opened + timedelta(minutes=1), f"demo-h:unsub:{k}", props, message=k
                )
            )
    return [e for e in out if e.at <= now]


def plan_history(now: datetime, docs: Mapping[str, JourneyDoc], *, size: int = SIZE, seed: int = SEED) -> DemoPlan:
    """The demo's past up to ``now``: ``size`` contacts, their behaviour, and the journeys of ``docs``
    (key -> document; :data:`JOURNEYS` of them) replayed on it."""
    rng = random.Random(seed)
    plan = DemoPlan(contacts=_contacts(rng, now, size))
    for c in plan.contacts:
        evs = sorted(_behaviour(rng, c, now), key=lambda e: e.at)
        unsubscribed: datetime | None = None
        for key in JOURNEYS:
            doc = docs.get(key)
            if doc is None:
                continue
            trigger = doc.triggers[0].target
            entry = next((e for e in evs if e.name == trigger), None)
            if entry is None or (unsubscribed is not None and entry.at >= unsubscribed):
                continue
            later = [e for e in evs if e.at > entry.at]
            got = _replay(rng, plan, doc, c, entry, later, now)
            evs.extend(got)
            evs.sort(key=lambda e: e.at)
            unsub = [e.at for e in got if e.name == "message.unsubscribed"]
            if unsub:
                unsubscribed = min(unsub)
        stage = "customer" if any(e.name == "order.completed" for e in evs) else c.stage
        plan.contacts[c.ref] = replace(c, stage=stage, unsubscribed_at=unsubscribed)
        plan.events.extend(evs)
    return plan


def _record(e: DemoEvent) -> EventRecord:
    return EventRecord(e.name, e.at, dict(e.properties), e.value)


def _replay(
    rng: random.Random,
    plan: DemoPlan,
    doc: JourneyDoc,
    c: DemoContact,
    entry: DemoEvent,
    later: Sequence[DemoEvent],
    now: datetime,
) -> list[DemoEvent]:
    """Run one enrolment of ``c`` in ``doc`` from ``entry`` to ``now``; returns the events it caused
    (engagement with its messages, its conversion) and adds its messages and enrolment to ``plan``."""
    ref = f"demo:{c.ref}:{doc.key}"
    ctx = EngineContext(enrollment_id=ref)
    seen: list[EventRecord] = []
    snapshot = ContactSnapshot(
        id=c.ref,
        email=c.email,
        first_name=c.first_name,
        last_name=c.last_name,
        timezone=c.timezone,
        locale=c.locale,
        created_at=c.signed_up,
        consents={"email": "granted"},
    )
    caused: list[DemoEvent] = []
    # (time, order, kind, item): events waiting to be offered to the enrolment, and timers
    queue: list[tuple[datetime, int, str, Any]] = []
    order = 0
    for e in later:
        heapq.heappush(queue, (e.at, order, "event", e))
        order += 1
    moves: list[tuple[str, str, str]] = []
    traces: list[DemoTrace] = []
    seen.append(_record(entry))
    tr = advance(doc, None, Entry(0, _record(entry)), replace(snapshot, events=tuple(seen)), entry.at, context=ctx)
    at = entry.at
    pending: list[TimerRequest] = []
    while True:
        moves.extend((at.date().isoformat(), src, dst) for src, dst in tr.moves)
        for line in tr.trace:
            eff = tr.effects[line.effect_index] if line.effect_index is not None else None
            key = eff.idempotency_key if isinstance(eff, SendMessage) else None
            traces.append(DemoTrace(line.step_id, tr.stimulus or "unknown", line.action, dict(line.detail), at, key))
        pending = ([] if tr.cancel_timers else pending) + list(tr.timers)
        for eff in tr.effects:
            if isinstance(eff, SendMessage):
                m = DemoMessage(
                    eff.idempotency_key,
                    c.ref,
                    ref,
                    doc.key,
                    eff.step_id,
                    eff.channel,
                    eff.template,
                    eff.category,
                    at,
                    "sent",
                )
                answers = _engagement(rng, m, now)
                if any(a.name == "message.bounced" and a.properties.get("bounce_type") == "hard" for a in answers):
                    m = replace(m, status="failed")
                plan.messages.append(m)
                caused.extend(answers)
                for a in answers[1:]:
                    heapq.heappush(queue, (a.at, order, "event", a))
                    order += 1
            elif isinstance(eff, Conversion):
                revenue = eff.revenue
                props = {"journey": doc.key, "step": eff.step_id, "goal": eff.goal, "revenue": revenue}
                caused.append(
                    DemoEvent(
                        c.ref,
                        "journey.converted",
                        at,
                        f"conversion:{eff.idempotency_key}",
                        props,
                        revenue,
                        enrollment=ref,
                    )
                )
        for t in tr.timers:
            heapq.heappush(queue, (t.due_at, order, "timer", t))
            order += 1
        if tr.state.status == EnrolmentStatus.ENDED:
            break
        stimulus: Any = None
        while queue and queue[0][0] <= now and stimulus is None:
            at, _, kind, item = heapq.heappop(queue)
            if kind == "timer":
                if item in pending:
                    pending.remove(item)
                    stimulus = TimerDue(None, item.kind, item.payload)
            else:
                seen.append(_record(item))
                stimulus = EventStimulus(_record(item))
        if stimulus is None:
            break
        tr = _step(doc, tr, stimulus, replace(snapshot, events=tuple(seen)), at, ctx)
    state = tr.state
    plan.enrollments.append(
        DemoEnrollment(
            ref,
            c.ref,
            doc.key,
            state,
            entry.at,
            at,
            tuple(p for p in pending if p.due_at > now),
            tuple(moves),
            tuple(traces),
        )
    )
    return caused


def _step(
    doc: JourneyDoc, tr: Transition, stimulus: Any, snap: ContactSnapshot, at: datetime, ctx: EngineContext
) -> Transition:
    nxt = advance(doc, tr.state, stimulus, snap, at, context=ctx)
    if not nxt.changed:
        # an ignored stimulus changes nothing: keep the enrolment's state, no effects, no timers
        return Transition(tr.state, [], [], False, [], moves=[])
    return nxt
