"""API keys: random, shown once, stored as a sha256 hash, with scopes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.store import schema
from tidings.store.db import read_only

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


def create_key(engine: Engine, name: str, scopes: list[str], now: datetime) -> tuple[ApiKey, str]:
    """Create a key; returns it and its secret value (shown once, never stored)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise KeyError_(f"unknown scope {bad[0]!r}; choose from {', '.join(SCOPES)}" if bad else "give a scope")
    if not name.strip():
        raise KeyError_("a key needs a name")
    prefix = secrets.token_hex(4)
    secret = f"tdk_{prefix}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        key_id = conn.execute(
            sa.insert(schema.api_keys)
            .values(name=name, prefix=prefix, key_hash=hash_key(secret), scopes=sorted(set(scopes)), created_at=now)
            .returning(schema.api_keys.c.id)
        ).scalar_one()
    return ApiKey(key_id, name, prefix, frozenset(scopes)), secret


def revoke_key(engine: Engine, key_id: int, now: datetime) -> bool:
    with engine.begin() as conn:
        res = conn.execute(
            sa.update(schema.api_keys)
            .where(schema.api_keys.c.id == key_id, schema.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    for verifier in list(_VERIFIERS):  # this process forgets at once; others within their TTL
        verifier.invalidate()
    return bool(res.rowcount)


def list_keys(engine: Engine) -> list[dict[str, object]]:
    t = schema.api_keys
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.name, t.c.prefix, t.c.scopes, t.c.created_at, t.c.revoked_at).order_by(t.c.id)
        ).mappings()
        return [dict(r) for r in rows]


#: the verifiers of this process, emptied by revoke_key
_VERIFIERS: weakref.WeakSet[KeyVerifier] = weakref.WeakSet()


class KeyVerifier:
    """Looks keys up by hash, with a short in-memory cache (ingest is hot; revocation wins in 5 s)."""

    def __init__(self, engine: Engine, ttl_seconds: float = 5.0) -> None:
        self.engine = engine
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
        t = schema.api_keys
        with self.engine.connect() as c:
            conn = read_only(c)  # a lookup: no SQLite write lock (BEGIN DEFERRED)
            row = conn.execute(
                sa.select(t.c.id, t.c.name, t.c.prefix, t.c.scopes, t.c.revoked_at).where(t.c.key_hash == h)
            ).first()
        found = None
        if row is not None and row.revoked_at is None and secrets.compare_digest(h, hash_key(key)):
            found = ApiKey(row.id, row.name, row.prefix, frozenset(row.scopes))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, found)
        return found
