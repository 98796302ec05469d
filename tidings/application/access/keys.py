"""API keys: random, shown once, stored as a sha256 hash, with scopes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from tidings.application.ports.access import AccessUnitOfWork

SCOPES = ("track", "browser", "read", "write", "admin")
#: what each scope grants. A tracking write key can only send data in, never read it; a
#: ``browser`` key is a track key that only works from its allowed origins (it ships in a page).
IMPLIED: dict[str, frozenset[str]] = {
    "track": frozenset({"track"}),
    "browser": frozenset({"track"}),
    "read": frozenset({"read"}),
    "write": frozenset({"write", "track"}),
    "admin": frozenset(SCOPES),
}


class KeyError_(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    #: a browser key's allowed origins; empty for a server-side key
    origins: frozenset[str] = frozenset()

    def grants(self, scope: str) -> bool:
        return any(scope in IMPLIED.get(s, ()) for s in self.scopes)

    @property
    def browser(self) -> bool:
        return "browser" in self.scopes


def normalise_origin(value: str) -> str:
    """``https://Shop.example/`` -> ``https://shop.example``; KeyError_ unless scheme://host[:port]."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KeyError_(f"origin {value!r} must look like https://shop.example (scheme and host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise KeyError_(f"origin {value!r} must be scheme://host[:port] only, without a path")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    uow: AccessUnitOfWork, name: str, scopes: list[str], now: datetime, origins: list[str] | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns it and its secret value (shown once, never stored).

    A ``browser`` key must name its allowed origins and carries no other scope."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise KeyError_(f"unknown scope {bad[0]!r}; choose from {', '.join(SCOPES)}" if bad else "give a scope")
    if not name.strip():
        raise KeyError_("a key needs a name")
    allowed = sorted({normalise_origin(o) for o in origins or []})
    if "browser" in scopes:
        if set(scopes) != {"browser"}:
            raise KeyError_("a browser key is write-only: give --scope browser alone")
        if not allowed:
            raise KeyError_("a browser key needs at least one --origin (e.g. https://shop.example)")
    elif allowed:
        raise KeyError_("--origin is only for browser keys (--scope browser)")
    prefix = secrets.token_hex(4)
    secret = f"tdk_{prefix}_{secrets.token_urlsafe(32)}"
    with uow:
        key_id = uow.api_keys.add(
            name=name, prefix=prefix, key_hash=hash_key(secret), scopes=sorted(set(scopes)), now=now, origins=allowed
        )
        uow.commit()
    for verifier in list(_VERIFIERS):  # a new browser origin is granted CORS at once in this process
        verifier.invalidate()
    return ApiKey(key_id, name, prefix, frozenset(scopes), frozenset(allowed)), secret


def revoke_key(uow: AccessUnitOfWork, key_id: int, now: datetime) -> bool:
    with uow:
        revoked = uow.api_keys.revoke(key_id, now)
        uow.commit()
    for verifier in list(_VERIFIERS):  # this process forgets at once; others within their TTL
        verifier.invalidate()
    return revoked


def list_keys(uow: AccessUnitOfWork) -> list[dict[str, object]]:
    with uow:
        keys = uow.api_keys.all()
    return [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "scopes": list(k.scopes),
            "origins": list(k.origins) or None,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in keys
    ]


#: the verifiers of this process, emptied by revoke_key
_VERIFIERS: weakref.WeakSet[KeyVerifier] = weakref.WeakSet()


class KeyVerifier:
    """Looks keys up by hash, with a short in-memory cache (ingest is hot; revocation wins in 5 s).

    ``uow_factory`` gives a fresh unit of work per lookup (the verifier is shared by threads);
    the composition root hands it read-only ones (SQLite: no write lock for a lookup)."""

    def __init__(self, uow_factory: Callable[[], AccessUnitOfWork], ttl_seconds: float = 5.0) -> None:
        self.uow_factory = uow_factory
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()
        self._origins: tuple[float, frozenset[str]] | None = None
        _VERIFIERS.add(self)

    def cached(self, key: str) -> tuple[bool, ApiKey | None]:
        """(True, the key or None) when a lookup younger than the TTL is cached; no I/O."""
        h = hash_key(key)
        with self._lock:
            hit = self._cache.get(h)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def invalidate(self) -> None:
        """Forget every cached lookup (a key of this process was revoked)."""
        with self._lock:
            self._cache.clear()
            self._origins = None

    def browser_origins(self) -> frozenset[str]:
        """The origins of every live browser key (what a CORS preflight, which carries no key, may
        be granted); cached for the TTL. The real request is then checked against its own key."""
        now = time.monotonic()
        with self._lock:
            if self._origins is not None and now - self._origins[0] < self.ttl:
                return self._origins[1]
        with self.uow_factory() as uow:
            found = uow.api_keys.live_origins()
        with self._lock:
            self._origins = (now, found)
        return found

    def verify(self, key: str) -> ApiKey | None:
        h = hash_key(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        with self.uow_factory() as uow:
            record = uow.api_keys.by_hash(h)
        found = None
        if record is not None and record.revoked_at is None and secrets.compare_digest(h, hash_key(key)):
            found = ApiKey(record.id, record.name, record.prefix, frozenset(record.scopes), frozenset(record.origins))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, found)
        return found
