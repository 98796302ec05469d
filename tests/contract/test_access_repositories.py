"""Contract of the access ports: users, sessions, API keys, login throttle."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import NOW, Backend
from tidings.application.ports.access import SessionRecord, ThrottleRecord


def _user(uow: object, email: str, role: str = "marketer", team: str | None = None) -> int:
    return uow.users.add(  # type: ignore[attr-defined, no-any-return]
        email=email, name=email.split("@")[0], password_hash="scrypt$x", role=role, team=team, now=NOW
    )


def test_users_add_get_and_find_by_email(backend: Backend) -> None:
    with backend.uow() as uow:
        ann = _user(uow, "ann@shop.test", "admin", "north")
        bob = _user(uow, "bob@shop.test")
        uow.commit()
    with backend.uow() as uow:
        got = uow.users.get(ann)
        assert got is not None
        assert (got.email, got.name, got.role, got.team, got.password_hash) == (
            "ann@shop.test", "ann", "admin", "north", "scrypt$x"
        )
        assert got.created_at == NOW and got.password_changed_at == NOW and got.disabled_at is None
        assert uow.users.by_email("bob@shop.test") == uow.users.get(bob)
        assert uow.users.by_email("nobody@shop.test") is None
        assert uow.users.get(999) is None
        assert [u.id for u in uow.users.all()] == [ann, bob]


def test_users_changes_and_the_lists_they_feed(backend: Backend) -> None:
    later = NOW + timedelta(hours=1)
    with backend.uow() as uow:
        a1 = _user(uow, "a1@shop.test", "admin", "north")
        a2 = _user(uow, "a2@shop.test", "admin")
        rep = _user(uow, "rep@shop.test", "marketer", "north")
        assert uow.users.enabled_admin_ids(for_update=True) == [a1, a2]
        assert uow.users.enabled_team_emails("north") == ["a1@shop.test", "rep@shop.test"]
        uow.users.set_disabled_at(a1, later)
        uow.users.set_role(rep, "viewer")
        uow.users.set_team(a2, "north")
        uow.users.set_password_hash(rep, "scrypt$new", later)
        uow.commit()
    with backend.uow() as uow:
        assert uow.users.enabled_admin_ids() == [a2]
        assert uow.users.enabled_team_emails("north") == ["a2@shop.test", "rep@shop.test"]
        changed = uow.users.get(rep)
        assert changed is not None
        assert (changed.role, changed.password_hash, changed.password_changed_at) == ("viewer", "scrypt$new", later)
        disabled = uow.users.get(a1)
        assert disabled is not None and disabled.disabled_at == later
        uow.users.set_disabled_at(a1, None)
        uow.users.set_team(a1, None)
        uow.commit()
    with backend.uow() as uow:
        again = uow.users.get(a1)
        assert again is not None and again.disabled_at is None and again.team is None


def test_sessions_are_found_with_their_user_and_end(backend: Backend) -> None:
    with backend.uow() as uow:
        ann = _user(uow, "ann@shop.test")
        bob = _user(uow, "bob@shop.test")
        uow.sessions.add(SessionRecord("h1", ann, "csrf1", NOW, NOW + timedelta(days=7)))
        uow.sessions.add(SessionRecord("h2", ann, "csrf2", NOW, NOW + timedelta(hours=1)))
        uow.sessions.add(SessionRecord("h3", bob, "csrf3", NOW, NOW + timedelta(days=1)))
        uow.commit()
    with backend.uow() as uow:
        found = uow.sessions.find("h1")
        assert found is not None
        session, user = found
        assert session == SessionRecord("h1", ann, "csrf1", NOW, NOW + timedelta(days=7))
        assert user.email == "ann@shop.test"
        assert uow.sessions.find("nope") is None
        uow.sessions.delete_expired(NOW + timedelta(hours=1))  # h2 expires exactly then
        uow.commit()
    with backend.uow() as uow:
        assert uow.sessions.find("h2") is None and uow.sessions.find("h1") is not None
        uow.sessions.delete_for_user(ann)
        uow.sessions.delete("h3")
        uow.commit()
    with backend.uow() as uow:
        assert [uow.sessions.find(h) for h in ("h1", "h2", "h3")] == [None, None, None]


def test_api_keys_are_found_by_hash_and_revoked_once(backend: Backend) -> None:
    with backend.uow() as uow:
        k1 = uow.api_keys.add(name="ingest", prefix="ab12", key_hash="hash1", scopes=["track", "write"], now=NOW)
        k2 = uow.api_keys.add(name="reports", prefix="cd34", key_hash="hash2", scopes=["read"], now=NOW)
        uow.commit()
    with backend.uow() as uow:
        got = uow.api_keys.by_hash("hash1")
        assert got is not None
        assert (got.id, got.name, got.prefix, sorted(got.scopes), got.created_at, got.revoked_at) == (
            k1, "ingest", "ab12", ["track", "write"], NOW, None
        )
        assert uow.api_keys.by_hash("other") is None
        assert uow.api_keys.revoke(k2, NOW) is True
        assert uow.api_keys.revoke(k2, NOW) is False
        assert uow.api_keys.revoke(999, NOW) is False
        uow.commit()
    with backend.uow() as uow:
        assert [(k.id, k.revoked_at) for k in uow.api_keys.all()] == [(k1, None), (k2, NOW)]


def test_login_throttle_rows_are_created_locked_saved_and_dropped(backend: Backend) -> None:
    with backend.uow() as uow:
        fresh = uow.login_throttle.lock("email:x", NOW)
        assert fresh == ThrottleRecord("email:x", 0, NOW, NOW, None)
        uow.login_throttle.save(ThrottleRecord("email:x", 3, NOW, NOW + timedelta(minutes=1), None))
        uow.login_throttle.lock("addr:1.2.3.4", NOW - timedelta(days=2))
        uow.commit()
    with backend.uow() as uow:
        again = uow.login_throttle.lock("email:x", NOW + timedelta(minutes=5))  # exists: not reset
        assert again == ThrottleRecord("email:x", 3, NOW, NOW + timedelta(minutes=1), None)
        rows = uow.login_throttle.get_many(["email:x", "addr:1.2.3.4", "email:unknown"])
        assert sorted(r.key for r in rows) == ["addr:1.2.3.4", "email:x"]
        uow.login_throttle.delete_idle_since(NOW - timedelta(days=1))
        uow.commit()
    with backend.uow() as uow:
        assert [r.key for r in uow.login_throttle.get_many(["email:x", "addr:1.2.3.4"])] == ["email:x"]
        blocked = ThrottleRecord("email:x", 5, NOW, NOW, NOW + timedelta(minutes=15))
        uow.login_throttle.save(blocked)
        assert uow.login_throttle.get_many(["email:x"]) == [blocked]
        uow.login_throttle.delete("email:x")
        uow.commit()
    with backend.uow() as uow:
        assert uow.login_throttle.get_many(["email:x"]) == []


def test_users_language_and_time_zone(backend: Backend) -> None:
    with backend.uow() as uow:
        ann = _user(uow, "ann@shop.test")
        uow.commit()
    with backend.uow() as uow:
        got = uow.users.get(ann)
        assert got is not None and (got.locale, got.timezone) == (None, None)
        uow.users.set_preferences(ann, locale="ar", timezone="Asia/Dubai")
        uow.commit()
    with backend.uow() as uow:
        got = uow.users.get(ann)
        assert got is not None and (got.locale, got.timezone) == ("ar", "Asia/Dubai")
        assert uow.users.by_email("ann@shop.test") == got
        uow.users.set_preferences(ann, locale=None, timezone=None)
        uow.commit()
    with backend.uow() as uow:
        got = uow.users.get(ann)
        assert got is not None and (got.locale, got.timezone) == (None, None)
