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

from tidings.application.ports.access import AccessUnitOfWork

SCOPES = ("track", "read", "write", "admin")
#: what each scope grants. A tracking write key can only send data in, never read it.
IMPLIED: dict[str, frozenset[str]] = {
    "track": frozenset({"track"}),
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

    def grants(self, scope: str) -> bool:
        return any(scope in IMPLIED.get(s, ()) for s in self.scopes)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(uow: AccessUnitOfWork, name: str, scopes: list[str], now: datetime) -> tuple[ApiKey, str]:
    """Create a key; returns it and its secret value (shown once, never stored)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise KeyError_(f"unknown scope {bad[0]!r}; choose from {', '.join(SCOPES)}" if bad else "give a scope")
    if not name.strip():
        raise KeyError_("a key needs a name")
    prefix = secrets.token_hex(4)
    secret = f"tdk_{prefix}_{secrets.token_urlsafe(32)}"
    with uow:
        key_id = uow.api_keys.add(
            name=name, prefix=prefix, key_hash=hash_key(secret), scopes=sorted(set(scopes)), now=now
        )
        uow.commit()
    return ApiKey(key_id, name, prefix, frozenset(scopes)), secret


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
            found = ApiKey(record.id, record.name, record.prefix, frozenset(record.scopes))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, found)
        return found
