"""The composition root: builds every part of Tidings from settings. Nothing is built at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.clock import Clock, ManualClock, SystemClock
from tidings.settings import Settings, new_secret
from tidings.store import schema
from tidings.store.db import create_engine
from tidings.store.sql_uow import SqlUnitOfWork

log = logging.getLogger("tidings")


class BackgroundService(Protocol):
    """Something `tidings serve` / `tidings worker` runs beside the API (worker, catcher...)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Container:
    """Everything a request handler, a worker or a CLI command needs, built once."""

    settings: Settings
    engine: Engine
    clock: Clock
    secret_key: str
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def manual_clock(self) -> ManualClock | None:
        return self.clock if isinstance(self.clock, ManualClock) else None

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A fresh unit of work on this container's database (``with uow: ...; uow.commit()``)."""
        return SqlUnitOfWork(self.engine, read_only=read_only)


def build(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Container:
    engine = engine or create_engine(settings.database_url)
    if clock is None:
        clock = ManualClock() if settings.test_clock else SystemClock()
    secret = settings.secret_key or _stored_secret(engine)
    return Container(settings=settings, engine=engine, clock=clock, secret_key=secret)


def _stored_secret(engine: Engine) -> str:
    """The signing secret: generated on first use and kept in the database (app_state)."""
    t = schema.app_state
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(t.c.value).where(t.c.key == "secret_key")).first()
            if row is not None:
                return str(row[0]["value"])
            secret = new_secret()
            conn.execute(sa.insert(t).values(key="secret_key", value={"value": secret}))
            return secret
    except sa.exc.OperationalError:  # not migrated yet (e.g. `tidings db upgrade` itself)
        return new_secret()
    except sa.exc.ProgrammingError:
        return new_secret()
