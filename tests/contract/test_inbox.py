"""Contract of the ``InboxRepository`` port (what the local sinks record): memory, SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import NOW, Backend
from tidings.domain.channels import InboxItem


def test_recorded_items_are_found_by_channel_and_ref(backend: Backend) -> None:
    with backend.uow() as uow:
        first = uow.inbox.record(InboxItem("sms", "+15550100", body_text="hi", message_ref="1.ab@x"), NOW)
        second = uow.inbox.record(
            InboxItem("email", "a@x.org", sender="s@x.org", subject="Hi", headers={"X-A": "1"}, message_ref="2.cd@x"),
            NOW + timedelta(seconds=1),
        )
        uow.commit()
    assert second > first
    with backend.uow() as uow:
        assert uow.inbox.has("sms", "1.ab@x") and uow.inbox.has("email", "2.cd@x")
        assert not uow.inbox.has("email", "1.ab@x")  # the same ref on another channel is another message
        assert not uow.inbox.has("sms", "9.zz@x")


def test_an_uncommitted_item_is_not_kept(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.inbox.record(InboxItem("voice", "+15550101", message_ref="3.ef@x"), NOW)
    with backend.uow() as uow:
        assert not uow.inbox.has("voice", "3.ef@x")


def test_raw_messages_of_a_channel_oldest_first_without_those_that_kept_none(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.inbox.record(InboxItem("email", "a@x.org", raw="From: one\n\nfirst"), NOW)
        uow.inbox.record(InboxItem("email", "b@x.org", raw=None, message_ref="4.gh@x"), NOW)
        uow.inbox.record(InboxItem("sms", "+15550102", raw="not email"), NOW)
        uow.inbox.record(InboxItem("email", "c@x.org", raw="From: two\n\nsecond"), NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.inbox.raw_messages("email") == ["From: one\n\nfirst", "From: two\n\nsecond"]
        assert uow.inbox.raw_messages("voice") == []
