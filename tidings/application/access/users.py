"""People who use the web app: accounts with a role, passwords hashed with scrypt, sessions.

Roles: ``admin`` (everything, users too), ``marketer`` (builds and runs segments, journeys,
templates) and ``viewer`` (reads only). Sessions are random tokens given to the browser in a
cookie; the database keeps only their sha256 (a stolen database does not log anyone in) and a
per-session CSRF token. A session ends on logout, on expiry and when its user's password
changes or the user is disabled (every session of that user is deleted). There is always at least
one enabled admin: the last one can be neither demoted nor disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.store import schema

ROLES = ("admin", "marketer", "viewer")
#: roles that may change things (every write route checks this on the server).
WRITER_ROLES = frozenset({"admin", "marketer"})
MIN_PASSWORD = 10
SESSION_LIFETIME = timedelta(days=7)

# scrypt cost: 2**14 * 8 * 128 bytes = 16 MiB of memory per hash, ~50 ms on this machine kind.
_N, _R, _P = 2**14, 8, 1


class UserError(ValueError):
    """A refused user operation; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    team: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in WRITER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if algo != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


#: a hash of nothing, checked when the email is unknown so both paths take the same time.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"use at least {MIN_PASSWORD} characters", "password")
    if len(password) > 1000:
        raise UserError("at most 1000 characters", "password")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise UserError("enter an email address like name@example.com", "email")
    return email


# --------------------------------------------------------------------------- users


def _row_user(row: sa.Row) -> User:  # type: ignore[type-arg]
    return User(id=row.id, email=row.email, name=row.name, role=row.role, team=row.team)


def create_user(
    engine: Engine,
    email: str,
    password: str,
    role: str,
    now: datetime,
    *,
    name: str = "",
    team: str | None = None,
) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}", "role")
    check_new_password(password)
    t = schema.users
    with engine.begin() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.email == email)).first() is not None:
            raise UserError(f"a user with email {email} already exists", "email")
        user_id = conn.execute(
            sa.insert(t)
            .values(
                email=email,
                name=name.strip(),
                password_hash=hash_password(password),
                role=role,
                team=team,
                created_at=now,
                password_changed_at=now,
            )
            .returning(t.c.id)
        ).scalar_one()
    return User(id=user_id, email=email, name=name.strip(), role=role, team=team)


def list_users(engine: Engine) -> list[dict[str, object]]:
    t = schema.users
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.c.id, t.c.email, t.c.name, t.c.role, t.c.team, t.c.created_at, t.c.disabled_at
            ).order_by(t.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def _active_admins_locked(conn: sa.Connection) -> list[int]:
    """Ids of the enabled admins, rows locked (PostgreSQL) so two admins demoting each other at once
    cannot both succeed. SQLite writers are serialised already (BEGIN IMMEDIATE)."""
    t = schema.users
    q = sa.select(t.c.id).where(t.c.role == "admin", t.c.disabled_at.is_(None)).order_by(t.c.id)
    return list(conn.execute(q.with_for_update()).scalars())


def _user_row(conn: sa.Connection, user_id: int) -> sa.Row:  # type: ignore[type-arg]
    t = schema.users
    row = conn.execute(sa.select(t).where(t.c.id == user_id).with_for_update()).first()
    if row is None:
        raise UserError(f"no user {user_id}", "user")
    return row


def _keeps_an_admin(actor: User, row: sa.Row, admins: list[int]) -> None:  # type: ignore[type-arg]
    """Refuse to take away the last enabled admin."""
    if row.id in admins and len(admins) <= 1:
        who = "you are" if row.id == actor.id else f"{row.email} is"
        raise UserError(f"{who} the last admin: make someone else an admin first", "role")


def update_user(
    engine: Engine, actor: User, user_id: int, *, role: str | None = None, team: str | None = None
) -> User:
    """Change a user's role and/or team (``team=""`` clears it). Sessions stay: the role is read
    on every request, so the change applies at once."""
    if role is not None and role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}", "role")
    t = schema.users
    with engine.begin() as conn:
        admins = _active_admins_locked(conn)  # locked first, always in the same order: no deadlock
        row = _user_row(conn, user_id)
        values: dict[str, object] = {}
        if role is not None and role != row.role:
            if row.role == "admin":
                _keeps_an_admin(actor, row, admins)
            values["role"] = role
        if team is not None:
            clean = " ".join(team.split())[:100] or None
            if clean != row.team:
                values["team"] = clean
        if values:
            conn.execute(sa.update(t).where(t.c.id == user_id).values(**values))
        return _row_user(conn.execute(sa.select(t).where(t.c.id == user_id)).one())


def set_disabled(engine: Engine, actor: User, user_id: int, disabled: bool, now: datetime) -> User:
    """Disable (every session ends at once, logging in is refused) or enable a user."""
    t = schema.users
    with engine.begin() as conn:
        admins = _active_admins_locked(conn)
        row = _user_row(conn, user_id)
        if disabled and row.disabled_at is None:
            if row.role == "admin":
                _keeps_an_admin(actor, row, admins)
            conn.execute(sa.update(t).where(t.c.id == user_id).values(disabled_at=now))
            conn.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.user_id == user_id))
        elif not disabled and row.disabled_at is not None:
            conn.execute(sa.update(t).where(t.c.id == user_id).values(disabled_at=None))
    return _row_user(row)


def get_user_by_email(engine: Engine, email: str) -> User | None:
    t = schema.users
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t).where(t.c.email == email.strip().lower(), t.c.disabled_at.is_(None))
        ).first()
    return _row_user(row) if row else None


def authenticate(engine: Engine, email: str, password: str) -> User | None:
    """The user with this email and password, or None (same work either way)."""
    t = schema.users
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.email == email.strip().lower())).first()
    if row is None or row.disabled_at is not None:
        verify_password(password, _dummy_hash())
        return None
    return _row_user(row) if verify_password(password, row.password_hash) else None


def set_password(engine: Engine, email: str, password: str, now: datetime) -> User:
    """Change a password and end every session of that user."""
    check_new_password(password)
    t = schema.users
    with engine.begin() as conn:
        row = conn.execute(sa.select(t).where(t.c.email == email.strip().lower())).first()
        if row is None:
            raise UserError(f"no user with email {email}", "email")
        conn.execute(
            sa.update(t)
            .where(t.c.id == row.id)
            .values(password_hash=hash_password(password), password_changed_at=now)
        )
        conn.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.user_id == row.id))
    return _row_user(row)


def change_password(engine: Engine, user: User, current: str, new: str, now: datetime) -> None:
    if authenticate(engine, user.email, current) is None:
        raise UserError("that is not your current password", "current")
    try:
        set_password(engine, user.email, new, now)
    except UserError as exc:
        raise UserError(str(exc), "new") from exc


# --------------------------------------------------------------------------- sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    engine: Engine, user: User, now: datetime, lifetime: timedelta = SESSION_LIFETIME
) -> tuple[str, str]:
    """A new session: returns (cookie token, csrf token). Only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.expires_at <= now))
        conn.execute(
            sa.insert(schema.web_sessions).values(
                token_hash=_token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token, csrf


def load_session(engine: Engine, token: str, now: datetime) -> Session | None:
    if not token or len(token) > 200:
        return None
    s, u = schema.web_sessions, schema.users
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                u.c.id,
                u.c.email,
                u.c.name,
                u.c.role,
                u.c.team,
                u.c.disabled_at,
                s.c.csrf_token,
                s.c.expires_at,
            )
            .select_from(s.join(u, u.c.id == s.c.user_id))
            .where(s.c.token_hash == _token_hash(token))
        ).first()
    if row is None or row.expires_at <= now or row.disabled_at is not None:
        return None
    return Session(user=_row_user(row), csrf_token=row.csrf_token, expires_at=row.expires_at)


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.delete(schema.web_sessions).where(schema.web_sessions.c.token_hash == _token_hash(token))
        )
