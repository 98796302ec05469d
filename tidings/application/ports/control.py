"""The control capability's repository: what its use cases need from storage.

``tidings.store.control.SqlControl`` implements it on one connection (the caller's
transaction); adapters (CLI, API, web, worker) build it and hand it to the use cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.uow import Transaction
from tidings.domain.control import POLICY_KEY, SENDING_KEY

__all__ = ["POLICY_KEY", "SENDING_KEY", "ControlFactory", "ControlRepository"]


class ControlRepository(Protocol):
    # settings (policy document, kill switch)
    def get_setting(self, key: str) -> Any: ...
    def put_setting(self, key: str, value: Any, now: datetime) -> None: ...

    # causes (loop breaker)
    def parent_of(self, enrollment_id: int) -> Mapping[Any, Any] | None: ...
    def insert_cause(self, row: Mapping[str, Any]) -> None: ...
    def enrolments_caused_by(self, kind: str, value: str) -> list[int]: ...
    def live_enrolments(self, ids: Sequence[int]) -> list[dict[str, Any]]: ...
    def end_enrolments(self, rows: Iterable[Mapping[str, Any]], reason: str, now: datetime) -> None: ...
    def insert_traces(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    # alerts
    def raise_alert(
        self,
        *,
        kind: str,
        severity: str,
        fingerprint: str,
        message: str,
        detail: Mapping[str, Any],
        contact_id: int | None,
        now: datetime,
    ) -> tuple[int, bool]: ...
    def list_alerts(self, *, include_acknowledged: bool = False, limit: int = 200) -> list[dict[str, Any]]: ...
    def acknowledge(self, alert_id: int, by: str, now: datetime) -> bool: ...
    def get_alert(self, alert_id: int) -> dict[str, Any] | None: ...
    def queue_webhook(self, contact_id: int, url: str, key: str, body: Mapping[str, Any], now: datetime) -> None: ...

    # reads for the kill switch preview and the cross-journey simulation
    def held_messages(self, channels: Sequence[str] | None) -> list[dict[str, Any]]: ...
    def published_sources(self, *, active_only: bool = False) -> list[tuple[str, str]]: ...
    def segment_rules(self) -> dict[str, Any]: ...


#: builds the repository on a connection (the worker's transaction).
ControlFactory = Callable[[Transaction], ControlRepository]
