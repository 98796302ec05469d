"""Login throttling: failed web logins for one email, or from one client address, are slowed
down and then refused for a while.

Counts live in the ``login_throttle`` table (one row per key, updated under a row lock), so every
API process sees the same numbers and a restart forgets nothing. Keys:

* ``email:<sha256 of the normalised email>`` — whatever was typed, known user or not, so the
  answers never tell whether an account exists (the table holds no addresses either);
* ``addr:<client address>`` — with a higher limit, since an office shares one address.

Within a window of ``WINDOW`` from a key's first failure: after ``*_SLOW_AFTER`` failures every
further attempt must wait ``SLOW_STEP`` doubled per failure (at most ``SLOW_MAX``); at the limit
the key is blocked for ``LOCKOUT``. A blocked or slowed attempt is refused *before* the password is looked at (a right
password does not get through either). A successful login clears the email's row (not the
address's: see ``record_success``). Time comes from the caller (the container's clock).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.application.ports.access import AccessUnitOfWork, ThrottleRecord

WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
#: failures in a window before a key is blocked: per email, per client address.
EMAIL_LIMIT = 5
ADDRESS_LIMIT = 20
#: failures after which each next attempt has to wait (SLOW_STEP, doubled per failure).
EMAIL_SLOW_AFTER = 3
ADDRESS_SLOW_AFTER = 10
SLOW_STEP = timedelta(seconds=5)
SLOW_MAX = timedelta(minutes=1)


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused now, and when to try again."""

    retry_at: datetime
    locked: bool  # True: blocked for LOCKOUT; False: only slowed down

    def message(self, now: datetime) -> str:
        wait = max(1, int((self.retry_at - now).total_seconds() + 0.999))
        if self.locked:
            minutes = max(1, (wait + 59) // 60)
            return (
                "Too many failed logins. Logging in is blocked for a while: try again at "
                f"{self.retry_at.strftime('%H:%M')} UTC (in {minutes} minute{'s' if minutes != 1 else ''})."
            )
        return f"Too many failed logins. Wait {wait} second{'s' if wait != 1 else ''} before trying again."


def email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def address_key(address: str) -> str:
    return "addr:" + (address or "unknown")[:100]


def _limit(key: str) -> int:
    return EMAIL_LIMIT if key.startswith("email:") else ADDRESS_LIMIT


def _slow_after(key: str) -> int:
    return EMAIL_SLOW_AFTER if key.startswith("email:") else ADDRESS_SLOW_AFTER


def _keys(email: str, address: str | None) -> list[str]:
    keys = [email_key(email)]
    if address:
        keys.append(address_key(address))
    return keys


def _slow_delay(key: str, failures: int) -> timedelta:
    after = _slow_after(key)
    return min(SLOW_STEP * (2 ** min(failures - after, 10)), SLOW_MAX) if failures >= after else timedelta(0)


def _refusal(rows: list[ThrottleRecord], now: datetime) -> Refusal | None:
    refusals: list[Refusal] = []
    for row in rows:
        if row.window_started_at + WINDOW <= now and (row.blocked_until is None or row.blocked_until <= now):
            continue  # an old window: forgotten
        if row.blocked_until is not None and row.blocked_until > now:
            refusals.append(Refusal(row.blocked_until, locked=True))
            continue
        retry_at = row.last_failure_at + _slow_delay(row.key, row.failures)
        if retry_at > now:
            refusals.append(Refusal(retry_at, locked=False))
    if not refusals:
        return None
    return max(refusals, key=lambda r: (r.locked, r.retry_at))


def check(uow: AccessUnitOfWork, email: str, address: str | None, now: datetime) -> Refusal | None:
    """None if this attempt may check a password now; else the refusal (latest retry time wins)."""
    with uow:
        rows = uow.login_throttle.get_many(_keys(email, address))
    return _refusal(rows, now)


def record_failure(uow: AccessUnitOfWork, email: str, address: str | None, now: datetime) -> Refusal | None:
    """Count a failed attempt; returns the refusal that now applies to the next attempt, if any."""
    with uow:
        for key in _keys(email, address):
            row = uow.login_throttle.lock(key, now)
            failures, started = row.failures, row.window_started_at
            if started + WINDOW <= now and (row.blocked_until is None or row.blocked_until <= now):
                failures, started = 0, now  # a fresh window
            failures += 1
            blocked = now + LOCKOUT if failures >= _limit(key) else None
            uow.login_throttle.save(
                dataclasses.replace(
                    row,
                    failures=failures,
                    window_started_at=started,
                    last_failure_at=now,
                    blocked_until=blocked if blocked is not None else row.blocked_until,
                )
            )
        # rows no one has touched for a day are noise: keep the table small.
        uow.login_throttle.delete_idle_since(now - timedelta(days=1))
        uow.commit()
    return check(uow, email, address, now)


def record_success(uow: AccessUnitOfWork, email: str) -> None:
    """A right password: forget this email's failures.

    The client address's count is left to run out with its window: were it cleared too, one
    valid account would let a client try passwords against every other email without end."""
    with uow:
        uow.login_throttle.delete(email_key(email))
        uow.commit()
