"""The unit of work: one transaction over the repositories a use case needs.

Convention, everywhere::

    with uow:
        ...                # read and write through uow.<repository>
        uow.commit()       # nothing is kept without it; an exception or a missing commit rolls back

A use case that is a step of a larger one (a template saved while a task is created, a dead
letter listed while the delivery loop finishes a batch) receives a unit of work that is already
open and does not commit it: the caller that opened it does.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self, TypeAlias

#: an adapter's open transaction (``sqlalchemy.Connection`` in ``tidings.store``): use cases that
#: run in a transaction a caller outside their capability holds receive it and hand it, unopened,
#: to a repository factory (``ScoringFactory``...) or to a port method
Transaction: TypeAlias = Any
#: an adapter's database handle (``sqlalchemy.Engine`` in ``tidings.store``), passed through to
#: the factory the composition root wired
Database: TypeAlias = Any


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Keep everything written since the block opened."""
        ...

    def rollback(self) -> None:
        """Forget everything written since the block opened."""
        ...
