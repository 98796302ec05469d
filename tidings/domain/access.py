"""What the access capability stores: web users, their sessions, API keys, failed-login counts.

Plain records, shared by the application's access ports and the storage adapters that keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UserRecord:
    id: int
    email: str
    name: str
    role: str
    team: str | None
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None = None
    #: the web UI's language (one of ``UI_LOCALES``), or None: the browser's Accept-Language.
    locale: str | None = None
    #: the IANA time zone dates are shown in, or None: UTC.
    timezone: str | None = None


#: the languages of the web UI (gettext catalogues in ``tidings/web/locale/``), by code.
UI_LOCALES: dict[str, str] = {
    "en": "English",
    "uk": "Українська",
    "th": "ไทย",
    "ar": "العربية",
    "zh_Hans": "简体中文",
    "lo": "ລາວ",
}

#: the UI languages written right to left.
RTL_LOCALES = frozenset({"ar"})


@dataclass(frozen=True)
class SessionRecord:
    token_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None
    #: a browser key's allowed origins; empty for a server-side key
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThrottleRecord:
    """Failed logins of one key (``email:<sha256>`` or ``addr:<address>``) in its window."""

    key: str
    failures: int
    window_started_at: datetime
    last_failure_at: datetime
    blocked_until: datetime | None = None
