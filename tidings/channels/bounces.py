"""Bounces and complaints: what they do to an address and to a sending domain.

Every notification source (SES via SNS in ``sns.py``, the generic signed webhook, SMTP DSNs in
``dsn.py``) turns into ``Feedback`` items and goes through ``record_feedback``, in one
transaction:

- a ``feedback`` row (a replay of the same notification is a no-op: ``ref`` is unique);
- hard bounce or complaint -> the address is suppressed for every future send (``suppressions``;
  the delivery loop checks it for every category, transactional included);
- soft bounce -> counted; ``soft_bounce_threshold`` of them within ``soft_bounce_days`` suppress;
- ``message.bounced`` / ``message.complained`` events for the contact (enqueued for the worker);
- the sending domain's rolling bounce and complaint rates over ``rate_window_days`` are
  recomputed; above ``bounce_rate_limit`` / ``complaint_rate_limit`` (with at least
  ``rate_min_volume`` messages sent in the window) the domain is **paused**: the delivery loop
  holds its email (``paused_domains`` / ``is_domain_paused``) until an operator resumes it.

The sending volume of a domain is counted from outbox email rows sent in the window whose
Message-ID (``<row>.<hash>@<domain>``, our ``provider_message_id``) ends with the domain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidings.domain.changes import change_event
from tidings.store.outbox import Outcome, message_event_properties

if TYPE_CHECKING:
    from tidings.application.ports.delivery import DomainHolds, FeedbackUnitOfWork
    from tidings.settings import Settings

log = logging.getLogger("tidings.channels.bounces")

HARD = "hard_bounce"
SOFT = "soft_bounce"
COMPLAINT = "complaint"
KINDS = (HARD, SOFT, COMPLAINT)

@dataclass(frozen=True)
class Feedback:
    kind: str
    address: str
    source: str
    #: the notification's own id; with the address it makes replays no-ops.
    ref: str | None = None
    #: our Message-ID of the message that bounced, when the notification carries it.
    message_ref: str | None = None
    sending_domain: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FeedbackResult:
    recorded: int = 0
    duplicates: int = 0
    #: DSNs that name no message we sent to that address (ignored).
    unmatched: int = 0
    suppressed: list[str] = field(default_factory=list)
    paused_domains: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    soft_bounce_threshold: int = 3
    soft_bounce_days: int = 30
    bounce_rate_limit: float = 0.05
    complaint_rate_limit: float = 0.001
    rate_window_days: int = 7
    rate_min_volume: int = 500

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            s.soft_bounce_threshold,
            s.soft_bounce_days,
            s.bounce_rate_limit,
            s.complaint_rate_limit,
            s.rate_window_days,
            s.rate_min_volume,
        )


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].strip().strip(">").lower() or None


def record_feedback(
    uow: FeedbackUnitOfWork, items: Iterable[Feedback], now: datetime, limits: Limits
) -> FeedbackResult:
    """Record the notifications in the unit of work's transaction (the caller commits)."""
    store = uow.feedback
    result = FeedbackResult()
    events: list[dict[str, Any]] = []
    domains: set[str] = set()
    for item in items:
        if item.kind not in KINDS:
            raise ValueError(f"unknown feedback kind {item.kind!r}")
        address = item.address.strip().lower()
        ref = f"{item.source}:{item.ref}:{address}"[:400] if item.ref else None
        if ref and store.seen(ref):
            result.duplicates += 1
            continue
        row = store.message_for_ref(item.message_ref)
        if item.source == "dsn" and (row is None or str(row.get("recipient") or "").lower() != address):
            # anyone can mail a forged DSN: only one naming a message we sent to that address counts.
            result.unmatched += 1
            continue
        domain = (item.sending_domain or domain_of(item.message_ref) or "").lower() or None
        contact_id = row["contact_id"] if row else store.contact_by_email(address)
        store.add(
            {
                "channel": "email",
                "address": address,
                "kind": item.kind,
                "sending_domain": domain,
                "contact_id": contact_id,
                "outbox_id": row["id"] if row else None,
                "source": item.source,
                "ref": ref,
                "detail": dict(item.detail),
                "received_at": now,
            }
        )
        result.recorded += 1
        if domain:
            domains.add(domain)
        detail = {"source": item.source, **dict(item.detail)}
        if item.kind in (HARD, COMPLAINT) and store.suppress(address, item.kind, detail, now):
            result.suppressed.append(address)
        elif item.kind == SOFT:
            since = now - timedelta(days=limits.soft_bounce_days)
            count = store.soft_bounces_since(address, since, SOFT)
            if count >= limits.soft_bounce_threshold and store.suppress(
                address, "soft_bounces", {**detail, "soft_bounces": count}, now
            ):
                result.suppressed.append(address)
        if contact_id is not None:
            name = "message.complained" if item.kind == COMPLAINT else "message.bounced"
            props: dict[str, Any] = {"address": address, "source": item.source}
            if row is not None:
                props |= message_event_properties(row)
            else:
                props["channel"] = "email"
            if item.kind != COMPLAINT:
                props["bounce_type"] = "hard" if item.kind == HARD else "soft"
            event = change_event(contact_id, name, props, now, "feedback")
            if ref:
                event["message_id"] = ref[:200]
            events.append(event)
    store.record_events(events, now)
    for domain in sorted(domains):
        if evaluate_domain(uow, domain, now, limits):
            result.paused_domains.append(domain)
    return result


# --------------------------------------------------------------------------- sending domains


def domain_rates(uow: FeedbackUnitOfWork, domain: str, now: datetime, limits: Limits) -> dict[str, Any]:
    """Rolling rates over the window; a resumed domain starts counting afresh from its resume."""
    store = uow.feedback
    since = now - timedelta(days=limits.rate_window_days)
    state = store.domain(domain)
    resumed = ((state or {}).get("detail") or {}).get("resumed_at")
    if resumed:
        since = max(since, datetime.fromisoformat(resumed))
    sent = store.sent_since(domain, since)
    counts = store.kinds_since(domain, since)
    bounces = int(counts.get(HARD, 0)) + int(counts.get(SOFT, 0))
    complaints = int(counts.get(COMPLAINT, 0))
    volume = max(int(sent), bounces + complaints)
    return {
        "domain": domain,
        "sent": volume,
        "bounces": bounces,
        "complaints": complaints,
        "bounce_rate": bounces / volume if volume else 0.0,
        "complaint_rate": complaints / volume if volume else 0.0,
        "window_days": limits.rate_window_days,
    }


def evaluate_domain(uow: FeedbackUnitOfWork, domain: str, now: datetime, limits: Limits) -> bool:
    """Pause the domain when a rate passes its limit (with enough volume). True when newly paused."""
    rates = domain_rates(uow, domain, now, limits)
    if rates["sent"] < limits.rate_min_volume:
        return False
    reasons = []
    if rates["bounce_rate"] > limits.bounce_rate_limit:
        reasons.append(f"bounce rate {rates['bounce_rate']:.2%} > {limits.bounce_rate_limit:.2%}")
    if rates["complaint_rate"] > limits.complaint_rate_limit:
        reasons.append(f"complaint rate {rates['complaint_rate']:.3%} > {limits.complaint_rate_limit:.3%}")
    if not reasons:
        return False
    store = uow.feedback
    current = store.domain(domain)
    if current is not None and current["status"] == "paused":
        return False
    reason = (
        f"{', '.join(reasons)} over {rates['sent']} messages in {limits.rate_window_days} days; "
        f"resume with POST /api/sending-domains/{domain}/resume"
    )
    values = {"status": "paused", "reason": reason, "detail": rates, "paused_at": now, "updated_at": now}
    if current is not None:  # keep the resume point, so the window stays what the rates used
        previous = current["detail"] or {}
        if previous.get("resumed_at"):
            values["detail"] = {**rates, "resumed_at": previous["resumed_at"]}
    store.save_domain(domain, values)
    log.warning("sending domain %s paused: %s", domain, reason)
    return True


def paused_domains(uow: FeedbackUnitOfWork, now: datetime) -> set[str]:
    """Every paused sending domain (one query per delivery batch)."""
    return uow.feedback.paused_domains()


def is_domain_paused(uow: FeedbackUnitOfWork, domain: str, now: datetime) -> bool:
    row = uow.feedback.domain(domain.lower())
    return row is not None and row["status"] == "paused"


def resume_domain(uow: FeedbackUnitOfWork, domain: str, now: datetime) -> bool:
    """An operator resumes a paused domain; its rates then count from now (history is kept)."""
    row = uow.feedback.domain(domain.lower())
    if row is None or row["status"] != "paused":
        return False
    detail = {**(row["detail"] or {}), "resumed_at": now.isoformat(), "last_pause": row["reason"]}
    uow.feedback.save_domain(domain.lower(), {"status": "active", "reason": None, "detail": detail, "updated_at": now})
    return True


def list_domains(uow: FeedbackUnitOfWork) -> list[dict[str, Any]]:
    return uow.feedback.list_domains()


# --------------------------------------------------------------------------- the delivery loop's hook

#: how long email of a paused domain waits before the loop looks again.
HOLD = timedelta(minutes=15)


def hold_if_paused(
    feedback: DomainHolds, row: dict[str, Any], sender: str, paused: set[str], now: datetime
) -> Outcome | None:
    """An ``Outcome`` holding this email (pending, due again after ``HOLD``) when its sending
    domain is paused, else None. Called by ``prepare.py`` at claim time with ``paused_domains()``.
    The claim's attempt is given back: waiting for an operator is not a failed delivery."""
    from email.utils import parseaddr

    domain = domain_of(parseaddr(sender)[1])
    if not domain or domain not in paused:
        return None
    feedback.give_back_attempt(int(row["id"]))
    return Outcome(
        row,
        "pending",
        error=f"held: sending domain {domain} is paused (bounce/complaint rates); "
        f"resume with POST /api/sending-domains/{domain}/resume",
        next_attempt_at=now + HOLD,
        trace_action="message.held",
        trace_detail={"sending_domain": domain},
    )
