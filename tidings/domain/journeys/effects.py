"""What a journey transition asks the world to do: one frozen dataclass per effect kind.

Pure data. The engine writes one ``outbox`` row per effect (``kind``, ``payload()``,
``idempotency_key``); the simulators record them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class SendMessage:
    step_id: str
    channel: str
    template: str
    category: str
    idempotency_key: str
    data: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "message"

    def payload(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "template": self.template,
            "category": self.category,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class CallWebhook:
    step_id: str
    url: str
    idempotency_key: str
    method: str = "POST"
    body: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: "v1" (the step's body as given) or "v2" (the hand-off document, signed ``Tidings-Signature``)
    version: str = "v1"
    #: v2: how many of the contact's latest events the document carries
    events: int = 20
    kind: ClassVar[str] = "webhook"

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "method": self.method,
            "body": dict(self.body),
            "headers": dict(self.headers),
        }
        if self.version == "v2":  # v1 rows keep exactly the shape they always had
            out |= {"payload": "v2", "events": self.events}
        return out


@dataclass(frozen=True, slots=True)
class CallCrm:
    """A CRM hand-off (``crm`` step): upsert the contact (HubSpot contact, Salesforce lead), or
    also create a task or a deal for it; delivered by the ``crm`` channel (application/crm)."""

    step_id: str
    system: str
    action: str
    idempotency_key: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    body: str = ""
    due_in: timedelta | None = None
    priority: str | None = None
    deal_name: str = ""
    amount: float | None = None
    deal_stage: str | None = None
    pipeline: str | None = None
    write_back: bool = True
    kind: ClassVar[str] = "crm"

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "system": self.system,
            "action": self.action,
            "properties": dict(self.properties),
            "write_back": self.write_back,
        }
        if self.action == "create_task":
            out |= {
                "title": self.title,
                "body": self.body,
                "due_in_seconds": int(self.due_in.total_seconds()) if self.due_in else None,
                "priority": self.priority,
            }
        if self.action == "create_deal":
            out |= {
                "deal_name": self.deal_name,
                "amount": self.amount,
                "deal_stage": self.deal_stage,
                "pipeline": self.pipeline,
            }
        return out


@dataclass(frozen=True, slots=True)
class CreateTask:
    step_id: str
    title: str
    idempotency_key: str
    body: str = ""
    owner: str | None = None
    team: str | None = None
    due_in: timedelta | None = None
    kind: ClassVar[str] = "task"

    def payload(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "body": self.body,
            "owner": self.owner,
            "team": self.team,
            "due_in_seconds": int(self.due_in.total_seconds()) if self.due_in else None,
        }


@dataclass(frozen=True, slots=True)
class AssignOwner:
    step_id: str
    idempotency_key: str
    owner: str | None = None
    team: str | None = None
    #: fixed | round_robin | least_loaded (among ``team``)
    strategy: str = "fixed"
    kind: ClassVar[str] = "assign_owner"

    def payload(self) -> dict[str, Any]:
        return {"owner": self.owner, "team": self.team, "strategy": self.strategy}


@dataclass(frozen=True, slots=True)
class UpdateContact:
    step_id: str
    idempotency_key: str
    set_attributes: Mapping[str, Any] = field(default_factory=dict)
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    stage: str | None = None
    score_delta: float = 0.0
    kind: ClassVar[str] = "update_contact"

    def payload(self) -> dict[str, Any]:
        return {
            "set": dict(self.set_attributes),
            "add_tags": list(self.add_tags),
            "remove_tags": list(self.remove_tags),
            "stage": self.stage,
            "score_delta": self.score_delta,
        }


@dataclass(frozen=True, slots=True)
class EnrollOther:
    step_id: str
    journey_key: str
    idempotency_key: str
    key: str = ""
    kind: ClassVar[str] = "enroll"

    def payload(self) -> dict[str, Any]:
        return {"journey": self.journey_key, "key": self.key}


@dataclass(frozen=True, slots=True)
class Conversion:
    """The enrolment reached its goal (a goal step or the settings' goal criterion)."""

    step_id: str
    idempotency_key: str
    goal: str = "goal"
    revenue: float | None = None
    kind: ClassVar[str] = "conversion"

    def payload(self) -> dict[str, Any]:
        return {"goal": self.goal, "revenue": self.revenue}


Effect = SendMessage | CallWebhook | CallCrm | CreateTask | AssignOwner | UpdateContact | EnrollOther | Conversion
