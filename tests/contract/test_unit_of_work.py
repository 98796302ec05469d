"""The transaction convention, the same on every adapter: commit keeps, anything else forgets."""

from __future__ import annotations

import pytest

from tests.contract.conftest import NOW, Backend


def _add_key(uow: object, name: str) -> int:
    return uow.api_keys.add(name=name, prefix="p", key_hash=f"h-{name}", scopes=["read"], now=NOW)  # type: ignore[attr-defined, no-any-return]


def test_commit_keeps_and_leaving_without_commit_forgets(backend: Backend) -> None:
    with backend.uow() as uow:
        _add_key(uow, "kept")
        uow.commit()
    with backend.uow() as uow:
        _add_key(uow, "forgotten")  # no commit
    with backend.uow() as uow:
        assert [k.name for k in uow.api_keys.all()] == ["kept"]


def test_an_exception_rolls_back_what_followed_the_last_commit(backend: Backend) -> None:
    with pytest.raises(RuntimeError), backend.uow() as uow:
        _add_key(uow, "first")
        uow.commit()
        _add_key(uow, "second")
        raise RuntimeError("boom")
    with backend.uow() as uow:
        assert [k.name for k in uow.api_keys.all()] == ["first"]


def test_rollback_forgets_and_the_block_goes_on(backend: Backend) -> None:
    with backend.uow() as uow:
        _add_key(uow, "dropped")
        uow.rollback()
        _add_key(uow, "after")
        uow.commit()
    with backend.uow() as uow:
        assert [k.name for k in uow.api_keys.all()] == ["after"]


def test_commit_outside_the_block_is_refused(backend: Backend) -> None:
    uow = backend.uow()
    with pytest.raises(RuntimeError, match="not open"):
        uow.commit()
