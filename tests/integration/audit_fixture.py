"""A planted fixture for the audit: one of every problem it must find."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, drain
from tidings.application.journeys import journeys as js
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker


def _doc(key: str, trigger: str, steps: str, settings: str = "") -> str:
    return f"key: {key}\ntriggers:\n  - {trigger}\n{settings}steps:\n{steps}"


SEND = "  - id: {id}\n    type: send\n    channel: email\n    template: hello\n"
WAIT = "  - id: {id}\n    type: wait\n    duration: {d}\n"
TAG = "  - id: {id}\n    type: update_contact\n    add_tags: [{tag}]\n"

#: published 60 days before the rest, never triggered
IDLE = _doc("old-offer", "event: offer.requested", SEND.format(id="offer"))
#: ping adds the tag that starts pong, pong adds the tag that starts ping (publishable: loop_limit)
LOOP_LIMIT = "settings:\n  loop_limit: 3\n"
PING = _doc("ping", "tag_added: ping-me", TAG.format(id="tag-pong", tag="pong-me"), LOOP_LIMIT)
PONG = _doc("pong", "tag_added: pong-me", TAG.format(id="tag-ping", tag="ping-me"), LOOP_LIMIT)
#: a chain of four journeys: c1 -> c2 -> c3 -> c4
CHAIN = [
    _doc("c1", "event: chain.start", TAG.format(id="t", tag="chain-1")),
    _doc("c2", "tag_added: chain-1", TAG.format(id="t", tag="chain-2")),
    _doc("c3", "tag_added: chain-2", TAG.format(id="t", tag="chain-3")),
    _doc("c4", "tag_added: chain-3", SEND.format(id="last")),
]
#: a branch that can never be taken, and a tag read that nothing sets
DEAD = _doc(
    "dead",
    "event: signed_up",
    """  - id: check
    type: branch
    branches:
      - when: score > 50 and score < 10
        next: impossible
      - when: has_tag("loyal-custmer")
        next: end
    else: end
  - id: impossible
    type: send
    channel: email
    template: hello
""",
    "settings:\n  category: transactional\n",
)
#: two marketing journeys on the same event, both holding their contacts for a while
PROMO_A = _doc("promo-a", "event: signed_up", SEND.format(id="a") + WAIT.format(id="hold", d="5d"))
PROMO_B = _doc("promo-b", "event: signed_up", SEND.format(id="b") + WAIT.format(id="hold", d="5d"))
#: the typo: nothing ever sends webinar-registerd; webinar.registered is in the event store
TYPO = _doc("webinar-typo", "event: webinar-registerd", SEND.format(id="confirm"))

SPRAWL = 110


def plant(container: Container, clock: ManualClock) -> dict[str, int]:
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.templates).values(
                key="hello", channel="email", subject="Hi", body="<p>Hi</p>", settings={},
                created_at=clock.now(), updated_at=clock.now(),
            )  # fmt: skip
        )
        js.publish(joined(conn), clock.now(), text=IDLE)
    clock.advance(timedelta(days=60))
    now = clock.now()
    with container.engine.begin() as conn:
        for text in (PING, PONG, *CHAIN, DEAD, PROMO_A, PROMO_B, TYPO):
            js.publish(joined(conn), now, text=text)
        ids = [add_contact(conn, now, f"p{i}@example.org") for i in range(3)]
        for cid in ids:
            add_event(conn, cid, "signed_up", now)
        add_event(conn, ids[0], "webinar.registered", now, webinar_id="w1")
        tags = [f"interest-{i:03d}" for i in range(SPRAWL)] + ["VIP Customer", "vip-customer"]
        conn.execute(
            sa.insert(schema.contact_tags),
            [{"contact_id": ids[0], "tag": t, "created_at": now} for t in tags],
        )
    drain(JourneyWorker(container))
    return {"contacts": len(ids)}
