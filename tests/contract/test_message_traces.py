"""Contract of the message-traces port, read through the use case that needs it: "why did this
contact get this?" (``application/journeys/why.py``) gives one answer on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.application.journeys.why import WhyNotFound, why


def _seed(backend: Backend) -> dict[str, int]:
    cid = backend.add_contact("a@x.test")
    other = backend.add_contact("b@x.test")
    with backend.uow() as uow:
        jid = uow.journeys.add("welcome", "Welcome", None, NOW)
        uow.commit()
    eid = backend.add_enrollment(contact_id=cid, journey_id=jid, enroll_key="k1", step_id="mail")
    common = {"contact_id": cid, "journey_id": jid, "journey_version": 1, "enrollment_id": eid}
    entered = backend.add_trace(**common, step_id="start", detail={"trigger": 0, "event": {"name": "signed_up"}})
    backend.add_trace(**common, step_id="check", action="branch", stimulus="event", detail={"value": True})
    sent = backend.add_trace(**common, step_id="mail", action="send", at=NOW + timedelta(minutes=1))
    backend.add_trace(**common, step_id="tag", action="update_contact", detail={"tags": ["x"]})
    backend.add_trace(contact_id=other, action="update_contact", detail={})
    o1 = backend.add_outbox(
        contact_id=cid,
        idempotency_key="m1",
        channel="email",
        template="welcome-mail",
        step_id="mail",
        journey_id=jid,
        journey_version=1,
        enrollment_id=eid,
        trace_id=sent,
        status="sent",
        sent_at=NOW + timedelta(minutes=2),
    )
    o2 = backend.add_outbox(contact_id=cid, idempotency_key="m2", kind="webhook", channel=None)
    backend.add_outbox(contact_id=other, idempotency_key="m3")
    click = {"message_id": o1, "template": "welcome-mail", "journey": jid, "step": "mail"}
    backend.add_event(cid, "message.clicked", NOW + timedelta(hours=1), click)
    backend.add_event(cid, "message.clicked", NOW + timedelta(hours=2), {**click, "message_id": o2, "machine": True})
    return {"cid": cid, "jid": jid, "eid": eid, "entered": entered, "sent": sent, "o1": o1, "o2": o2}


def test_why_lists_messages_changes_enrolments_and_credited_conversions(backend: Backend) -> None:
    ids = _seed(backend)
    cid = ids["cid"]
    # an order 3 hours after the human click (the later machine click never counts); a valued
    # message event is no conversion
    backend.add_event(cid, "order.completed", NOW + timedelta(hours=3), {"revenue": 30}, value=30.0)
    backend.add_event(cid, "message.opened", NOW + timedelta(hours=3), {"revenue": 5}, value=5.0)
    with backend.uow() as uow:
        data = why(uow.traces, cid)
    assert [m["message_id"] for m in data["messages"]] == [ids["o1"], ids["o2"]]
    first = data["messages"][0]
    assert (first["journey"], first["step"], first["stimulus"], first["trace"]["trace_id"]) == (
        "welcome",
        "mail",
        "event",
        ids["sent"],
    )
    assert data["messages"][1]["trace"] is None and data["messages"][1]["journey"] is None
    assert [(c["action"], c["step"]) for c in data["changes"]] == [("entered", "start"), ("update_contact", "tag")]
    assert [(e["enrollment_id"], e["journey"], e["key"]) for e in data["enrollments"]] == [
        (ids["eid"], "welcome", "k1")
    ]
    [conversion] = data["conversions"]
    assert (conversion["kind"], conversion["name"], conversion["revenue"]) == ("revenue_event", "order.completed", 30.0)
    credit = conversion["attributed_to"]
    assert (credit["message_id"], credit["journey_key"], credit["channel"], credit["model"]) == (
        ids["o1"],
        "welcome",
        "email",
        "last_click",
    )


def test_why_of_one_message_gives_its_path_and_explanation(backend: Backend) -> None:
    ids = _seed(backend)
    with backend.uow() as uow:
        message = why(uow.traces, ids["cid"], ids["o1"])["message"]
        assert [p["action"] for p in message["path"]] == ["entered", "branch", "send"]
        assert message["explanation"].startswith("email 'welcome-mail' was sent by journey 'welcome' v1")
        assert "after entering via trigger #0 (event 'signed_up')" in message["explanation"]
        with pytest.raises(WhyNotFound):
            why(uow.traces, ids["cid"], ids["o1"] + 100)
        with pytest.raises(WhyNotFound):
            why(uow.traces, ids["cid"] + 100)


def test_credit_is_none_without_a_human_click_in_the_window(backend: Backend) -> None:
    ids = _seed(backend)
    with backend.uow() as uow:
        assert uow.traces.credit(ids["cid"], NOW) is None  # before any click
        assert uow.traces.credit(ids["cid"], NOW + timedelta(days=8)) is None  # the click is too old
        hit = uow.traces.credit(ids["cid"], NOW + timedelta(hours=2, minutes=1))
        assert hit is not None and hit["message_id"] == ids["o1"]  # the machine click is passed over

