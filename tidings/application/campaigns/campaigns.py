"""Campaign use cases: create, edit, list, show, approve, schedule, cancel, the report.

Each takes an open unit of work (``CampaignsUnitOfWork``) and leaves the commit to the caller
(the API route's transaction, the CLI's, the web page's). Who did what is recorded by name
(``by``: a user's email, ``key:<name>`` for an API key, ``cli`` for the command line).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.application.ports.analytics import AnalyticsRepository
from tidings.application.ports.campaigns import CampaignsUnitOfWork
from tidings.domain.campaigns.model import (
    CampaignError,
    CampaignSpec,
    check_transition,
    parse_spec,
    spec_from_row,
)
from tidings.domain.campaigns.schedule import start_instant


class CampaignNotFound(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"campaign {key!r} not found")
        self.key = key


def _spec_columns(spec: CampaignSpec) -> dict[str, Any]:
    d = spec.to_dict()
    return {k: d[k] for k in ("name", "segment", "template", "channel", "subjects", "schedule", "throttle", "ab")}


def _check_refs(uow: CampaignsUnitOfWork, spec: CampaignSpec) -> None:
    problems: list[tuple[str, str]] = []
    if not uow.campaigns.segment_exists(spec.segment):
        problems.append(("segment", f"no segment {spec.segment!r}"))
    if spec.template not in {r["key"] for r in uow.templates.all(spec.channel)}:
        problems.append(("template", f"no {spec.channel} template {spec.template!r}"))
    if problems:
        raise CampaignError(problems)


def get(uow: CampaignsUnitOfWork, key: str) -> dict[str, Any]:
    row = uow.campaigns.get(key)
    if row is None:
        raise CampaignNotFound(key)
    return row


def create(uow: CampaignsUnitOfWork, raw: Mapping[str, Any], now: datetime, *, by: str | None) -> dict[str, Any]:
    """A new draft. Raises CampaignError (field paths) for a bad document or a taken key."""
    spec = parse_spec(raw)
    if uow.campaigns.get(spec.key) is not None:
        raise CampaignError([("key", f"a campaign {spec.key!r} exists")])
    _check_refs(uow, spec)
    uow.campaigns.add(
        {"key": spec.key, **_spec_columns(spec), "status": "draft", "created_by": by, "created_at": now,
         "updated_at": now}
    )
    return get(uow, spec.key)


def edit(uow: CampaignsUnitOfWork, key: str, raw: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Replace the document of a draft or approved campaign; an approval is dropped."""
    row = get(uow, key)
    check_transition("edit", row["status"])
    spec = parse_spec({**raw, "key": key})
    _check_refs(uow, spec)
    uow.campaigns.update(
        row["id"],
        {**_spec_columns(spec), "status": "draft", "approved_by": None, "approved_at": None, "audience_count": None,
         "updated_at": now},
    )
    return get(uow, key)


def approve(uow: CampaignsUnitOfWork, key: str, now: datetime, *, by: str) -> dict[str, Any]:
    """Record who approved it and when, with the segment's size at that moment."""
    row = get(uow, key)
    status = check_transition("approve", row["status"])
    spec = spec_from_row(row)
    _check_refs(uow, spec)
    n = uow.campaigns.audience_count(spec.segment)
    uow.campaigns.update(row["id"], {"status": status, "approved_by": by, "approved_at": now, "audience_count": n,
                                     "updated_at": now})
    return get(uow, key)


def schedule(uow: CampaignsUnitOfWork, key: str, now: datetime) -> dict[str, Any]:
    """An approved campaign goes to the worker, which starts it at its start instant."""
    row = get(uow, key)
    status = check_transition("schedule", row["status"])
    start = start_instant(spec_from_row(row).schedule, now)
    uow.campaigns.update(row["id"], {"status": status, "start_at": start, "updated_at": now})
    return get(uow, key)


def cancel(uow: CampaignsUnitOfWork, key: str, now: datetime) -> dict[str, Any]:
    """Stop it: nothing more is enqueued, and its messages not yet claimed are skipped."""
    row = get(uow, key)
    status = check_transition("cancel", row["status"])
    uow.campaigns.skip_pending(row["id"], f"campaign {key!r} cancelled")
    uow.campaigns.update(row["id"], {"status": status, "cancelled_at": now, "updated_at": now})
    return get(uow, key)


def listing(uow: CampaignsUnitOfWork) -> list[dict[str, Any]]:
    return uow.campaigns.listing()


def audience_size(uow: CampaignsUnitOfWork, segment: str) -> int:
    """The segment's current size (shown before approval)."""
    return uow.campaigns.audience_count(segment)


def show(uow: CampaignsUnitOfWork, key: str) -> dict[str, Any]:
    """The campaign, its progress and (when it has one) its A/B test so far."""
    row = get(uow, key)
    out = public(row)
    out["progress"] = progress(uow, row)
    if row["status"] in ("draft", "approved", "scheduled"):
        out["audience_now"] = uow.campaigns.audience_count(row["segment"])
    if len(row["subjects"] or []) >= 2 and row["started_at"] is not None:
        kind = "click" if (row["ab"] or {}).get("metric") == "clicks" else "open_human"
        counts = uow.campaigns.variant_counts(row["id"], kind)
        out["variants"] = [
            {"variant": chr(ord("A") + i), "subject": s, "sent": counts.get(chr(ord("A") + i), (0, 0))[0],
             "converted": counts.get(chr(ord("A") + i), (0, 0))[1]}
            for i, s in enumerate(row["subjects"])
        ]
    return out


def progress(uow: CampaignsUnitOfWork, row: Mapping[str, Any]) -> dict[str, int]:
    """queued (not sent yet), sent, failed, skipped (consent, suppression, caps) and waiting."""
    p = uow.campaigns.progress(int(row["id"]))
    return {
        "audience": p.get("audience", 0),
        "waiting": p.get("waiting", 0),
        "queued": p.get("pending", 0) + p.get("sending", 0),
        "sent": p.get("sent", 0) + p.get("delivered", 0),
        "failed": p.get("failed", 0) + p.get("dead", 0) + p.get("uncertain", 0),
        "skipped": p.get("skipped", 0) + p.get("suppressed", 0),
    }


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """The campaign as the API, the CLI (--json) and the web show it."""
    def iso(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else v

    keys = ("key", "name", "segment", "template", "channel", "subjects", "schedule", "throttle", "ab", "status",
            "audience_count", "approved_by", "approved_at", "start_at", "started_at", "finished_at", "cancelled_at",
            "winner_due_at", "winner", "winner_verdict", "winner_detail", "created_by", "created_at", "updated_at")
    return {k: iso(row[k]) for k in keys}


def test_renders(
    uow: CampaignsUnitOfWork, key: str, *, contact_id: int | None, public_url: str
) -> list[tuple[str, dict[str, Any]]]:
    """(variant, rendered) for a test of each subject, through the templates' preview (the one
    send-test path, ``application/delivery/send_test.py``, sends them)."""
    from tidings.application.delivery.templates import preview

    row = get(uow, key)
    subjects: list[str | None] = list(row["subjects"] or []) or [None]
    out = []
    for i, subject in enumerate(subjects):
        rendered = preview(uow, row["template"], contact_id=contact_id, locale=None, public_url=public_url,
                           subject=subject)
        out.append((chr(ord("A") + i), rendered))
    return out


def report(uow: CampaignsUnitOfWork, analytics: AnalyticsRepository, key: str) -> dict[str, Any]:
    """The campaign, its progress and variants, and its results from the analytics rollups
    (sent, delivered, human opens, clicks, unsubscribes, conversions, revenue; by template)."""
    from tidings.application.analytics import reports

    out = show(uow, key)
    block = reports.campaign_report(analytics, key, reports.Range())
    out["results"] = block["totals"]
    out["analytics"] = block
    return out
