"""Task SLAs: the escalation pass, and the service that runs it beside the worker.

A team's ``sla`` in the routing document (``tasks.py``) names an escalation delay: an open task
still open ``escalate_after`` past its due time is escalated **once**. ``escalated_at`` is set by
a conditional update (open and not escalated yet), so of two workers passing at once only one
escalates a task; the rest of the escalation happens in the same transaction:

- with ``reassign: true`` the task goes to ``escalate_to`` (its new owner);
- ``escalate_to`` (else the owner) gets a transactional email (template
  ``tidings-task-escalated``, created on first use, editable), and the team's ``notify.webhook``,
  if any, a ``task.escalated`` POST — both through the outbox;
- ``task.escalated {task_id, title, owner, previous_owner, team, escalated_to, due_at}`` is
  appended to the contact's events (and the contact queued), so journeys can trigger on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tidings.application.background import PollingService
from tidings.application.contacts import changes
from tidings.application.ports.clock import Clock
from tidings.application.ports.sales import SalesUnitOfWork
from tidings.application.sales import tasks
from tidings.domain.sales.assignment import TeamSla, due_for_escalation
from tidings.domain.templates import TemplateSource

log = logging.getLogger("tidings.tasks")

ESCALATION_TEMPLATE = "tidings-task-escalated"
#: the most tasks of one team escalated in one pass (the next pass takes the rest)
BATCH = 500


def escalation_pass(uow: SalesUnitOfWork, now: datetime, *, limit: int = BATCH) -> list[int]:
    """Escalate every task due for it now, in the caller's unit of work; their ids."""
    routing = tasks.get_routing(uow)
    done: list[int] = []
    for team in sorted(routing["sla"]):
        sla = tasks.team_sla(routing, team)
        if sla is None or sla.escalate_after is None:
            continue
        candidates = {int(t["id"]): t for t in uow.tasks.escalation_candidates(team, now - sla.escalate_after, limit)}
        for task_id in due_for_escalation(candidates.values(), {team: sla}, now):
            if _escalate(uow, candidates[task_id], sla, routing, now):
                done.append(task_id)
    return done


def _escalate(
    uow: SalesUnitOfWork, task: Mapping[str, Any], sla: TeamSla, routing: Mapping[str, Any], now: datetime
) -> bool:
    previous = task["owner"]
    new_owner = sla.escalate_to if sla.reassign and sla.escalate_to != previous else None
    target = sla.escalate_to or previous
    if not uow.tasks.mark_escalated(int(task["id"]), now, target, owner=new_owner):
        return False  # another worker escalated it, or it was completed meanwhile
    fresh = uow.tasks.get(int(task["id"]))
    assert fresh is not None
    info = tasks.task_public(
        {k: fresh[k] for k in ("id", "title", "body", "owner", "team", "due_at", "contact_id", "escalated_to")}
    ) | {"previous_owner": previous}
    _notify(uow, fresh, info, target, routing, now)
    event = changes.change_event(
        int(fresh["contact_id"]),
        "task.escalated",
        {
            "task_id": fresh["id"],
            "title": fresh["title"],
            "owner": fresh["owner"],
            "previous_owner": previous,
            "team": fresh["team"],
            "escalated_to": target,
            "due_at": info["due_at"],
        },
        now,
        "tasks",
    )
    event["message_id"] = f"task.escalated:{fresh['id']}"
    uow.events.append_changes([event], now)
    return True


def _notify(
    uow: SalesUnitOfWork,
    task: Mapping[str, Any],
    info: Mapping[str, Any],
    target: str | None,
    routing: Mapping[str, Any],
    now: datetime,
) -> None:
    rows = tasks.team_notification_rows(
        uow, task, to=target, event="task.escalated", info=info, template=ESCALATION_SOURCE,
        template_name="Task escalated (built in)", routing=routing,
        email_key=f"task-escalated:{task['id']}", webhook_key=f"task-escalated-webhook:{task['id']}", now=now,
    )  # fmt: skip
    if rows:
        uow.outbox.enqueue(int(task["contact_id"]), rows, now)


#: the escalation target's email (built in, saved on first use; editable like any template)
ESCALATION_SOURCE = TemplateSource(
    key=ESCALATION_TEMPLATE,
    channel="email",
    subject="Overdue task escalated: {{ data.task.title }}",
    body="<p>This task is overdue and was escalated to you: <strong>{{ data.task.title }}</strong></p>"
    "<p>Owner: {{ data.task.owner | default('nobody', true) }} "
    "(was {{ data.task.previous_owner | default('nobody', true) }})</p>"
    "<p>Contact: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }} "
    "{{ contact.email | default('') }}</p><p>{{ data.task.body }}</p>"
    "<p>Was due: {{ data.task.due_at }}</p>",
    text_body="Overdue task escalated: {{ data.task.title }}\n"
    "Owner: {{ data.task.owner | default('nobody', true) }}\n"
    "Contact: {{ contact.email | default('') }}\n{{ data.task.body }}\nWas due: {{ data.task.due_at }}\n",
    settings={"category": "transactional", "tracking": False},
)


class TaskEscalator(PollingService):
    """Every ``every`` seconds, one :func:`escalation_pass` in its own transaction."""

    name = "task-escalator"

    def __init__(self, uow: Callable[[], SalesUnitOfWork], clock: Clock, *, every: float = 60.0) -> None:
        super().__init__()
        self.uow = uow
        self.clock = clock
        self.every = every

    def run_once(self) -> list[int]:
        with self.uow() as uow:
            escalated = escalation_pass(uow, self.clock.now())
            uow.commit()
        if escalated:
            log.info("escalated %d overdue task(s)", len(escalated))
        return escalated
