"""Operator alerts (``tidings alerts``, ``GET /api/alerts``, the dashboard banner)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.application.ports.control import ControlRepository


class AlertNotFound(LookupError):
    pass


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "kind": row["kind"],
        "severity": row["severity"],
        "message": row["message"],
        "count": int(row["count"]),
        "contact_id": row["contact_id"],
        "detail": row["detail"],
        "created_at": row["created_at"].isoformat(),
        "last_at": row["last_at"].isoformat(),
        "acknowledged_at": row["acknowledged_at"].isoformat() if row["acknowledged_at"] else None,
        "acknowledged_by": row["acknowledged_by"],
    }


def list_alerts(repo: ControlRepository, *, include_acknowledged: bool = False) -> list[dict[str, Any]]:
    return [public(r) for r in repo.list_alerts(include_acknowledged=include_acknowledged)]


def acknowledge(repo: ControlRepository, alert_id: int, by: str, now: datetime) -> dict[str, Any]:
    row = repo.get_alert(alert_id)
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    repo.acknowledge(alert_id, by, now)
    return public(repo.get_alert(alert_id) or row)
