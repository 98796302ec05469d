"""`tidings campaigns ...` against a real database: the whole life of a campaign from the shell,
the worker's sender run in-process, and the refusals (message + non-zero exit)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact, add_template
from tidings.application.campaigns.sending import CampaignSender
from tidings.application.segments import segments as seg
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock
from tidings.runtime import catcher_service
from tidings.store import schema
from tidings.store.segments_sql import SqlSegmentStore
from tidings.store.sql_uow import SqlUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_campaign_life_from_the_cli(
    db_url: str, engine: sa.Engine, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    port = free_port()
    monkeypatch.setenv("TIDINGS_CATCHER_SMTP_PORT", str(port))
    container.settings = replace(container.settings, catcher_port=port)
    add_template(engine, NOW, key="news")
    for i in range(3):
        add_contact(engine, NOW, email=f"c{i}@x.test", plan="pro")
    seg.create_segment(SqlSegmentStore(engine), "pros", "Pros", 'attributes.plan == "pro"', NOW)
    runner = CliRunner()

    def run(*args: str) -> str:
        r = runner.invoke(app, ["campaigns", *args])
        assert r.exit_code == 0, r.output
        return r.output

    bad = runner.invoke(app, ["campaigns", "create", "Bad Key", "--segment", "pros", "--template", "news"])
    assert bad.exit_code != 0 and "key:" in bad.output
    bad = runner.invoke(app, ["campaigns", "create", "ok", "--segment", "nope", "--template", "nope"])
    assert bad.exit_code != 0 and "segment: no segment 'nope'" in bad.output and "template:" in bad.output
    run("create", "hello", "--segment", "pros", "--template", "news", "--subject", "Hello", "--throttle", "2/minute")
    assert runner.invoke(app, ["campaigns", "schedule", "hello"]).exit_code != 0  # not approved
    assert "for 3 contacts" in run("approve", "hello", "--by", "boss@x.test")
    run("schedule", "hello")
    catcher = catcher_service(container)
    catcher.start()
    try:
        assert "sent test A (Hello) to me@x.test" in run("send-test", "hello", "--to", "me@x.test")
    finally:
        catcher.stop()
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.inbox.c.subject)).scalars().all() == ["[test] Hello"]
    sender = CampaignSender(lambda: SqlUnitOfWork(engine), ManualClock(datetime.now(UTC)))
    while sender.run_once():
        pass
    shown = json.loads(run("show", "hello", "--json"))
    assert shown["status"] == "sent" and shown["approved_by"] == "boss@x.test"
    assert shown["progress"] == {"audience": 3, "waiting": 0, "queued": 3, "sent": 0, "failed": 0, "skipped": 0}
    with engine.connect() as conn:
        slots = sorted(conn.execute(sa.select(schema.outbox.c.next_attempt_at)
                                    .where(schema.outbox.c.kind == "message")).scalars())
    assert (slots[2] - slots[0]).total_seconds() == 60  # two per minute
    assert "hello" in run("list")
    report = json.loads(run("report", "hello", "--json"))
    assert report["results"]["sent"] == 0 and report["progress"]["audience"] == 3
    assert runner.invoke(app, ["campaigns", "cancel", "hello"]).exit_code != 0  # already sent


def test_a_sender_killed_mid_batch_resumes_without_sending_anyone_twice(engine: sa.Engine) -> None:
    """The batch that was being written when the worker died is all or nothing; the next sender
    continues with the recipients not enqueued yet (on SQLite and PostgreSQL)."""
    add_template(engine, NOW, key="news")
    for i in range(12):
        add_contact(engine, NOW, email=f"k{i}@x.test", plan="pro")
    seg.create_segment(SqlSegmentStore(engine), "pros", "Pros", 'attributes.plan == "pro"', NOW)
    from tidings.application.campaigns import campaigns as svc

    with engine.begin() as conn:
        uow = SqlUnitOfWork.joining(conn)
        svc.create(uow, {"key": "k", "segment": "pros", "template": "news"}, NOW, by=None)
        svc.approve(uow, "k", NOW, by="boss")
        svc.schedule(uow, "k", NOW)
    clock = ManualClock(NOW)
    sender = CampaignSender(lambda: SqlUnitOfWork(engine), clock, batch=5)
    assert sender.run_once() == 1 and sender.run_once() == 1  # started; 5 enqueued

    class Killed(Exception):
        pass

    def die(self: object, campaign_id: int, queued: object) -> None:
        raise Killed  # the process dies after the outbox rows were written, before the mark

    from tidings.store.campaigns_sql import SqlCampaigns

    original = SqlCampaigns.mark_queued
    SqlCampaigns.mark_queued = die  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            sender.step("k", clock.now())
    finally:
        SqlCampaigns.mark_queued = original  # type: ignore[method-assign]
    resumed = CampaignSender(lambda: SqlUnitOfWork(engine), clock, batch=5)
    while resumed.run_once():
        pass
    o = schema.outbox
    with engine.connect() as conn:
        per_contact = conn.execute(sa.select(o.c.contact_id, sa.func.count()).where(o.c.kind == "message")
                                   .group_by(o.c.contact_id)).all()
        status = conn.execute(sa.select(schema.campaigns.c.status)).scalar_one()
    assert len(per_contact) == 12 and {n for _, n in per_contact} == {1}
    assert status == "sent"
