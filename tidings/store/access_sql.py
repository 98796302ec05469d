"""SQL of the access capability: users, web sessions, API keys and login throttling.

Each repository works on the connection of the unit of work that made it (``sql_uow.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.access import ApiKeyRecord, SessionRecord, ThrottleRecord, UserRecord
from tidings.store import schema
from tidings.store.upsert import insert_or_ignore

U = schema.users
S = schema.web_sessions
K = schema.api_keys
LT = schema.login_throttle

_USER_COLUMNS = (
    U.c.id,
    U.c.email,
    U.c.name,
    U.c.role,
    U.c.team,
    U.c.password_hash,
    U.c.created_at,
    U.c.password_changed_at,
    U.c.disabled_at,
    U.c.locale,
    U.c.timezone,
)


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=int(row.id),
        email=row.email,
        name=row.name,
        role=row.role,
        team=row.team,
        password_hash=row.password_hash,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        disabled_at=row.disabled_at,
        locale=row.locale,
        timezone=row.timezone,
    )


class SqlUsers:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(
        self, *, email: str, name: str, password_hash: str, role: str, team: str | None, now: datetime
    ) -> int:
        q = (
            sa.insert(U)
            .values(
                email=email,
                name=name,
                password_hash=password_hash,
                role=role,
                team=team,
                created_at=now,
                password_changed_at=now,
            )
            .returning(U.c.id)
        )
        return int(self.conn.execute(q).scalar_one())

    def get(self, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        q = sa.select(*_USER_COLUMNS).where(U.c.id == user_id)
        row = self.conn.execute(q.with_for_update() if for_update else q).first()
        return _user(row) if row is not None else None

    def by_email(self, email: str) -> UserRecord | None:
        row = self.conn.execute(sa.select(*_USER_COLUMNS).where(U.c.email == email)).first()
        return _user(row) if row is not None else None

    def all(self) -> list[UserRecord]:
        return [_user(r) for r in self.conn.execute(sa.select(*_USER_COLUMNS).order_by(U.c.id))]

    def enabled_admin_ids(self, *, for_update: bool = False) -> list[int]:
        q = sa.select(U.c.id).where(U.c.role == "admin", U.c.disabled_at.is_(None)).order_by(U.c.id)
        return [int(x) for x in self.conn.execute(q.with_for_update() if for_update else q).scalars()]

    def enabled_team_emails(self, team: str) -> list[str]:
        q = sa.select(U.c.email).where(U.c.team == team, U.c.disabled_at.is_(None)).order_by(U.c.email)
        return list(self.conn.execute(q).scalars())

    def _set(self, user_id: int, **values: Any) -> None:
        self.conn.execute(sa.update(U).where(U.c.id == user_id).values(**values))

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


class SqlSessions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, session: SessionRecord) -> None:
        self.conn.execute(
            sa.insert(S).values(
                token_hash=session.token_hash,
                user_id=session.user_id,
                csrf_token=session.csrf_token,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    def find(self, token_hash: str) -> tuple[SessionRecord, UserRecord] | None:
        q = (
            sa.select(*_USER_COLUMNS, S.c.token_hash, S.c.csrf_token, S.c.expires_at, S.c.created_at.label("s_at"))
            .select_from(S.join(U, U.c.id == S.c.user_id))
            .where(S.c.token_hash == token_hash)
        )
        row = self.conn.execute(q).first()
        if row is None:
            return None
        session = SessionRecord(row.token_hash, int(row.id), row.csrf_token, row.s_at, row.expires_at)
        return session, _user(row)

    def delete(self, token_hash: str) -> None:
        self.conn.execute(sa.delete(S).where(S.c.token_hash == token_hash))

    def delete_for_user(self, user_id: int) -> None:
        self.conn.execute(sa.delete(S).where(S.c.user_id == user_id))

    def delete_expired(self, now: datetime) -> None:
        self.conn.execute(sa.delete(S).where(S.c.expires_at <= now))


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        int(row.id), row.name, row.prefix, tuple(row.scopes), row.created_at, row.revoked_at, tuple(row.origins or ())
    )


class SqlApiKeys:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    _COLUMNS = (K.c.id, K.c.name, K.c.prefix, K.c.scopes, K.c.created_at, K.c.revoked_at, K.c.origins)

    def add(
        self, *, name: str, prefix: str, key_hash: str, scopes: Sequence[str], now: datetime,
        origins: Sequence[str] = (),
    ) -> int:
        q = (
            sa.insert(K)
            .values(
                name=name, prefix=prefix, key_hash=key_hash, scopes=list(scopes), created_at=now,
                origins=list(origins) or None,
            )
            .returning(K.c.id)
        )
        return int(self.conn.execute(q).scalar_one())

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = self.conn.execute(sa.select(*self._COLUMNS).where(K.c.key_hash == key_hash)).first()
        return _key(row) if row is not None else None

    def all(self) -> list[ApiKeyRecord]:
        return [_key(r) for r in self.conn.execute(sa.select(*self._COLUMNS).order_by(K.c.id))]

    def revoke(self, key_id: int, now: datetime) -> bool:
        q = sa.update(K).where(K.c.id == key_id, K.c.revoked_at.is_(None)).values(revoked_at=now)
        return bool(self.conn.execute(q).rowcount)

    def live_origins(self) -> frozenset[str]:
        q = sa.select(K.c.origins).where(K.c.origins.is_not(None), K.c.revoked_at.is_(None))
        return frozenset(o for row in self.conn.execute(q).scalars() for o in row or ())


def _throttle(row: Any) -> ThrottleRecord:
    return ThrottleRecord(
        row.key, int(row.failures), row.window_started_at, row.last_failure_at, row.blocked_until
    )


class SqlLoginThrottle:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get_many(self, keys: Sequence[str]) -> list[ThrottleRecord]:
        return [_throttle(r) for r in self.conn.execute(sa.select(LT).where(LT.c.key.in_(list(keys))))]

    def lock(self, key: str, now: datetime) -> ThrottleRecord:
        values = {"key": key, "failures": 0, "window_started_at": now, "last_failure_at": now}
        self.conn.execute(insert_or_ignore(self.conn, LT, values, ["key"]))
        return _throttle(self.conn.execute(sa.select(LT).where(LT.c.key == key).with_for_update()).one())

    def save(self, record: ThrottleRecord) -> None:
        self.conn.execute(
            sa.update(LT)
            .where(LT.c.key == record.key)
            .values(
                failures=record.failures,
                window_started_at=record.window_started_at,
                last_failure_at=record.last_failure_at,
                blocked_until=record.blocked_until,
            )
        )

    def delete(self, key: str) -> None:
        self.conn.execute(sa.delete(LT).where(LT.c.key == key))

    def delete_idle_since(self, cutoff: datetime) -> None:
        self.conn.execute(sa.delete(LT).where(LT.c.last_failure_at < cutoff))
