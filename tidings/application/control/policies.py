"""The global send policy: one document in the settings table, read by the engine every batch.

``tidings policies show|set``, ``GET/PUT /api/policies`` and the web Control page all go
through :func:`show` / :func:`save`; the format is documented in ``domain/control/policy.py``
and docs/control.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from tidings.application.ports.control import POLICY_KEY, ControlRepository
from tidings.domain.control.policy import PolicyError, SendPolicy, parse_policy


def load(repo: ControlRepository) -> SendPolicy:
    """The policy in force (defaults when none was saved). A stored document is valid: save checks it."""
    raw = repo.get_setting(POLICY_KEY)
    return parse_policy(raw.get("document")) if raw else SendPolicy()


def show(repo: ControlRepository) -> dict[str, Any]:
    raw = repo.get_setting(POLICY_KEY) or {}
    return {
        "document": raw.get("document") or {},
        "source": raw.get("source") or "",
        "effective": load(repo).to_dict(),
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
    repo: ControlRepository, document: Any, now: datetime, *, by: str | None = None, source: str = ""
) -> dict[str, Any]:
    """Validate and store the policy document (every problem reported at once)."""
    parse_policy(document)
    repo.put_setting(POLICY_KEY, {"document": document, "source": source, "by": by}, now)
    return show(repo)
