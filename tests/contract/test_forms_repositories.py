"""Contract of the forms ports: definitions and submissions (proof, opt-in state, mail claims)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.domain.forms.model import parse_form
from tidings.domain.forms.pending import PendingStatus
from tidings.domain.forms.records import FormExists

DOC = {"key": "news", "name": "News", "fields": [{"name": "email", "maps_to": "email", "required": True}],
       "consents": [{"channel": "email", "text": "Email me."}]}


def submission(**over: Any) -> dict[str, Any]:
    return {"form_key": "news", "contact_id": 7, "email": "a@example.com", "status": PendingStatus.PENDING,
            "nonce": 4_000_000_000, "submitted_at": NOW, "ip": "203.0.113.9", "user_agent": "UA",
            "page_url": "https://shop.example.com/", "consents": [{"channel": "email", "text": "Email me."}],
            "data": {"email": "a@example.com"}, "remind_at": NOW + timedelta(hours=24),
            "expires_at": NOW + timedelta(days=7), "reminded_at": None, "confirmed_at": None,
            "confirmation_sent_at": None} | over


def test_forms_add_get_replace_list(backend: Backend) -> None:
    form = parse_form(DOC)
    with backend.uow() as uow:
        fid = uow.forms.add(form, NOW)
        uow.forms.add(parse_form(DOC | {"key": "another"}), NOW)
        uow.commit()
    with backend.uow() as uow:
        rec = uow.forms.get("news")
        assert rec is not None and rec.id == fid and rec.definition == form and rec.created_at == NOW
        with pytest.raises(FormExists):
            uow.forms.add(form, NOW)
    later = NOW + timedelta(hours=1)
    with backend.uow() as uow:
        assert uow.forms.replace(parse_form(DOC | {"name": "Weekly"}), later) is True
        assert uow.forms.replace(parse_form(DOC | {"key": "nope"}), later) is False
        uow.commit()
    with backend.uow() as uow:
        assert [r.key for r in uow.forms.list()] == ["another", "news"]
        rec = uow.forms.get("news")
        assert rec is not None and rec.definition.name == "Weekly" and rec.updated_at == later
        assert uow.forms.get("nope") is None


def test_submissions_keep_the_proof_and_move_state_conditionally(backend: Backend) -> None:
    with backend.uow() as uow:
        first = uow.form_submissions.add(submission())
        second = uow.form_submissions.add(submission(email="b@example.com", status=PendingStatus.DIRECT,
                                                     remind_at=None, expires_at=None))
        uow.commit()
    with backend.uow() as uow:
        rec = uow.form_submissions.get(first)
        assert rec is not None and rec.status is PendingStatus.PENDING and rec.nonce == 4_000_000_000
        assert rec.consents == [{"channel": "email", "text": "Email me."}] and rec.ip == "203.0.113.9"
        assert [r.id for r in uow.form_submissions.of_form("news")] == [second, first]
        assert [r.id for r in uow.form_submissions.due(NOW)] == [first]  # the confirmation is unsent
        assert uow.form_submissions.claim_mail(first, "confirmation", NOW) is True
        assert uow.form_submissions.claim_mail(first, "confirmation", NOW) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.form_submissions.due(NOW) == []
        assert [r.id for r in uow.form_submissions.due(NOW + timedelta(hours=24))] == [first]
        assert uow.form_submissions.claim_mail(first, "reminder", NOW) is True
        uow.form_submissions.release_mail(first, "reminder")  # the send failed
        assert [r.id for r in uow.form_submissions.due(NOW + timedelta(hours=24))] == [first]
        assert uow.form_submissions.set_status(first, PendingStatus.EXPIRED, PendingStatus.CONFIRMED) is False
        assert uow.form_submissions.set_status(first, PendingStatus.PENDING, PendingStatus.CONFIRMED,
                                               confirmed_at=NOW) is True
        uow.commit()
    with backend.uow() as uow:
        rec = uow.form_submissions.get(first)
        assert rec is not None and rec.status is PendingStatus.CONFIRMED and rec.confirmed_at == NOW
        assert rec.confirmation_sent_at == NOW and rec.reminded_at is None
        assert uow.form_submissions.due(NOW + timedelta(days=30)) == []
        assert uow.form_submissions.get(999) is None
