"""Web app: the import wizard's preset picker (pre-filled mapping, consent proof on run), its dry
run (a report, nothing written, then the real run), a wrong preset refused with the missing
columns, and the event / message export links of the contacts page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.web_support import web_client
from tidings.application.contacts.contacts import get_contact, lookup
from tidings.store.sql_uow import joined

SUBSCRIBED = (
    Path(__file__).parent.parent / "fixtures" / "imports" / "mailchimp_subscribed_members_export.csv"
).read_bytes()


def _upload(client: Any, token: str, preset: str) -> Any:
    return client.post(
        "/contacts/import",
        data={"csrf_token": token, "preset": preset},
        files={"file": ("subscribed_members_export.csv", SUBSCRIBED, "text/csv")},
        follow_redirects=False,
    )


def _wait(client: Any, url: str, marker: str) -> str:
    for _ in range(200):
        r = client.get(url, headers={"HX-Request": "true"})
        if r.headers.get("HX-Redirect") or marker in r.text:
            return client.get(url).text
        time.sleep(0.05)
    raise AssertionError(f"{marker} never shown")


def test_preset_prefills_dry_runs_then_imports_with_proof(container: Any) -> None:
    with web_client(container) as (client, token):
        assert 'id="import-preset"' in client.get("/contacts/import").text
        wrong = _upload(client, token, "hubspot")
        assert wrong.status_code == 422 and "missing column(s) Email" in wrong.text
        r = _upload(client, token, "mailchimp")
        assert r.status_code == 303, r.text
        url = r.headers["location"]
        page = client.get(url).text
        assert 'value="attributes.member_rating" selected' in page and 'value="ignore" selected' in page
        r = client.post(f"{url}/run", data={"csrf_token": token, "dry_run": "1"}, follow_redirects=False)
        assert r.status_code == 303
        page = _wait(client, url, "dry-run-done")
        assert 'id="dry-run-done"' in page and 'id="n-created">4<' in page and 'id="run-import"' in page
        with container.engine.connect() as conn:
            assert lookup(joined(conn), "layla@example.com") is None  # the dry run wrote nothing
        client.post(f"{url}/run", data={"csrf_token": token}, follow_redirects=False)
        page = _wait(client, url, "import-done")
        assert 'id="n-created">4<' in page
        with container.engine.connect() as conn:
            layla = get_contact(joined(conn), lookup(joined(conn), "layla@example.com") or 0)
        assert layla and layla["first_name"] == "ليلى" and sorted(layla["tags"]) == ["Customer", "VIP 2024"]
        assert layla["consent"]["email"]["source"] == "mailchimp import"
        assert layla["consent"]["email"]["proof"]["confirm_ip"] == "203.0.113.10"


def test_contacts_page_links_event_and_message_exports(container: Any) -> None:
    with web_client(container) as (client, _):
        page = client.get("/contacts").text
        assert 'href="/contacts/export-events.csv"' in page and 'href="/contacts/export-messages.csv"' in page
        r = client.get("/contacts/export-events.csv")
        assert r.status_code == 200 and r.text.startswith("id,contact_id,name,occurred_at")
        assert client.get("/contacts/export-messages.jsonl").status_code == 200
        assert client.get("/contacts/export-people.csv").status_code == 404
