"""The worker's part of a campaign: start it, enqueue its messages in batches, pick the A/B winner.

One pass (:meth:`CampaignSender.run_once`) walks the campaigns with work now, one transaction
per step:

1. **start** (``scheduled``, start instant reached): the segment's members are frozen as the
   campaign's recipients, each with its variant (the A/B test group; the rest waits) and its
   throttled slot (``domain/campaigns``); status ``sending``.
2. **enqueue**: up to ``batch`` recipients without an outbox row get one (kind ``message``,
   category ``marketing``, due at its slot, idempotency key ``campaign:<id>:<contact>``) and are
   marked with it in the same transaction. The outbox key is unique and the mark is in the same
   transaction, so a crash at any point resumes where it stopped and nobody gets two messages.
   The global send policy (``application/control``) is asked for each message: caps and quiet
   hours delay its slot (or skip it, per ``on_cap``); consent, suppression, paused domains and
   the kill switch are checked by the delivery loop when it claims the row, as for journeys.
3. **winner** (A/B, the review instant reached, the test group enqueued): the counts per
   variant (sent, and human opens or clicks) go through the experiments statistics; the
   waiting recipients get the winning subject and their slots.
4. **finish**: nothing left to enqueue and nobody waiting: status ``sent``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tidings.application.ports.campaigns import CampaignsUnitOfWork
from tidings.application.ports.clock import Clock
from tidings.domain.campaigns import abtest, schedule, throttle
from tidings.domain.campaigns.model import CampaignSpec, check_transition, spec_from_row, zone
from tidings.domain.control.policy import SendPolicy

log = logging.getLogger("tidings.campaigns")

BATCH = 500
#: the longest cap window the policy may count (a calendar week, and a margin)
RECENT = timedelta(days=8)


class _Sent:
    __slots__ = ("at", "category", "channel")

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.channel, self.at, self.category = str(row["channel"]), row["at"], row["category"]


class CampaignSender:
    """The campaign steps of the worker; also run as its own background thread (``start``)."""

    name = "campaign-sender"

    def __init__(
        self,
        uow: Callable[[], CampaignsUnitOfWork],
        clock: Clock,
        *,
        policy: Callable[[], SendPolicy] = SendPolicy,
        default_timezone: str = "UTC",
        batch: int = BATCH,
        every: float = 0.25,
    ) -> None:
        self.uow, self.clock, self.policy = uow, clock, policy
        self.default_timezone = default_timezone
        self.batch = batch
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- service

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                did = self.run_once()
            except Exception:  # the next pass tries again (database restarts...)
                log.exception("campaign pass failed")
                did = 0
            if not did:
                self._stop.wait(self.every)

    # ----------------------------------------------------------------- steps

    def run_once(self) -> int:
        """One step of every campaign with work now; returns how many steps did something."""
        now = self.clock.now()
        with self.uow() as uow:
            due = uow.campaigns.due(now)
        done = 0
        for row in due:
            done += self.step(str(row["key"]), now)
        return done

    def step(self, key: str, now: datetime) -> int:
        """One transaction of work on one campaign (1 when it did something)."""
        policy = self.policy()  # read before the write transaction (its own connection)
        with self.uow() as uow:
            row = uow.campaigns.get(key)
            if row is None:
                return 0
            if row["status"] == "scheduled" and row["start_at"] is not None and row["start_at"] <= now:
                self._start(uow, row, now)
            elif row["status"] == "sending":
                if not (
                    self._enqueue(uow, row, now, policy) or self._winner(uow, row, now) or self._finish(uow, row, now)
                ):
                    return 0
            else:
                return 0
            uow.commit()
            return 1

    def _start(self, uow: CampaignsUnitOfWork, row: Mapping[str, Any], now: datetime) -> None:
        spec = spec_from_row(row)
        members = uow.campaigns.audience(spec.segment)
        zones = dict(members)
        ids = [cid for cid, _ in members]
        share = spec.ab.test_share if spec.ab and spec.is_ab else 1.0
        variants = abtest.assign(spec.key, ids, len(spec.subjects), share)
        start = row["start_at"] or now
        first = [
            (schedule.send_time(spec.schedule, start, zone(zones[cid], self.default_timezone)), cid)
            for cid in ids
            if variants[cid] is not None
        ]
        first.sort()
        slots = throttle.plan([t for t, _ in first], spec.throttle)
        planned = {cid: at for (_, cid), at in zip(first, slots, strict=True)}
        uow.campaigns.freeze(
            int(row["id"]),
            [{"contact_id": cid, "variant": variants[cid], "send_at": planned.get(cid)} for cid in ids],
        )
        values: dict[str, Any] = {"status": check_transition("start", row["status"]), "started_at": now,
                                  "updated_at": now}
        if spec.is_ab and spec.ab is not None:
            values["winner_due_at"] = now + timedelta(hours=spec.ab.winner_after_hours)
        uow.campaigns.update(int(row["id"]), values)
        log.info("campaign %s started: %d recipients", spec.key, len(ids))

    def _enqueue(self, uow: CampaignsUnitOfWork, row: Mapping[str, Any], now: datetime, policy: SendPolicy) -> bool:
        todo = uow.campaigns.unqueued(int(row["id"]), now, self.batch)
        if not todo:
            return False
        spec = spec_from_row(row)
        checked = bool(policy.caps or policy.quiet_hours)
        recent: dict[int, list[_Sent]] = {}
        if checked:
            since = min(r["send_at"] for r in todo) - RECENT
            for s in uow.campaigns.recent_sends([int(r["contact_id"]) for r in todo], since):
                recent.setdefault(int(s["contact_id"]), []).append(_Sent(s))
        keys: list[tuple[int, str]] = []
        for r in todo:
            cid = int(r["contact_id"])
            out = self._message(uow, spec, int(row["id"]), r, policy if checked else None, recent.get(cid, []))
            uow.outbox.enqueue(cid, [out], now)  # a key already there (a crash before the mark) is kept
            keys.append((cid, str(out["idempotency_key"])))
        ids = uow.campaigns.outbox_ids([k for _, k in keys])
        uow.campaigns.mark_queued(int(row["id"]), [(cid, ids[k]) for cid, k in keys])
        return True

    def _message(
        self,
        uow: CampaignsUnitOfWork,
        spec: CampaignSpec,
        campaign_id: int,
        r: Mapping[str, Any],
        policy: SendPolicy | None,
        recent: Sequence[_Sent],
    ) -> dict[str, Any]:
        cid, variant, at = int(r["contact_id"]), str(r["variant"]), r["send_at"]
        payload: dict[str, Any] = {"campaign": spec.key, "variant": variant}
        names = abtest.variant_names(len(spec.subjects))
        if spec.subjects:
            payload["subject"] = spec.subjects[names.index(variant)] if variant in names else spec.subjects[0]
        out: dict[str, Any] = {
            "kind": "message",
            "channel": spec.channel,
            "category": "marketing",
            "template": spec.template,
            "idempotency_key": f"campaign:{campaign_id}:{cid}",
            "payload": payload,
            "next_attempt_at": at,
        }
        if policy is not None:
            contact = uow.contacts.get(cid) or {}
            tz = zone(contact.get("timezone"), self.default_timezone)
            verdict = policy.check(recent, at, spec.channel, "marketing", tz, exempt=False)
            if verdict is not None:
                action, retry_at, detail = verdict
                if action == "skip":
                    out |= {"status": "skipped", "error": f"send policy: {detail.get('reason', 'cap')}"}
                elif retry_at is not None:
                    out["next_attempt_at"] = retry_at
        return out

    def _winner(self, uow: CampaignsUnitOfWork, row: Mapping[str, Any], now: datetime) -> bool:
        spec = spec_from_row(row)
        if not spec.is_ab or spec.ab is None or row["winner"] is not None:
            return False
        if row["winner_due_at"] is None or row["winner_due_at"] > now:
            return False
        kind = "click" if spec.ab.metric == "clicks" else "open_human"
        counts = uow.campaigns.variant_counts(int(row["id"]), kind)
        for name in abtest.variant_names(len(spec.subjects)):
            counts.setdefault(name, (0, 0))
        choice = abtest.choose(counts, spec.ab.metric)
        waiting = uow.campaigns.recipients(int(row["id"]), waiting=True)
        start = max(now, row["start_at"] or now)
        ids = [int(w["contact_id"]) for w in waiting]
        times = sorted((schedule.send_time(spec.schedule, start, self._zone(uow, spec, cid)), cid) for cid in ids)
        previous = uow.campaigns.latest_slots(int(row["id"]), spec.throttle.max) if spec.throttle else []
        slots = throttle.plan([t for t, _ in times], spec.throttle, previous)
        given = [(cid, choice.winner, at) for (_, cid), at in zip(times, slots, strict=True)]
        uow.campaigns.assign(int(row["id"]), given)
        uow.campaigns.update(
            int(row["id"]),
            {"winner": choice.winner, "winner_verdict": choice.verdict, "winner_detail": choice.detail,
             "updated_at": now},
        )
        log.info("campaign %s: winner %s (%s)", spec.key, choice.winner, choice.verdict)
        return True

    def _zone(self, uow: CampaignsUnitOfWork, spec: CampaignSpec, contact_id: int) -> ZoneInfo:
        """The contact's zone (only a local-time schedule needs it)."""
        if spec.schedule.kind != "local":
            return ZoneInfo("UTC")
        return zone((uow.contacts.get(contact_id) or {}).get("timezone"), self.default_timezone)

    def _finish(self, uow: CampaignsUnitOfWork, row: Mapping[str, Any], now: datetime) -> bool:
        if uow.campaigns.recipients(int(row["id"]), waiting=True):
            return False  # the A/B rest waits for the winner
        uow.campaigns.update(int(row["id"]), {"status": check_transition("finish", row["status"]), "finished_at": now,
                                              "updated_at": now})
        log.info("campaign %s: every message enqueued", row["key"])
        return True
