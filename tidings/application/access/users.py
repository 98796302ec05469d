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

from tidings.application.ports.access import AccessUnitOfWork, SessionRecord, UserRecord
from tidings.domain.access import UI_LOCALES
from tidings.domain.contacts import InvalidValue, normalise_timezone

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
    #: the web UI's language (``UI_LOCALES``) and time zone; None: Accept-Language, UTC.
    locale: str | None = None
    timezone: str | None = None

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


def _user(record: UserRecord) -> User:
    return User(
        id=record.id, email=record.email, name=record.name, role=record.role, team=record.team,
        locale=record.locale, timezone=record.timezone,
    )


def create_user(
    uow: AccessUnitOfWork,
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
    password_hash = hash_password(password)  # scrypt before the transaction: no lock held meanwhile
    with uow:
        if uow.users.by_email(email) is not None:
            raise UserError(f"a user with email {email} already exists", "email")
        user_id = uow.users.add(
            email=email, name=name.strip(), password_hash=password_hash, role=role, team=team, now=now
        )
        uow.commit()
    return User(id=user_id, email=email, name=name.strip(), role=role, team=team)


def list_users(uow: AccessUnitOfWork) -> list[dict[str, object]]:
    with uow:
        return [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "team": u.team,
                "created_at": u.created_at,
                "disabled_at": u.disabled_at,
            }
            for u in uow.users.all()
        ]


def _locked(uow: AccessUnitOfWork, user_id: int) -> tuple[list[int], UserRecord]:
    """The enabled admins' ids and the user, rows locked (PostgreSQL) so two admins demoting each
    other at once cannot both succeed; always in this order, so no deadlock. SQLite writers are
    serialised already (BEGIN IMMEDIATE)."""
    admins = uow.users.enabled_admin_ids(for_update=True)
    record = uow.users.get(user_id, for_update=True)
    if record is None:
        raise UserError(f"no user {user_id}", "user")
    return admins, record


def _keeps_an_admin(actor: User, record: UserRecord, admins: list[int]) -> None:
    """Refuse to take away the last enabled admin."""
    if record.id in admins and len(admins) <= 1:
        who = "you are" if record.id == actor.id else f"{record.email} is"
        raise UserError(f"{who} the last admin: make someone else an admin first", "role")


def update_user(
    uow: AccessUnitOfWork, actor: User, user_id: int, *, role: str | None = None, team: str | None = None
) -> User:
    """Change a user's role and/or team (``team=""`` clears it). Sessions stay: the role is read
    on every request, so the change applies at once."""
    if role is not None and role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}", "role")
    with uow:
        admins, record = _locked(uow, user_id)
        if role is not None and role != record.role:
            if record.role == "admin":
                _keeps_an_admin(actor, record, admins)
            uow.users.set_role(user_id, role)
        if team is not None:
            clean = " ".join(team.split())[:100] or None
            if clean != record.team:
                uow.users.set_team(user_id, clean)
        changed = uow.users.get(user_id)
        assert changed is not None
        uow.commit()
    return _user(changed)


def set_preferences(uow: AccessUnitOfWork, user_id: int, *, locale: str, timezone: str) -> User:
    """A user's own web UI language and time zone; ``""`` for either clears it (the browser's
    Accept-Language, UTC)."""
    chosen_locale = locale.strip() or None
    if chosen_locale is not None and chosen_locale not in UI_LOCALES:
        raise UserError(f"unknown language {locale!r}; choose from {', '.join(UI_LOCALES)}", "locale")
    chosen_zone: str | None = None
    if timezone.strip():
        try:
            chosen_zone = normalise_timezone(timezone.strip())
        except InvalidValue as exc:
            raise UserError(str(exc), "timezone") from exc
    with uow:
        if uow.users.get(user_id, for_update=True) is None:
            raise UserError(f"no user {user_id}", "user")
        uow.users.set_preferences(user_id, locale=chosen_locale, timezone=chosen_zone)
        changed = uow.users.get(user_id)
        assert changed is not None
        uow.commit()
    return _user(changed)


def set_disabled(uow: AccessUnitOfWork, actor: User, user_id: int, disabled: bool, now: datetime) -> User:
    """Disable (every session ends at once, logging in is refused) or enable a user."""
    with uow:
        admins, record = _locked(uow, user_id)
        if disabled and record.disabled_at is None:
            if record.role == "admin":
                _keeps_an_admin(actor, record, admins)
            uow.users.set_disabled_at(user_id, now)
            uow.sessions.delete_for_user(user_id)
        elif not disabled and record.disabled_at is not None:
            uow.users.set_disabled_at(user_id, None)
        uow.commit()
    return _user(record)


def get_user_by_email(uow: AccessUnitOfWork, email: str) -> User | None:
    with uow:
        record = uow.users.by_email(email.strip().lower())
    return _user(record) if record is not None and record.disabled_at is None else None


def authenticate(uow: AccessUnitOfWork, email: str, password: str) -> User | None:
    """The user with this email and password, or None (same work either way)."""
    with uow:
        record = uow.users.by_email(email.strip().lower())
    if record is None or record.disabled_at is not None:
        verify_password(password, _dummy_hash())
        return None
    return _user(record) if verify_password(password, record.password_hash) else None


def set_password(uow: AccessUnitOfWork, email: str, password: str, now: datetime) -> User:
    """Change a password and end every session of that user."""
    check_new_password(password)
    with uow:
        record = uow.users.by_email(email.strip().lower())
        if record is None:
            raise UserError(f"no user with email {email}", "email")
        uow.users.set_password_hash(record.id, hash_password(password), now)
        uow.sessions.delete_for_user(record.id)
        uow.commit()
    return _user(record)


def change_password(uow: AccessUnitOfWork, user: User, current: str, new: str, now: datetime) -> None:
    if authenticate(uow, user.email, current) is None:
        raise UserError("that is not your current password", "current")
    try:
        set_password(uow, user.email, new, now)
    except UserError as exc:
        raise UserError(str(exc), "new") from exc


# --------------------------------------------------------------------------- sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    uow: AccessUnitOfWork, user: User, now: datetime, lifetime: timedelta = SESSION_LIFETIME
) -> tuple[str, str]:
    """A new session: returns (cookie token, csrf token). Only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with uow:
        uow.sessions.delete_expired(now)
        uow.sessions.add(SessionRecord(_token_hash(token), user.id, csrf, now, now + lifetime))
        uow.commit()
    return token, csrf


def load_session(uow: AccessUnitOfWork, token: str, now: datetime) -> Session | None:
    if not token or len(token) > 200:
        return None
    with uow:
        found = uow.sessions.find(_token_hash(token))
    if found is None:
        return None
    session, record = found
    if session.expires_at <= now or record.disabled_at is not None:
        return None
    return Session(user=_user(record), csrf_token=session.csrf_token, expires_at=session.expires_at)


def end_session(uow: AccessUnitOfWork, token: str) -> None:
    with uow:
        uow.sessions.delete(_token_hash(token))
        uow.commit()
