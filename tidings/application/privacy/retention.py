"""Retention policies: show and change the policy, count what a run would delete (dry run), run
it in bounded batches (one short transaction each), log every run; and the worker's schedule.

Cut-offs are computed once, at the start, from the injected clock (``domain/retention.py``);
what each kind deletes and protects is the store's (``store/retention_sql.py``, docs/privacy.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.application.background import PollingService
from tidings.application.ports.clock import Clock
from tidings.application.ports.privacy import RetentionSessions
from tidings.domain.retention import RetentionPolicy, cutoffs, parse_policy, with_days

log = logging.getLogger("tidings.retention")

#: rows deleted per transaction: short locks, the worker and API keep going in between
BATCH = 1000
LOG_LIMIT = 50


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    actor: str
    started_at: datetime
    finished_at: datetime
    policy: dict[str, int | None]
    counts: dict[str, int]
    log_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.log_id,
            "dry_run": self.dry_run,
            "actor": self.actor,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "policy": self.policy,
            "counts": self.counts,
        }


def load_policy(sessions: RetentionSessions) -> RetentionPolicy:
    with sessions() as repo:
        return parse_policy(repo.policy_document())


def save_policy(sessions: RetentionSessions, doc: Mapping[str, Any], now: datetime) -> RetentionPolicy:
    """Replace the policy (kinds left out are turned off); ``InvalidPolicy`` on a bad document."""
    policy = parse_policy(doc)
    with sessions() as repo:
        repo.save_policy_document(policy.document(), now)
    return policy


def set_days(sessions: RetentionSessions, kind: str, days: int | None, now: datetime) -> RetentionPolicy:
    """Change one kind (None: off); ``InvalidPolicy`` for an unknown kind or bad days."""
    with sessions() as repo:
        policy = with_days(parse_policy(repo.policy_document()), kind, days)
        repo.save_policy_document(policy.document(), now)
    return policy


def run_retention(
    sessions: RetentionSessions, clock: Clock, *, actor: str, dry_run: bool, batch: int = BATCH
) -> RetentionReport:
    """Count (dry run) or delete, per enabled kind, the rows older than its cut-off; log the run."""
    started = clock.now()
    policy = load_policy(sessions)
    counts: dict[str, int] = {}
    for kind, cutoff in cutoffs(policy, started).items():
        if dry_run:
            with sessions() as repo:
                counts[kind] = repo.count(kind, cutoff)
            continue
        done = 0
        while True:
            with sessions() as repo:
                n = repo.delete_batch(kind, cutoff, batch)
            done += n
            if n < batch:
                break
        counts[kind] = done
    finished = clock.now()
    row = {
        "started_at": started,
        "finished_at": finished,
        "actor": actor,
        "dry_run": dry_run,
        "policy": policy.document(),
        "counts": counts,
    }
    with sessions() as repo:
        log_id = repo.add_log(row)
    log.info("retention %s by %s: %s", "dry run" if dry_run else "run", actor, counts or "no kind enabled")
    return RetentionReport(dry_run, actor, started, finished, policy.document(), counts, log_id)


def run_log(sessions: RetentionSessions, limit: int = LOG_LIMIT) -> list[dict[str, Any]]:
    with sessions() as repo:
        return repo.log(limit)


class RetentionRunner(PollingService):
    """The worker's schedule: one run every ``every`` seconds while some kind is enabled (a
    policy with every kind off writes no log row)."""

    name = "retention"

    def __init__(self, sessions: RetentionSessions, clock: Clock, *, every: float = 3600.0) -> None:
        super().__init__()
        self.sessions = sessions
        self.clock = clock
        self.every = every

    def run_once(self) -> RetentionReport | None:
        if not load_policy(self.sessions).enabled:
            return None
        return run_retention(self.sessions, self.clock, actor="worker", dry_run=False)
