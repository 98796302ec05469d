"""A vendor's webhook delivery: authenticate it, map it to spec events, write it through ingest.

1. The signature is checked against the secret of each source of that vendor (or of the one
   source the URL names): none matches -> :class:`SignatureRefused` (401), nothing stored.
2. Zoom's URL validation is answered with its challenge (nothing stored).
3. The pure mapping (``domain/vendors``) gives tracking calls; they go through the one ingest use
   case with message ids from the vendor's ids (a retried delivery is stored once), together
   with the checkouts watched for abandonment, in one transaction.
4. A topic that is not mapped is accepted and ignored (logged).
5. Meta lead ads name the lead only: each one is read from the Graph API through the
   ``LeadFetcher`` port (after the signature verified, before anything is stored); a fetch that
   fails is :class:`LeadFetchError` (503: Meta retries), nothing stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.application.contacts.contacts import normalise_input
from tidings.application.ingest.ingest import Incoming, IngestError
from tidings.application.ports.sources import LeadFetcher, LeadFetchError, SourceRecord
from tidings.application.sources.intake import IntakeRunner, IntakeTransaction
from tidings.domain.contacts import InvalidValue, normalise_email
from tidings.domain.vendors import leadforms, signatures
from tidings.domain.vendors.delivery import map_delivery, parse_body, topic_of
from tidings.domain.vendors.model import Mapped, PayloadError, VendorCall
from tidings.domain.vendors.zoom import URL_VALIDATION

log = logging.getLogger("tidings.sources")


class SignatureRefused(Exception):
    """No source's secret verifies the delivery (the reason is logged, never answered)."""


class DeliveryRefused(ValueError):
    """A verified delivery whose body cannot be read as the vendor documents it (422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Receipt:
    source_id: int
    topic: str
    #: stored | ignored | challenge
    status: str
    accepted: int = 0
    duplicates: list[str] = field(default_factory=list)
    reason: str | None = None
    #: Zoom's URL validation answer
    challenge: dict[str, str] | None = None


def authenticate(
    vendor: str, candidates: Sequence[SourceRecord], headers: Mapping[str, str], body: bytes, wall_now: datetime
) -> SourceRecord:
    """The source whose secret signed the delivery. ``wall_now``: real time (signed timestamps)."""
    reasons = []
    for source in candidates:
        if source.vendor != vendor:
            continue
        reason = signatures.verify(vendor, source.secret, headers, body, wall_now)
        if reason is None:
            return source
        reasons.append(f"source {source.id}: {reason}")
    log.warning("%s webhook refused: %s", vendor, "; ".join(reasons) or "no source of this vendor")
    raise SignatureRefused(vendor)


def to_incoming(call: VendorCall, index: int, now: datetime) -> Incoming:
    when = call.occurred_at or now
    if call.kind == "identify":
        changes = _traits(call, now)
        return Incoming(kind="identify", message_id=call.message_id, occurred_at=when,
                        anonymous_id=call.anonymous_id, changes=changes, index=index)
    try:
        email = normalise_email(call.email) if call.email else None
    except InvalidValue as exc:
        raise DeliveryRefused(f"email: {exc.message}") from None
    return Incoming(kind="track", message_id=call.message_id, occurred_at=when, name=call.name,
                    properties=dict(call.properties), email=email,
                    anonymous_id=None if email else call.anonymous_id, index=index)


def _traits(call: VendorCall, now: datetime) -> dict[str, Any]:
    """The identify traits, normalised. A vendor's phone or name we cannot read is dropped with a
    warning (a paid order is not refused for a phone without its country code); a bad email
    refuses the delivery."""
    traits = dict(call.traits)
    while True:
        try:
            return normalise_input(traits, now)
        except InvalidValue as exc:
            top = exc.field.split(".")[0]
            if top == "email" or top not in traits:
                raise DeliveryRefused(f"{exc.field}: {exc.message}") from None
            log.warning("%s: trait %s dropped: %s", call.message_id, exc.field, exc.message)
            traits.pop(top)


def receive(
    vendor: str,
    candidates: Sequence[SourceRecord],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    wall_now: datetime,
    run: IntakeRunner,
    leads: LeadFetcher | None = None,
) -> Receipt:
    """One delivery; ``headers`` with lower-case names. Raises SignatureRefused / DeliveryRefused
    (and LeadFetchError for a Meta lead that cannot be read)."""
    source = authenticate(vendor, candidates, headers, body, wall_now)
    try:
        if vendor == "zoom":
            payload = parse_body(body)
            if payload.get("event") == URL_VALIDATION:
                return _challenge(source, payload)
        mapped = _meta_leads(source, body, leads) if vendor == "meta-leads" else \
            map_delivery(vendor, source.id, headers, body)
    except PayloadError as exc:
        raise DeliveryRefused(str(exc)) from None
    topic = headers.get("x-shopify-topic") or headers.get("x-wc-webhook-topic") or _topic(vendor, body)
    items = [to_incoming(c, i, now) for i, c in enumerate(mapped.calls)]
    watched = [(c, normalise_email(c.email)) for c in mapped.checkouts_seen]
    if mapped.ignored and not items and not mapped.checkouts_completed:
        log.info("source %s (%s) %s: ignored: %s", source.id, vendor, topic, mapped.ignored)
        return Receipt(source.id, topic, "ignored", reason=mapped.ignored)

    def work(tx: IntakeTransaction) -> Receipt:
        result = tx.ingest(items, now, f"{vendor}:{source.id}") if items else None
        if mapped.checkouts_completed:
            tx.checkouts.complete(source.id, mapped.checkouts_completed, now)
        until = now + timedelta(seconds=source.abandon_after_seconds)
        for seen, email in watched:
            tx.checkouts.watch(source.id, seen.checkout_id, email, seen.properties, now, until)
        if result is None:
            return Receipt(source.id, topic, "stored", reason=mapped.ignored)
        return Receipt(source.id, topic, "stored", accepted=result.accepted, duplicates=list(result.duplicates),
                       reason=mapped.ignored)

    try:
        receipt = run(work)
    except IngestError as exc:
        raise DeliveryRefused(f"{exc.field}: {exc.message}") from None
    log.info("source %s (%s) %s: %d accepted, %d repeated", source.id, vendor, topic, receipt.accepted,
             len(receipt.duplicates))
    return receipt


def _meta_leads(source: SourceRecord, body: bytes, leads: LeadFetcher | None) -> Mapped:
    """Every lead a Meta delivery announces, read from the Graph API and mapped."""
    refs, skipped = leadforms.meta_refs(parse_body(body))
    if not refs:
        return Mapped(ignored="; ".join(skipped) or "no leadgen change")
    if leads is None:
        raise LeadFetchError("Meta leads cannot be read: set TIDINGS_META_ACCESS_TOKEN")
    calls: list[VendorCall] = []
    reasons: list[str] = list(skipped)
    for ref in refs:
        one = leadforms.map_meta(source.id, ref, leads.fetch(ref.leadgen_id))
        calls.extend(one.calls)
        if one.ignored:
            reasons.append(one.ignored)
    return Mapped(calls=tuple(calls), ignored="; ".join(reasons) or None)


def _topic(vendor: str, body: bytes) -> str:
    try:
        return topic_of(vendor, {}, parse_body(body))
    except PayloadError:
        return ""


def _challenge(source: SourceRecord, payload: Mapping[str, Any]) -> Receipt:
    inner = payload.get("payload")
    plain = inner.get("plainToken") if isinstance(inner, Mapping) else None
    if not isinstance(plain, str) or not plain:
        raise DeliveryRefused("payload.plainToken: the URL validation needs a plainToken")
    token = signatures.zoom_validation_token(source.secret, plain)
    return Receipt(source.id, URL_VALIDATION, "challenge", challenge={"plainToken": plain, "encryptedToken": token})


def mapped_summary(mapped: Mapped) -> dict[str, Any]:
    """What a mapping produced, for the CLI's dry run and the docs."""
    return {
        "calls": [{"kind": c.kind, "name": c.name, "message_id": c.message_id, "properties": dict(c.properties)}
                  for c in mapped.calls],
        "checkouts_seen": [c.checkout_id for c in mapped.checkouts_seen],
        "checkouts_completed": list(mapped.checkouts_completed),
        "ignored": mapped.ignored,
    }
