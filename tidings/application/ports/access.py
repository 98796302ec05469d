"""Ports of the access capability: web users, their sessions, API keys, login throttling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tidings.application.ports.uow import UnitOfWork
from tidings.domain.access import ApiKeyRecord, SessionRecord, ThrottleRecord, UserRecord

__all__ = [
    "AccessUnitOfWork",
    "ApiKeyRecord",
    "ApiKeyRepository",
    "LoginThrottleRepository",
    "SessionRecord",
    "SessionRepository",
    "ThrottleRecord",
    "UserRecord",
    "UserRepository",
]


class UserRepository(Protocol):
    def add(
        self,
        *,
        email: str,
        name: str,
        password_hash: str,
        role: str,
        team: str | None,
        now: datetime,
    ) -> int:
        """A new user's id (the email is not checked here: see ``by_email`` first)."""
        ...

    def get(self, user_id: int, *, for_update: bool = False) -> UserRecord | None: ...

    def by_email(self, email: str) -> UserRecord | None:
        """The user with exactly this (normalised) email, enabled or not."""
        ...

    def all(self) -> list[UserRecord]:
        """Every user, by id."""
        ...

    def enabled_admin_ids(self, *, for_update: bool = False) -> list[int]:
        """Ids of the enabled admins, by id; ``for_update`` locks their rows (PostgreSQL)."""
        ...

    def enabled_team_emails(self, team: str) -> list[str]:
        """Emails of the enabled users of ``team``, sorted."""
        ...

    def set_role(self, user_id: int, role: str) -> None: ...

    def set_team(self, user_id: int, team: str | None) -> None: ...

    def set_disabled_at(self, user_id: int, disabled_at: datetime | None) -> None: ...

    def set_preferences(self, user_id: int, *, locale: str | None, timezone: str | None) -> None:
        """The user's web UI language and time zone (None: Accept-Language, UTC)."""
        ...

    def set_password_hash(self, user_id: int, password_hash: str, now: datetime) -> None: ...


class SessionRepository(Protocol):
    def add(self, session: SessionRecord) -> None: ...

    def find(self, token_hash: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session with this token hash and its user (expired or not)."""
        ...

    def delete(self, token_hash: str) -> None: ...

    def delete_for_user(self, user_id: int) -> None: ...

    def delete_expired(self, now: datetime) -> None:
        """Drop the sessions whose ``expires_at`` is at or before ``now``."""
        ...


class ApiKeyRepository(Protocol):
    def add(
        self, *, name: str, prefix: str, key_hash: str, scopes: Sequence[str], now: datetime,
        origins: Sequence[str] = (),
    ) -> int: ...

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not."""
        ...

    def all(self) -> list[ApiKeyRecord]:
        """Every key, by id."""
        ...

    def revoke(self, key_id: int, now: datetime) -> bool:
        """Mark a live key revoked; False when there is no such live key."""
        ...

    def live_origins(self) -> frozenset[str]:
        """The allowed origins of every live (not revoked) browser key."""
        ...


class LoginThrottleRepository(Protocol):
    def get_many(self, keys: Sequence[str]) -> list[ThrottleRecord]: ...

    def lock(self, key: str, now: datetime) -> ThrottleRecord:
        """The key's row, created (no failures, window starting ``now``) when missing, and locked
        for the rest of the transaction, so concurrent failures queue on it."""
        ...

    def save(self, record: ThrottleRecord) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_idle_since(self, cutoff: datetime) -> None:
        """Drop rows whose last failure is before ``cutoff``."""
        ...


class AccessUnitOfWork(UnitOfWork, Protocol):
    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def login_throttle(self) -> LoginThrottleRepository: ...
