"""Template use cases: save (refusing syntax errors with their line), find per locale, list, delete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from tidings.application.ports.content import TemplatesUnitOfWork
from tidings.domain.names import control_problem
from tidings.domain.templates import TemplateError, TemplateSource, best_variant, locale_candidates, validate

#: the longest template key (the column's width)
KEY_MAX = 200


class TemplateInvalid(ValueError):
    def __init__(self, problems: list[TemplateError]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def save_template(
    uow: TemplatesUnitOfWork, src: TemplateSource, now: datetime, *, name: str = ""
) -> dict[str, Any]:
    """Create or replace the (key, locale) variant. Raises ``TemplateInvalid`` with every problem.

    This and the other template use cases run in the caller's open unit of work."""
    problems = validate(src)
    if not 1 <= len(src.key) <= KEY_MAX:
        problems.append(TemplateError(f"a template key has 1 to {KEY_MAX} characters", field="key"))
    for field, value in (("key", src.key), ("name", name)):
        if value and (problem := control_problem(value)) is not None:
            problems.append(TemplateError(problem, field=field))
    if problems:
        raise TemplateInvalid(problems)
    values = {
        "channel": src.channel,
        "name": name or src.key,
        "subject": src.subject,
        "body": src.body,
        "format": src.format,
        "text_body": src.text_body,
        "settings": dict(src.settings),
        "updated_at": now,
    }
    uow.templates.upsert(src.key, src.locale, values)
    row = get_row(uow, src.key, src.locale)
    assert row is not None
    return row


def get_row(uow: TemplatesUnitOfWork, key: str, locale: str = "") -> dict[str, Any] | None:
    return uow.templates.get(key, locale)


def find_template(uow: TemplatesUnitOfWork, key: str, locale: str | None) -> TemplateSource | None:
    """The best variant of ``key`` for ``locale`` (exact, language, default)."""
    return best_variant(uow.templates.variants(key, locale_candidates(locale)), locale)


def list_templates(uow: TemplatesUnitOfWork, channel: str | None = None) -> list[dict[str, Any]]:
    return uow.templates.all(channel)


def delete_template(uow: TemplatesUnitOfWork, key: str, locale: str | None = None) -> int:
    return uow.templates.delete(key, locale)


def preview(
    uow: TemplatesUnitOfWork,
    key: str,
    *,
    contact_id: int | None,
    locale: str | None,
    public_url: str,
    data: Mapping[str, Any] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """Render ``key`` for one contact, as the delivery loop would (links not tracked);
    ``subject`` replaces the template's (a campaign's subject, its A/B variant).

    Raises ``LookupError`` for an unknown template or contact, ``TemplateError`` when it fails.
    """
    from tidings.domain.templates import contact_context, render

    contact: dict[str, Any] = {}
    tags: list[str] = []
    if contact_id is not None:
        row = uow.contacts.get(contact_id)
        if row is None:
            raise LookupError(f"contact {contact_id} not found")
        contact = row
        tags = uow.contacts.tags(contact_id)
    wanted = locale if locale is not None else contact.get("locale")
    src = find_template(uow, key, wanted)
    if src is None:
        raise LookupError(f"template {key!r} not found")
    if subject is not None:
        src = replace(src, subject=subject)
    message = {
        "id": 0,
        "unsubscribe_url": f"{public_url}/u/preview",
        "preferences_url": f"{public_url}/p/preview",
        "self_service_url": f"{public_url}/s/preview",
        "signal_url": lambda name: f"{public_url}/s/preview/{name}",
    }
    out = render(
        src, {"contact": contact_context(contact, tags), "data": dict(data or {}), "message": message}
    )
    return {
        "key": key,
        "locale": src.locale,
        "channel": src.channel,
        "subject": out.subject,
        "html": out.html,
        "text": out.text,
    }
