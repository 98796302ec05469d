"""In-memory users, sessions, API keys and login throttling (twins of ``store/access_sql.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from tidings.domain.access import ApiKeyRecord, SessionRecord, ThrottleRecord, UserRecord
from tidings.store.memory.state import MemoryStore


class MemoryUsers:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(
        self, *, email: str, name: str, password_hash: str, role: str, team: str | None, now: datetime
    ) -> int:
        s = self.store.state
        if any(u.email == email for u in s.users.values()):
            raise ValueError(f"users.email must be unique: {email!r} exists")
        user_id = s.next_id("users")
        s.users[user_id] = UserRecord(user_id, email, name, role, team, password_hash, now, now)
        return user_id

    def get(self, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        return self.store.state.users.get(user_id)

    def by_email(self, email: str) -> UserRecord | None:
        return next((u for u in self.store.state.users.values() if u.email == email), None)

    def all(self) -> list[UserRecord]:
        return [u for _, u in sorted(self.store.state.users.items())]

    def enabled_admin_ids(self, *, for_update: bool = False) -> list[int]:
        return sorted(u.id for u in self.store.state.users.values() if u.role == "admin" and u.disabled_at is None)

    def enabled_team_emails(self, team: str) -> list[str]:
        users = self.store.state.users.values()
        return sorted(u.email for u in users if u.team == team and u.disabled_at is None)

    def _set(self, user_id: int, **values: object) -> None:
        users = self.store.state.users
        if user_id in users:
            users[user_id] = dataclasses.replace(users[user_id], **values)  # type: ignore[arg-type]

    def set_role(self, user_id: int, role: str) -> None:
        self._set(user_id, role=role)

    def set_team(self, user_id: int, team: str | None) -> None:
        self._set(user_id, team=team)

    def set_disabled_at(self, user_id: int, disabled_at: datetime | None) -> None:
        self._set(user_id, disabled_at=disabled_at)

    def set_preferences(self, user_id: int, *, locale: str | None, timezone: str | None) -> None:
        self._set(user_id, locale=locale, timezone=timezone)

    def set_password_hash(self, user_id: int, password_hash: str, now: datetime) -> None:
        self._set(user_id, password_hash=password_hash, password_changed_at=now)


class MemorySessions:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, session: SessionRecord) -> None:
        s = self.store.state
        if session.token_hash in s.sessions:
            raise ValueError("web_sessions.token_hash must be unique")
        if session.user_id not in s.users:
            raise ValueError(f"web_sessions.user_id: no user {session.user_id}")
        s.sessions[session.token_hash] = session

    def find(self, token_hash: str) -> tuple[SessionRecord, UserRecord] | None:
        s = self.store.state
        session = s.sessions.get(token_hash)
        if session is None or session.user_id not in s.users:
            return None
        return session, s.users[session.user_id]

    def delete(self, token_hash: str) -> None:
        self.store.state.sessions.pop(token_hash, None)

    def delete_for_user(self, user_id: int) -> None:
        s = self.store.state
        s.sessions = {h: x for h, x in s.sessions.items() if x.user_id != user_id}

    def delete_expired(self, now: datetime) -> None:
        s = self.store.state
        s.sessions = {h: x for h, x in s.sessions.items() if x.expires_at > now}


class MemoryApiKeys:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(
        self, *, name: str, prefix: str, key_hash: str, scopes: Sequence[str], now: datetime,
        origins: Sequence[str] = (),
    ) -> int:
        s = self.store.state
        if any(h == key_hash for _, h in s.api_keys.values()):
            raise ValueError("api_keys.key_hash must be unique")
        key_id = s.next_id("api_keys")
        record = ApiKeyRecord(key_id, name, prefix, tuple(scopes), now, origins=tuple(origins))
        s.api_keys[key_id] = (record, key_hash)
        return key_id

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return next((k for k, h in self.store.state.api_keys.values() if h == key_hash), None)

    def all(self) -> list[ApiKeyRecord]:
        return [k for _, (k, _h) in sorted(self.store.state.api_keys.items())]

    def revoke(self, key_id: int, now: datetime) -> bool:
        keys = self.store.state.api_keys
        if key_id not in keys or keys[key_id][0].revoked_at is not None:
            return False
        record, key_hash = keys[key_id]
        keys[key_id] = (dataclasses.replace(record, revoked_at=now), key_hash)
        return True

    def live_origins(self) -> frozenset[str]:
        live = (k for k, _h in self.store.state.api_keys.values() if k.revoked_at is None)
        return frozenset(o for k in live for o in k.origins)


class MemoryLoginThrottle:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get_many(self, keys: Sequence[str]) -> list[ThrottleRecord]:
        rows = self.store.state.login_throttle
        return [rows[k] for k in dict.fromkeys(keys) if k in rows]

    def lock(self, key: str, now: datetime) -> ThrottleRecord:
        rows = self.store.state.login_throttle
        if key not in rows:
            rows[key] = ThrottleRecord(key, 0, now, now)
        return rows[key]

    def save(self, record: ThrottleRecord) -> None:
        rows = self.store.state.login_throttle
        if record.key in rows:
            rows[record.key] = record

    def delete(self, key: str) -> None:
        self.store.state.login_throttle.pop(key, None)

    def delete_idle_since(self, cutoff: datetime) -> None:
        s = self.store.state
        s.login_throttle = {k: r for k, r in s.login_throttle.items() if r.last_failure_at >= cutoff}
