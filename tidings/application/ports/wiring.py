"""What an adapter's factory reads off the composition root, and what runs beside the API.

``tidings.bootstrap.Container`` satisfies :class:`Wiring`; adapters (channels, the task
channel, background services) are typed against this Protocol instead of importing the
composition root, so the root can import them without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tidings.application.ports.clock import Clock
from tidings.application.ports.storage import StorageUnitOfWork
from tidings.application.ports.uow import Database
from tidings.settings import Settings

if TYPE_CHECKING:
    from tidings.application.ports.crm import CrmClient


class Wiring(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Database:
        """The database handle (``sqlalchemy.Engine``), for adapters and wired factories."""
        ...

    @property
    def clock(self) -> Clock: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def lease_clock(self) -> Clock:
        """Real time for leases (is a sender alive?), even when ``clock`` is a test clock."""
        ...

    def uow(self, *, read_only: bool = False) -> StorageUnitOfWork:
        """A fresh unit of work on the database (``with uow: ...; uow.commit()``)."""
        ...

    def crm_client(self, system: str) -> CrmClient | None:
        """The configured client of a CRM ("hubspot", "salesforce"), or None; the caller closes it."""
        ...

    def handoff_document(
        self, contact_id: int, *, events: int = 20, context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The hand-off document of a contact (docs/crm.md): fields, score explanations, latest events."""
        ...


class BackgroundService(Protocol):
    """Something `tidings serve` / `tidings worker` runs beside the API (worker, catcher...)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...
