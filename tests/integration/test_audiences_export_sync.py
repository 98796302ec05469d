"""Ad audiences against a real database: CLI and API export, live sync to a real local HTTP server."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.fake_http import FakeHttpServer, Reply
from tidings.application.audiences.sync import sync_segment
from tidings.application.ports.audiences import AudienceSyncError
from tidings.application.segments import segments as svc
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.store import schema
from tidings.store.segments_sql import SqlSegmentStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def people(engine: sa.Engine) -> dict[str, int]:
    """Six members of segment ``ads`` (tag ads) with every case of the consent rule, one outsider."""
    rows = [
        ("Ann.Lee@Gmail.com", "+16502530001", {"email": "granted"}, False),  # exported, email + phone
        ("bob@example.com", None, {"email": "granted"}, False),  # exported, email only
        (None, "+442079460958", {"sms": "granted"}, False),  # exported, phone only
        ("cat@example.com", None, {"email": "granted", "sms": "unsubscribed"}, False),  # withdrew
        ("dan@example.com", None, {}, False),  # never consented
        ("eve@example.com", None, {"email": "granted"}, True),  # suppressed (bounced)
        (None, None, {"email": "granted"}, False),  # anonymous: nothing to match on
    ]
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for i, (email, phone, consents, suppressed) in enumerate(rows):
            cid = conn.execute(
                sa.insert(schema.contacts)
                .values(
                    email=email,
                    phone=phone,
                    attributes={},
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(schema.contacts.c.id)
            ).scalar_one()
            ids[email or phone or str(i)] = int(cid)
            conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag="ads", created_at=NOW))
            given = [{"channel": ch, "status": st} for ch, st in consents.items()]
            if given:
                extra = {"contact_id": cid, "source": "test", "recorded_at": NOW, "proof": {}, "topics": {}}
                conn.execute(sa.insert(schema.consents), [{**extra, **g} for g in given])
            if suppressed:
                conn.execute(
                    sa.insert(schema.suppressions).values(
                        channel="email", address=email, reason="hard_bounce", detail={}, created_at=NOW
                    )
                )
        conn.execute(
            sa.insert(schema.contacts).values(email="out@example.com", attributes={}, created_at=NOW, updated_at=NOW)
        )
    svc.create_segment(SqlSegmentStore(engine), "ads", "Ads", 'tag("ads")', NOW)
    return ids


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_export_meta_and_google(
    db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    people(engine)
    runner = CliRunner()
    out = tmp_path / "meta.csv"
    r = runner.invoke(app, ["audiences", "export", "ads", "--platform", "meta", "--out", str(out)])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "3 exported, 1 skipped without email/phone, 3 skipped without consent" in said
    rows = read_csv(out.read_text())
    assert list(rows[0]) == ["email", "phone"]
    assert rows == [
        {"email": sha("ann.lee@gmail.com"), "phone": sha("16502530001")},
        {"email": sha("bob@example.com"), "phone": ""},
        {"email": "", "phone": sha("442079460958")},
    ]
    g = tmp_path / "google.csv"
    r = runner.invoke(app, ["audiences", "export", "ads", "--platform", "google", "--out", str(g)])
    assert r.exit_code == 0, r.output
    grows = read_csv(g.read_text())
    assert list(grows[0]) == ["Email", "Phone"]
    assert grows[0] == {"Email": sha("annlee@gmail.com"), "Phone": sha("+16502530001")}
    bad = runner.invoke(app, ["audiences", "export", "ads", "--platform", "tiktok", "--out", str(g)])
    assert bad.exit_code != 0 and "unknown platform" in " ".join(bad.output.split())
    missing = runner.invoke(app, ["audiences", "export", "nope", "--out", str(tmp_path / "x.csv")])
    assert missing.exit_code != 0 and "no segment 'nope'" in " ".join(missing.output.split())
    assert not (tmp_path / "x.csv").exists()


def test_api_export_streams_csv_and_refuses_bad_input(api: Any, engine: sa.Engine) -> None:
    people(engine)
    r = api.get("/api/segments/ads/audience.csv", params={"platform": "google"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="ads-google-audience.csv"' in r.headers["content-disposition"]
    assert len(read_csv(r.text)) == 3
    bad = api.get("/api/segments/ads/audience.csv", params={"platform": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "platform"]
    assert api.get("/api/segments/nope/audience.csv", params={"platform": "meta"}).status_code == 404


def test_export_reads_in_chunks(container: Container, engine: sa.Engine) -> None:
    from tidings.application.audiences.export import ExportCounts, csv_chunks

    people(engine)
    counts = ExportCounts()
    parts = list(csv_chunks(container.audience_members, "ads", "meta", counts, chunk=2))
    assert len(parts) >= 4  # three chunks of members, the header rides on the first
    assert (counts.exported, counts.skipped_no_identifier, counts.skipped_no_consent) == (3, 1, 3)


def test_sync_sends_only_the_difference_to_a_real_server(container: Container, engine: sa.Engine) -> None:
    ids = people(engine)
    with FakeHttpServer() as server:
        settings = dataclasses.replace(
            container.settings,
            webhook_allow=("127.0.0.1",),
            audience_destinations=(("relay", server.url + "/audience"),),
            audience_token="tok-123",
        )
        c = dataclasses.replace(container, settings=settings)
        target = c.audience_destination("relay", "meta")

        def run() -> Any:
            return sync_segment(
                c.audience_members,
                c.synced_audiences,
                target,
                destination_name="relay",
                segment_key="ads",
                platform="meta",
                clock=c.clock,
                batch=2,
            )

        first = run()
        assert (first.added, first.removed) == (4, 0)  # ann: email + phone, bob, the phone-only contact
        assert [r.json["operation"] for r in server.requests] == ["add", "add"]  # batches of 2
        assert server.requests[0].headers["authorization"] == "Bearer tok-123"
        sent = {h for r in server.requests for h in r.json["hashes"]}
        assert sha("ann.lee@gmail.com") in sent and "ann.lee@gmail.com" not in str(server.requests[0].body)
        server.requests.clear()
        assert run().added == 0 and server.requests == []  # nothing changed: nothing sent
        # bob unsubscribes: his hash is removed at the next sync
        with engine.begin() as conn:
            conn.execute(
                sa.update(schema.consents)
                .where(schema.consents.c.contact_id == ids["bob@example.com"])
                .values(status="unsubscribed")
            )
        third = run()
        assert (third.added, third.removed, third.unchanged) == (0, 1, 3)
        assert server.requests[-1].json == {
            "operation": "remove",
            "platform": "meta",
            "schema": "SHA256",
            "hashes": [sha("bob@example.com")],
        }

        # a refusing destination stops the sync and nothing is recorded as sent
        server.responder = lambda rec: Reply(500, {"error": "down"})
        with engine.begin() as conn:
            conn.execute(
                sa.update(schema.consents)
                .where(schema.consents.c.contact_id == ids["bob@example.com"])
                .values(status="granted")
            )
        with pytest.raises(AudienceSyncError, match="answered 500"):
            run()
        assert sha("bob@example.com") not in c.synced_audiences.hashes("relay", "ads")


def test_sync_destination_must_pass_the_ssrf_guard(container: Container, engine: sa.Engine) -> None:
    people(engine)
    settings = dataclasses.replace(
        container.settings, audience_destinations=(("lan", "https://10.0.0.5/a"), ("plain", "http://93.184.215.14/a"))
    )
    c = dataclasses.replace(container, settings=settings)
    for name, message in (("lan", "private"), ("plain", "https")):
        with pytest.raises(AudienceSyncError, match=message):
            sync_segment(
                c.audience_members,
                c.synced_audiences,
                c.audience_destination(name, "google"),
                destination_name=name,
                segment_key="ads",
                platform="google",
                clock=c.clock,
            )
    assert c.synced_audiences.hashes("lan", "ads") == set()


def test_segment_page_buttons_download_the_audience(container: Container, engine: sa.Engine) -> None:
    import re

    from tests.web_support import web_client

    people(engine)
    with web_client(container, role="viewer") as (client, _):
        page = client.get("/segments/ads")
        assert page.status_code == 200
        links = dict(re.findall(r'id="audience-(meta|google)" href="([^"]+)"', page.text))
        assert set(links) == {"meta", "google"}
        r = client.get(links["google"].replace("&amp;", "&"))
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        rows = read_csv(r.text)
        assert list(rows[0]) == ["Email", "Phone"] and len(rows) == 3
        assert client.get("/segments/ads/audience.csv?platform=x").status_code == 404
    with web_client(container, role="viewer", email="v2@example.com") as (anon, _):
        anon.cookies.clear()
        assert anon.get("/segments/ads/audience.csv", follow_redirects=False).status_code in (303, 401)
