"""SQL of bounces, complaints and sending domains (tables ``feedback``, ``sending_domains``,
``suppressions``): what ``channels/bounces.py`` decides, read and written here.

``SqlFeedback`` is the ``FeedbackRepository`` port (``application/ports/delivery.py``); its twin
is ``store/memory/feedback.py`` (``tests/contract/test_feedback.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import outbox, schema
from tidings.store.ingest_sql import record_changes

F = schema.feedback
O = schema.outbox  # noqa: E741
SD = schema.sending_domains
S = schema.suppressions


class SqlFeedback:
    """``FeedbackRepository`` on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # ----------------------------------------------------------------- feedback rows

    def seen(self, ref: str) -> bool:
        """Is a notification with this ``ref`` recorded already?"""
        return self.conn.execute(sa.select(F.c.id).where(F.c.ref == ref)).first() is not None

    def message_for_ref(self, message_ref: str | None) -> dict[str, Any] | None:
        """The outbox row of our Message-ID (``store/outbox.row_for_ref``)."""
        return outbox.row_for_ref(self.conn, message_ref)

    def contact_by_email(self, address: str) -> int | None:
        """The contact whose email is ``address`` (lower case), if any."""
        c = schema.contacts
        found = self.conn.execute(sa.select(c.c.id).where(sa.func.lower(c.c.email) == address)).scalar()
        return int(found) if found is not None else None

    def add(self, values: Mapping[str, Any]) -> None:
        """One ``feedback`` row (its columns)."""
        self.conn.execute(sa.insert(F).values(**values))

    def soft_bounces_since(self, address: str, since: datetime, kind: str) -> int:
        q = sa.select(sa.func.count()).where(F.c.address == address, F.c.kind == kind, F.c.received_at >= since)
        return int(self.conn.execute(q).scalar_one())

    def suppress(self, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        """Put the email address on the suppression list; False when it is there already."""
        if self.conn.execute(sa.select(S.c.address).where(S.c.channel == "email", S.c.address == address)).first():
            return False
        self.conn.execute(
            sa.insert(S).values(channel="email", address=address, reason=reason, detail=dict(detail), created_at=now)
        )
        return True

    def record_events(self, events: Iterable[dict[str, Any]], now: datetime) -> None:
        """Change events (``domain.changes.change_event`` rows), their contacts enqueued."""
        record_changes(self.conn, events, now)

    # ----------------------------------------------------------------- sending domains

    def domain(self, domain: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(SD).where(SD.c.domain == domain)).mappings().first()
        return dict(row) if row is not None else None

    def sent_since(self, domain: str, since: datetime) -> int:
        """Email rows sent since ``since`` whose Message-ID ends with ``@domain``, whatever its
        case (a sender's address keeps the case it was written in; domains are compared lower
        case) and with ``%`` / ``_`` in it matched literally."""
        q = sa.select(sa.func.count()).where(
            O.c.channel == "email",
            O.c.sent_at >= since,
            O.c.status.in_(("sent", "delivered")),
            sa.func.lower(O.c.provider_message_id).endswith(f"@{domain.lower()}", autoescape=True),
        )
        return int(self.conn.execute(q).scalar_one())

    def kinds_since(self, domain: str, since: datetime) -> dict[str, int]:
        """Feedback of the sending domain received since ``since``, counted by kind."""
        q = (
            sa.select(F.c.kind, sa.func.count())
            .where(F.c.sending_domain == domain, F.c.received_at >= since)
            .group_by(F.c.kind)
        )
        return {str(kind): int(n) for kind, n in self.conn.execute(q).all()}

    def save_domain(self, domain: str, values: Mapping[str, Any]) -> None:
        """Insert or update the ``sending_domains`` row of ``domain`` with ``values``."""
        if self.conn.execute(sa.select(SD.c.domain).where(SD.c.domain == domain)).first() is None:
            self.conn.execute(sa.insert(SD).values(domain=domain, **values))
        else:
            self.conn.execute(sa.update(SD).where(SD.c.domain == domain).values(**values))

    def paused_domains(self) -> set[str]:
        return set(self.conn.execute(sa.select(SD.c.domain).where(SD.c.status == "paused")).scalars())

    def list_domains(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sa.select(SD).order_by(SD.c.domain)).mappings()]

    def give_back_attempt(self, outbox_id: int) -> None:
        """The claim's attempt of a held message is given back (waiting is not a failed delivery)."""
        self.conn.execute(
            sa.update(O).where(O.c.id == outbox_id, O.c.attempts > 0).values(attempts=O.c.attempts - 1)
        )
