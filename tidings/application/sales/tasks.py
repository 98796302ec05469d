"""Sales tasks: create, assign (fixed, by rule, round robin within a team), notify, complete.

Routing lives in ``app_state["task_routing"]``::

    {"teams": {"sales-north": ["ann@shop.test", "bob@shop.test"]},      # reps when no users
     "rules": [{"attribute": "region", "equals": "north", "team": "sales-north"},
               {"attribute": "country", "equals": "DE", "owner": "dieter@shop.test"}],
     "notify": {"sales-north": {"webhook": "https://crm.example/hooks/tasks"}},
     "assignment": {"sales-north": {"strategy": "least_loaded", "max_open": 5, "reps": {"ann@shop.test": 3}}},
     "sla": {"sales-north": {"due_in": "5m", "escalate_after": "10m", "escalate_to": "lead@shop.test"}}}

Who owns a new task: the owner the step names; else the first matching rule (owner, or a team);
else, without a team, the contact's own owner; with a team, the contact's owner when they are a
rep of that team, else the team's strategy (``assignment``: round robin, or least loaded) among
the reps below their maximum of open tasks — nobody (``at_capacity``) when all are at it. A task
created without a due time gets its team's ``sla.due_in`` (escalation: ``escalation.py``).
A team's reps are its active users
(``users.team``), or the configured list when it has none. The round-robin pointer is a row in
``app_state`` (created race-free, then updated under a row lock), so concurrent workers do not
pick the same rep twice in a row; ``assign_owner`` steps rotate their own pointer.

The owner is notified through the outbox: a transactional email (template
``tidings-task-assigned``, created on first use, editable like any template) and/or a webhook
configured for the team. Completing a task appends ``task.completed`` ``{task_id, title}`` to the
contact's events and enqueues the contact, so journeys can wait for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.application.contacts import changes
from tidings.application.ports.sales import SalesUnitOfWork
from tidings.domain.names import control_problem
from tidings.domain.sales.assignment import (
    RoutingProblem,
    TeamAssignment,
    TeamSla,
    default_due,
    parse_assignment,
    parse_sla,
    pick_rep,
)
from tidings.domain.statuses import TaskStatus
from tidings.domain.templates import TemplateSource

STATUSES = tuple(TaskStatus)
ROUTING_KEY = "task_routing"
NOTIFY_TEMPLATE = "tidings-task-assigned"


class TaskError(ValueError):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


# --------------------------------------------------------------------------- routing config
#
# Every use case here runs in the caller's open unit of work (an API route's, the delivery
# loop's, the engine's batch) and leaves the commit to it.


def get_routing(uow: SalesUnitOfWork) -> dict[str, Any]:
    value = uow.settings.get(ROUTING_KEY) or {}
    return {
        "teams": dict(value.get("teams") or {}),
        "rules": list(value.get("rules") or []),
        "notify": dict(value.get("notify") or {}),
        "assignment": dict(value.get("assignment") or {}),
        "sla": dict(value.get("sla") or {}),
    }


def team_assignment(routing: Mapping[str, Any], team: str) -> TeamAssignment:
    """The team's strategy and capacity (round robin, no limit when not configured)."""
    entry = (routing.get("assignment") or {}).get(team)
    return parse_assignment(team, entry) if entry is not None else TeamAssignment()


def team_sla(routing: Mapping[str, Any], team: str | None) -> TeamSla | None:
    entry = (routing.get("sla") or {}).get(team or "")
    return parse_sla(str(team), entry) if entry is not None else None


def validate_routing(value: Mapping[str, Any]) -> dict[str, Any]:
    teams = value.get("teams") or {}
    if not isinstance(teams, Mapping):
        raise TaskError("teams", "teams must be an object: team -> list of rep emails")
    for team, reps in teams.items():
        if not isinstance(reps, list) or not all(isinstance(r, str) and "@" in r for r in reps):
            raise TaskError(f"teams.{team}", "must be a list of email addresses")
    rules = value.get("rules") or []
    if not isinstance(rules, list):
        raise TaskError("rules", "rules must be a list")
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not rule.get("attribute"):
            raise TaskError(f"rules.{i}.attribute", "each rule needs an attribute")
        if "equals" not in rule:
            raise TaskError(f"rules.{i}.equals", "each rule needs a value to compare with")
        if not (rule.get("owner") or rule.get("team")):
            raise TaskError(f"rules.{i}.owner", "each rule needs an owner or a team")
    notify = value.get("notify") or {}
    if not isinstance(notify, Mapping):
        raise TaskError("notify", "notify must be an object: team -> {webhook: url, email: bool}")
    clean = {"teams": dict(teams), "rules": list(rules),
             "notify": {str(team): _notify_entry(str(team), config) for team, config in notify.items()}}
    for section, parse in (("assignment", parse_assignment), ("sla", parse_sla)):
        entries = value.get(section) or {}
        if not isinstance(entries, Mapping):
            raise TaskError(section, f"{section} must be an object: team -> settings")
        try:
            for team, entry in entries.items():
                parse(str(team), entry)
        except RoutingProblem as exc:
            raise TaskError(exc.field, str(exc)) from None
        clean[section] = {str(team): dict(entry) for team, entry in entries.items()}
    return clean


def _notify_entry(team: str, config: Any) -> dict[str, Any]:
    """One team's notification settings: ``{"webhook": "https://..." | null, "email": bool}``, nothing else."""
    if not isinstance(config, Mapping):
        raise TaskError(f"notify.{team}", "must be an object: {webhook: url, email: bool}")
    unknown = sorted(set(config) - {"webhook", "email"})
    if unknown:
        raise TaskError(f"notify.{team}.{unknown[0]}", "unknown setting (known: webhook, email)")
    webhook = config.get("webhook")
    if webhook is not None and not (
        isinstance(webhook, str) and webhook.startswith(("http://", "https://")) and len(webhook) <= 2000
    ):
        raise TaskError(f"notify.{team}.webhook", "must be an http(s) URL of at most 2000 characters, or null")
    email = config.get("email", True)
    if not isinstance(email, bool):
        raise TaskError(f"notify.{team}.email", "must be true or false")
    entry: dict[str, Any] = {"email": email}
    if webhook is not None:
        entry["webhook"] = webhook
    return entry


def set_routing(uow: SalesUnitOfWork, value: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    clean = validate_routing(value)
    uow.settings.put(ROUTING_KEY, clean, now)
    return clean


def team_reps(uow: SalesUnitOfWork, team: str) -> list[str]:
    users = uow.users.enabled_team_emails(team)
    if users:
        return users
    return list(get_routing(uow)["teams"].get(team) or [])


def next_in_team(
    uow: SalesUnitOfWork, team: str, now: datetime, purpose: str = "task", policy: TeamAssignment | None = None
) -> str | None:
    """The team's next rep (``policy``: its strategy and capacity; None: plain round robin), or
    None when it has no reps or all are at capacity.

    One pointer per (purpose, team): tasks (``task``) and contact ownership (``owner``, the
    ``assign_owner`` step) rotate independently. The row is created with ``ON CONFLICT DO
    NOTHING`` and then locked ``FOR UPDATE``, so concurrent workers on PostgreSQL queue on it
    (even the very first time) and never pick the same rep twice in a row — nor count the reps'
    open tasks before the task the previous one assigned is committed; it is committed with
    the caller's transaction, so the rotation survives restarts and a rolled-back batch gives
    its turn back. The pointer names the last rep: when reps join or leave, the rotation goes on
    from where it was instead of jumping (``domain/sales/assignment.rotation``).
    """
    reps = team_reps(uow, team)
    if not reps:
        return None
    key = f"{'task_rr' if purpose == 'task' else purpose + '_rr'}:{team}"[:100]
    value = uow.settings.lock(key, {"n": 0}, now) or {}
    count = int(value.get("n", 0))
    limited = policy is not None and (policy.max_open is not None or policy.reps or policy.strategy != "round_robin")
    load = uow.tasks.open_counts(reps) if limited else {}
    pick = pick_rep(reps, last=value.get("last"), count=count, load=load, policy=policy or TeamAssignment())
    if pick is not None:
        uow.settings.put(key, {"n": count + 1, "last": pick}, now)
    return pick


def _attribute(contact: Mapping[str, Any], name: str) -> Any:
    if name in contact and name != "attributes":
        return contact[name]
    return (contact.get("attributes") or {}).get(name)


def route(
    uow: SalesUnitOfWork, contact: Mapping[str, Any], owner: str | None, team: str | None, now: datetime
) -> tuple[str | None, str | None, str]:
    """(owner, team, how) for a new task."""
    if owner:
        return owner, team, "fixed"
    routing = get_routing(uow)
    for rule in routing["rules"]:
        if str(_attribute(contact, str(rule["attribute"]))) == str(rule["equals"]):
            if rule.get("owner"):
                return str(rule["owner"]), rule.get("team") or team, f"rule:{rule['attribute']}"
            team = str(rule["team"])
            break
    if not team and contact.get("owner"):
        return str(contact["owner"]), None, "contact_owner"
    if team and contact.get("owner") and str(contact["owner"]) in team_reps(uow, team):
        return str(contact["owner"]), team, "contact_owner"  # the team's own rep for this contact
    if team:
        policy = team_assignment(routing, team)
        picked = next_in_team(uow, team, now, policy=policy)
        if picked:
            return picked, team, policy.strategy
        if team_reps(uow, team):
            return None, team, "at_capacity"  # never over capacity: the team's to pick up
    return None, team, "unassigned"


# --------------------------------------------------------------------------- tasks


def _contact(uow: SalesUnitOfWork, contact_id: int) -> dict[str, Any]:
    row = uow.contacts.get(contact_id)
    if row is None:
        raise TaskError("contact_id", f"no contact {contact_id}", 404)
    return row


def get_task(uow: SalesUnitOfWork, task_id: int) -> dict[str, Any] | None:
    return uow.tasks.get(task_id)


def create_task(
    uow: SalesUnitOfWork,
    *,
    contact_id: int,
    title: str,
    now: datetime,
    body: str = "",
    owner: str | None = None,
    team: str | None = None,
    due_at: datetime | None = None,
    outbox_id: int | None = None,
    notify: bool = True,
) -> dict[str, Any]:
    """Create (once per outbox row), assign and notify. Returns the task row plus ``assigned_by``."""
    if outbox_id is not None:
        existing = uow.tasks.by_outbox(outbox_id)
        if existing is not None:
            return existing | {"assigned_by": "existing"}
    title = " ".join(str(title or "").split())
    if not title:
        raise TaskError("title", "a task needs a title")
    _check_names({"title": title, "team": team, "owner": owner})
    contact = _contact(uow, contact_id)
    owner, team, how = route(uow, contact, owner, team, now)
    if due_at is None:  # the team's SLA, when it has one
        due_at = default_due(now, team_sla(get_routing(uow), team))
    task_id = uow.tasks.add(
        {
            "contact_id": contact_id,
            "title": title[:300],
            "body": body or "",
            "owner": owner,
            "team": team,
            "status": TaskStatus.OPEN,
            "due_at": due_at,
            "outbox_id": outbox_id,
            "created_at": now,
        }
    )
    task = get_task(uow, task_id)
    assert task is not None
    if notify and owner:
        notify_owner(uow, task, contact, now)
    return task | {"assigned_by": how}


def task_public(task: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in task.items()}


def notify_owner(
    uow: SalesUnitOfWork, task: Mapping[str, Any], contact: Mapping[str, Any], now: datetime
) -> None:
    """Enqueue the owner's notification: a transactional email, and the team's webhook if any."""
    info = task_public({k: task[k] for k in ("id", "title", "body", "owner", "team", "due_at", "contact_id")})
    rows = team_notification_rows(
        uow, task, to=str(task["owner"]), event="task.assigned", info=info, template=NOTIFY_SOURCE,
        template_name="Task assigned (built in)", routing=get_routing(uow),
        email_key=f"task-notify:{task['id']}:{task['owner']}:{now.isoformat()}",
        webhook_key=f"task-webhook:{task['id']}:{task['owner']}:{now.isoformat()}", now=now,
    )  # fmt: skip
    # the same notification twice in one instant is one notification (idempotency key)
    uow.outbox.enqueue(int(task["contact_id"]), rows, now)


def team_notification_rows(
    uow: SalesUnitOfWork,
    task: Mapping[str, Any],
    *,
    to: str | None,
    event: str,
    info: Mapping[str, Any],
    template: TemplateSource,
    template_name: str,
    routing: Mapping[str, Any],
    email_key: str,
    webhook_key: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows of one task notification, by the task team's ``notify`` settings: a
    transactional email from a built-in template to ``to`` (when it is an address and the team
    has email on; the template is saved on first use) and the team's webhook, which gets
    ``{"event": event, "task": info}``. Shared by assignment and escalation."""
    config = routing["notify"].get(task.get("team") or "") or {}
    rows: list[dict[str, Any]] = []
    if config.get("email", True) and to and "@" in to:
        ensure_builtin_template(uow, template, template_name, now)
        rows.append(
            {
                "kind": "message",
                "channel": "email",
                "category": "transactional",
                "template": template.key,
                "idempotency_key": email_key[:200],
                "payload": {
                    "to": to,
                    "template": template.key,
                    "category": "transactional",
                    "data": {"task": dict(info), "internal": True},
                },
            }
        )
    if config.get("webhook"):
        rows.append(
            {
                "kind": "webhook",
                "channel": "webhook",
                "category": "transactional",
                "template": None,
                "idempotency_key": webhook_key[:200],
                "payload": {
                    "url": str(config["webhook"]),
                    "method": "POST",
                    "body": {"event": event, "task": dict(info)},
                    "headers": {},
                },
            }
        )
    return rows


#: the assigned owner's email (built in, saved on first use; editable like any template)
NOTIFY_SOURCE = TemplateSource(
    key=NOTIFY_TEMPLATE,
    channel="email",
    subject="New task: {{ data.task.title }}",
    body="<p>You have a new task: <strong>{{ data.task.title }}</strong></p>"
    "<p>Contact: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }} "
    "{{ contact.email | default('') }}</p><p>{{ data.task.body }}</p>"
    "<p>Due: {{ data.task.due_at | default('no due time', true) }}</p>",
    text_body="New task: {{ data.task.title }}\nContact: {{ contact.email | default('') }}\n"
    "{{ data.task.body }}\nDue: {{ data.task.due_at | default('no due time', true) }}\n",
    settings={"category": "transactional", "tracking": False},
)


def ensure_builtin_template(uow: SalesUnitOfWork, source: TemplateSource, name: str, now: datetime) -> None:
    """Save a built-in notification template unless its key exists (an edited one is kept)."""
    from tidings.application.delivery.templates import get_row, save_template

    if get_row(uow, source.key, "") is None:
        save_template(uow, source, now, name=name)


def _check_names(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value and (problem := control_problem(value)) is not None:
            raise TaskError(key, problem)


def update_task(
    uow: SalesUnitOfWork, task_id: int, changes_: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Change status/owner/due time. ``done`` appends ``task.completed`` for the contact (once)."""
    task = get_task(uow, task_id)
    if task is None:
        raise TaskError("task_id", f"no task {task_id}", 404)
    values: dict[str, Any] = {}
    status = changes_.get("status")
    if status is not None:
        if status not in STATUSES:
            raise TaskError("status", f"status must be one of {', '.join(STATUSES)}")
        if status != task["status"]:
            values["status"] = status
            values["completed_at"] = now if status == TaskStatus.DONE else None
    for key in ("title", "body"):
        if key in changes_ and changes_[key] is None:
            raise TaskError(key, f"{key} cannot be null")
    _check_names({k: changes_.get(k) for k in ("title", "owner")})
    for key in ("owner", "due_at", "title", "body"):
        if key in changes_ and changes_[key] != task[key]:
            values[key] = changes_[key]
    if not values:
        return task
    uow.tasks.update(task_id, values)
    if values.get("status") == TaskStatus.DONE:
        event = changes.change_event(
            task["contact_id"],
            "task.completed",
            {
                "task_id": task_id,
                "title": values.get("title", task["title"]),
                "owner": values.get("owner", task["owner"]),
            },
            now,
            "tasks",
        )
        event["message_id"] = f"task.completed:{task_id}:{now.isoformat()}"
        uow.events.append_changes([event], now)
    if values.get("owner") and values["owner"] != task["owner"]:
        updated = get_task(uow, task_id)
        assert updated is not None
        notify_owner(uow, updated, _contact(uow, task["contact_id"]), now)
    result = get_task(uow, task_id)
    assert result is not None
    return result


def list_tasks(
    uow: SalesUnitOfWork,
    *,
    owner: str | None = None,
    status: str | None = None,
    team: str | None = None,
    contact_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    return uow.tasks.search(owner=owner, status=status, team=team, contact_id=contact_id, limit=limit)


def due_at_from(payload: Mapping[str, Any], now: datetime) -> datetime | None:
    seconds = payload.get("due_in_seconds")
    return now + timedelta(seconds=int(seconds)) if seconds else None
