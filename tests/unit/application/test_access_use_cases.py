"""Access use cases (users, sessions, API keys, login throttle) on the in-memory storage adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.application.access import keys, login_throttle, users
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a long password 1"


@pytest.fixture
def uow() -> MemoryUnitOfWork:
    return MemoryUnitOfWork(MemoryStore())


def test_create_user_normalises_and_refuses_a_second_account_for_one_email(uow: MemoryUnitOfWork) -> None:
    ann = users.create_user(uow, " Ann@Shop.TEST ", PASSWORD, "admin", NOW, name=" Ann ")
    assert (ann.email, ann.name, ann.role, ann.is_admin) == ("ann@shop.test", "Ann", "admin", True)
    with pytest.raises(users.UserError, match="already exists") as exc:
        users.create_user(uow, "ann@shop.test", PASSWORD, "viewer", NOW)
    assert exc.value.field == "email"
    with pytest.raises(users.UserError) as bad:
        users.create_user(uow, "bob@shop.test", "short", "viewer", NOW)
    assert bad.value.field == "password"
    assert [u["email"] for u in users.list_users(uow)] == ["ann@shop.test"]


def test_authenticate_and_change_password_end_every_session(uow: MemoryUnitOfWork) -> None:
    ann = users.create_user(uow, "ann@shop.test", PASSWORD, "marketer", NOW)
    assert users.authenticate(uow, "ANN@shop.test", PASSWORD) == ann
    assert users.authenticate(uow, "ann@shop.test", "wrong password") is None
    assert users.authenticate(uow, "nobody@shop.test", PASSWORD) is None
    token, csrf = users.start_session(uow, ann, NOW)
    session = users.load_session(uow, token, NOW + timedelta(hours=1))
    assert session is not None and (session.user, session.csrf_token) == (ann, csrf)
    users.change_password(uow, ann, PASSWORD, "another long password", NOW)
    assert users.load_session(uow, token, NOW + timedelta(hours=1)) is None
    assert users.authenticate(uow, "ann@shop.test", "another long password") == ann
    with pytest.raises(users.UserError) as exc:
        users.change_password(uow, ann, PASSWORD, "yet another password", NOW)
    assert exc.value.field == "current"


def test_sessions_expire_and_end_on_logout(uow: MemoryUnitOfWork) -> None:
    ann = users.create_user(uow, "ann@shop.test", PASSWORD, "viewer", NOW)
    token, _ = users.start_session(uow, ann, NOW, lifetime=timedelta(hours=1))
    assert users.load_session(uow, token, NOW + timedelta(minutes=59)) is not None
    assert users.load_session(uow, token, NOW + timedelta(hours=1)) is None
    other, _ = users.start_session(uow, ann, NOW)
    users.end_session(uow, other)
    assert users.load_session(uow, other, NOW) is None
    assert users.load_session(uow, "", NOW) is None and users.load_session(uow, "x" * 201, NOW) is None


def test_the_last_enabled_admin_stays(uow: MemoryUnitOfWork) -> None:
    ann = users.create_user(uow, "ann@shop.test", PASSWORD, "admin", NOW)
    bob = users.create_user(uow, "bob@shop.test", PASSWORD, "admin", NOW)
    token, _ = users.start_session(uow, bob, NOW)
    users.set_disabled(uow, ann, bob.id, True, NOW)
    assert users.load_session(uow, token, NOW) is None  # disabling ends the sessions
    assert users.authenticate(uow, "bob@shop.test", PASSWORD) is None
    assert users.get_user_by_email(uow, "bob@shop.test") is None
    with pytest.raises(users.UserError, match="you are the last admin"):
        users.update_user(uow, ann, ann.id, role="marketer")
    with pytest.raises(users.UserError, match="last admin"):
        users.set_disabled(uow, ann, ann.id, True, NOW)
    users.set_disabled(uow, ann, bob.id, False, NOW)
    changed = users.update_user(uow, bob, ann.id, role="viewer", team="  sales   north ")
    assert (changed.role, changed.team) == ("viewer", "sales north")
    assert users.update_user(uow, bob, ann.id, team="").team is None
    with pytest.raises(users.UserError) as exc:
        users.update_user(uow, bob, 999, role="viewer")
    assert exc.value.field == "user"


def test_a_refused_change_writes_nothing(uow: MemoryUnitOfWork) -> None:
    ann = users.create_user(uow, "ann@shop.test", PASSWORD, "admin", NOW)
    with pytest.raises(users.UserError):
        users.update_user(uow, ann, ann.id, role="viewer", team="sales")
    assert users.list_users(uow)[0]["team"] is None


def test_api_keys_grant_their_scopes_and_revocation_wins_at_once(uow: MemoryUnitOfWork) -> None:
    key, secret = keys.create_key(uow, "site", ["write"], NOW)
    assert secret.startswith(f"tdk_{key.prefix}_")
    verifier = keys.KeyVerifier(lambda: uow, ttl_seconds=60)
    found = verifier.verify(secret)
    assert found is not None and found.grants("track") and not found.grants("read")
    assert verifier.verify(secret + "x") is None
    assert keys.revoke_key(uow, key.id, NOW) is True
    assert keys.revoke_key(uow, key.id, NOW) is False
    assert verifier.verify(secret) is None  # this process forgot its cached lookup
    listed = keys.list_keys(uow)
    assert [(k["name"], k["scopes"], k["revoked_at"]) for k in listed] == [("site", ["write"], NOW)]
    with pytest.raises(keys.KeyError_):
        keys.create_key(uow, "bad", ["root"], NOW)


def test_login_throttle_slows_then_blocks_an_email_and_a_success_clears_it(uow: MemoryUnitOfWork) -> None:
    t = NOW
    for _ in range(login_throttle.EMAIL_SLOW_AFTER - 1):
        assert login_throttle.record_failure(uow, "ann@shop.test", "10.0.0.1", t) is None
    slowed = login_throttle.record_failure(uow, "ann@shop.test", "10.0.0.1", t)
    assert slowed is not None and not slowed.locked and slowed.retry_at == t + login_throttle.SLOW_STEP
    assert login_throttle.check(uow, "ANN@shop.test", None, t) == slowed
    t += timedelta(minutes=2)
    assert login_throttle.check(uow, "ann@shop.test", None, t) is None
    refusal = None
    for _ in range(login_throttle.EMAIL_LIMIT - login_throttle.EMAIL_SLOW_AFTER):
        refusal = login_throttle.record_failure(uow, "ann@shop.test", "10.0.0.1", t)
    assert refusal is not None and refusal.locked and refusal.retry_at == t + login_throttle.LOCKOUT
    login_throttle.record_success(uow, "ann@shop.test")
    assert login_throttle.check(uow, "ann@shop.test", None, t) is None
    # the address's count runs on: it was not cleared by the success
    with uow:
        rows = uow.login_throttle.get_many([login_throttle.address_key("10.0.0.1")])
    assert rows[0].failures == login_throttle.EMAIL_LIMIT


def test_login_throttle_forgets_an_old_window(uow: MemoryUnitOfWork) -> None:
    for _ in range(login_throttle.EMAIL_SLOW_AFTER):
        login_throttle.record_failure(uow, "ann@shop.test", None, NOW)
    later = NOW + login_throttle.WINDOW
    assert login_throttle.check(uow, "ann@shop.test", None, later) is None
    assert login_throttle.record_failure(uow, "ann@shop.test", None, later) is None  # a fresh count of 1
