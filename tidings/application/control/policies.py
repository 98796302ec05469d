"""The global send policy: one document in the settings table, read by the engine every batch.

``tidings policies show|set``, ``GET/PUT /api/policies`` and the web settings page all go
through :func:`show` / :func:`save`; the format is documented in ``domain/control/policy.py``
and docs/control.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml

from tidings.domain.control.policy import PolicyError, SendPolicy, parse_policy
from tidings.store import control as cst


def load(conn: sa.Connection) -> SendPolicy:
    """The policy in force (defaults when none was saved). A stored document is valid: save checks it."""
    raw = cst.get_setting(conn, cst.POLICY_KEY)
    return parse_policy(raw.get("document")) if raw else SendPolicy()


def show(conn: sa.Connection) -> dict[str, Any]:
    raw = cst.get_setting(conn, cst.POLICY_KEY) or {}
    return {
        "document": raw.get("document") or {},
        "source": raw.get("source") or "",
        "effective": load(conn).to_dict(),
        "updated_by": raw.get("by"),
    }


def parse_text(text: str) -> Any:
    """YAML or JSON text -> a mapping; a syntax error is a PolicyError at the root."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise PolicyError([("", f"not valid YAML: {exc}")]) from None
    return data or {}


def save(
    conn: sa.Connection, document: Any, now: datetime, *, by: str | None = None, source: str = ""
) -> dict[str, Any]:
    """Validate and store the policy document (every problem reported at once)."""
    parse_policy(document)
    cst.put_setting(conn, cst.POLICY_KEY, {"document": document, "source": source, "by": by}, now)
    return show(conn)
