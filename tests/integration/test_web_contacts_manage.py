"""Web app: contacts changed in the browser (create, edit, tags, consent with proof, delete),
export of the listed contacts, bulk tag / untag with a preview count, and the CSV import wizard."""

from __future__ import annotations

import json
import re
import time

from tests.web_support import web_client
from tidings.application.contacts.contacts import get_contact, lookup
from tidings.store.sql_uow import joined


def _id_from(location: str) -> int:
    m = re.fullmatch(r"/contacts/(\d+)", location)
    assert m, location
    return int(m.group(1))


def test_create_edit_tag_consent_and_delete_a_contact(container) -> None:
    with web_client(container) as (client, token):
        assert client.get("/contacts/new").status_code == 200
        r = client.post(
            "/contacts/new",
            data={
                "csrf_token": token,
                "email": "Ann@Shop.test",
                "first_name": "Ann",
                "attributes": '{"city": "Berlin"}',
                "tags": "vip, new",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        cid = _id_from(r.headers["location"])
        dup = client.post("/contacts/new", data={"csrf_token": token, "email": "ann@shop.test"})
        assert dup.status_code == 422 and "exists" in dup.text
        bad = client.post("/contacts/new", data={"csrf_token": token, "email": "x@y.test", "attributes": "[1]"})
        assert bad.status_code == 422 and "JSON object" in bad.text
        assert client.post("/contacts/new", data={"email": "z@y.test"}).status_code == 403  # no CSRF token

        page = client.get(f"/contacts/{cid}/edit")
        assert "Berlin" in page.text
        r = client.post(
            f"/contacts/{cid}/edit",
            data={
                "csrf_token": token,
                "email": "ann@shop.test",
                "first_name": "Anna",
                "last_name": "Lee",
                "attributes": '{"plan": "pro"}',
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        client.post(f"/contacts/{cid}/tags", data={"csrf_token": token, "tags": "gold"})
        client.post(f"/contacts/{cid}/tags/remove", data={"csrf_token": token, "tag": "new"})
        client.post(
            f"/contacts/{cid}/consent",
            data={"csrf_token": token, "channel": "email", "status": "granted", "text": "Yes, email me news."},
        )
        with container.engine.connect() as conn:
            c = get_contact(joined(conn), cid)
        assert c is not None
        assert (c["first_name"], c["last_name"], c["attributes"]) == ("Anna", "Lee", {"plan": "pro"})  # city deleted
        assert c["tags"] == ["gold", "vip"]
        consent = c["consent"]["email"]
        assert consent["status"] == "granted" and consent["source"] == "web:marketer@example.com"
        assert consent["proof"]["text"] == "Yes, email me news." and consent["proof"]["user"] == "marketer@example.com"
        assert consent["recorded_at"] == container.clock.now()
        profile = client.get(f"/contacts/{cid}").text
        assert "Yes, email me news." in profile and "web:marketer@example.com" in profile

        r = client.post(f"/contacts/{cid}/delete", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and "erased" in r.headers["location"]
        with container.engine.connect() as conn:
            assert get_contact(joined(conn), cid) is None
        assert client.get(f"/contacts/{cid}").status_code == 404


def test_a_viewer_can_look_but_not_change(container) -> None:
    with web_client(container, role="viewer") as (client, token):
        assert client.get("/contacts/new").status_code == 403
        assert client.post("/contacts/new", data={"csrf_token": token, "email": "a@b.test"}).status_code == 403
        assert client.get("/contacts/export.csv").status_code == 200


def _seed(client, token: str, n: int = 3) -> list[int]:
    ids = []
    for i in range(n):
        r = client.post(
            "/contacts/new",
            data={
                "csrf_token": token,
                "email": f"p{i}@shop.test",
                "first_name": "=HYPERLINK(1)" if i == 0 else f"P{i}",
                "attributes": json.dumps({"city": "Oslo" if i < 2 else "Rome"}),
            },
            follow_redirects=False,
        )
        ids.append(_id_from(r.headers["location"]))
    return ids


def test_search_export_and_bulk_tag_the_listed_contacts(container) -> None:
    with web_client(container) as (client, token):
        ids = _seed(client, token)
        listed = client.get("/contacts", params={"q": "oslo"}).text
        assert "p0@shop.test" in listed and "p1@shop.test" in listed and "p2@shop.test" not in listed
        csv_text = client.get("/contacts/export.csv", params={"q": "oslo"}).text
        lines = csv_text.strip().splitlines()
        assert len(lines) == 3 and lines[0].startswith("id,")
        assert "'=HYPERLINK(1)" in csv_text  # formula cells are neutralised
        jsonl = [json.loads(x) for x in client.get("/contacts/export.jsonl", params={"q": "rome"}).text.splitlines()]
        assert [x["email"] for x in jsonl] == ["p2@shop.test"]

        preview = client.get("/contacts/bulk", params={"q": "oslo", "action": "tag", "value": "north"})
        assert re.search(r'id="bulk-count"><strong>2</strong>', preview.text)
        done = client.post("/contacts/bulk", data={"csrf_token": token, "q": "oslo", "action": "tag", "value": "north"})
        assert 'id="bulk-done"' in done.text
        empty = client.post("/contacts/bulk", data={"csrf_token": token, "action": "tag", "value": "all"})
        assert empty.status_code == 422  # never on every contact by accident
        with container.engine.connect() as conn:
            tags = {i: get_contact(joined(conn), i)["tags"] for i in ids}  # type: ignore[index]
        assert tags == {ids[0]: ["north"], ids[1]: ["north"], ids[2]: []}
        client.post("/contacts/bulk", data={"csrf_token": token, "tag": "north", "action": "untag", "value": "north"})
        with container.engine.connect() as conn:
            assert all(get_contact(joined(conn), i)["tags"] == [] for i in ids)  # type: ignore[index]


CSV = (
    "E-mail,First Name,Plan,Newsletter\n"
    "ann@shop.test,Ann,pro,yes\n"
    "not-an-email,Bob,free,yes\n"
    "cy@shop.test,Cy,free,maybe\n"
    "dee@shop.test,Dee,pro,no\n"
)


def test_the_import_wizard_maps_runs_and_reports_errors(container) -> None:
    with web_client(container) as (client, token):
        r = client.post(
            "/contacts/import",
            data={"csrf_token": token},
            files={"file": ("people.csv", CSV.encode(), "text/csv")},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        url = r.headers["location"]
        mapping = client.get(url).text
        assert "not-an-email" in mapping and 'value="email" selected' in mapping  # preview + guessed field
        r = client.post(
            f"{url}/run",
            data={
                "csrf_token": token,
                "map_0": "email",
                "map_1": "first_name",
                "map_2": "attributes.plan",
                "map_3": "consent_email",
                "consent_source": "spring fair signup sheet",
                "tags": "fair",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        for _ in range(100):
            page = client.get(url, headers={"HX-Request": "true"}).text
            if "import-done" in page:
                break
            time.sleep(0.05)
        assert 'id="n-created">2<' in page and 'id="n-rejected">2<' in page
        assert "maybe" in page and "E-mail" in page  # the column named by the rejected rows
        errors = client.get(f"{url}/errors.csv").text.splitlines()
        assert errors[0] == "line,column,message,E-mail,First Name,Plan,Newsletter"
        assert errors[1].startswith("3,E-mail,") and errors[2].startswith("4,Newsletter,")
        with container.engine.connect() as conn:
            ann = get_contact(joined(conn), lookup(joined(conn), "ann@shop.test") or 0)
            dee = get_contact(joined(conn), lookup(joined(conn), "dee@shop.test") or 0)
        assert ann and dee
        assert ann["attributes"] == {"plan": "pro"} and ann["tags"] == ["fair"]
        assert ann["consent"]["email"]["status"] == "granted"
        assert ann["consent"]["email"]["source"] == "spring fair signup sheet"
        assert dee["consent"]["email"]["status"] == "denied"
    with web_client(container, role="marketer", email="other@example.com") as (other, _):
        assert other.get(url).status_code == 404  # a job is its owner's


MANUAL = """key: bulk-drip
name: Bulk drip
triggers:
  - manual: true
steps:
  - id: nap
    type: wait
    duration: 3d
"""


def test_bulk_enrol_the_listed_contacts_in_a_journey(container) -> None:
    from tidings.application.journeys import journeys as js
    from tidings.store.sql_uow import joined

    with container.engine.begin() as conn:
        js.publish(joined(conn), container.clock.now(), text=MANUAL)
    with web_client(container) as (client, token):
        _seed(client, token)
        done = client.post(
            "/contacts/bulk", data={"csrf_token": token, "q": "oslo", "action": "enrol", "value": "bulk-drip"}
        )
        assert 'id="bulk-done"' in done.text and "Enrolled 2 contacts" in done.text
        again = client.post(
            "/contacts/bulk", data={"csrf_token": token, "q": "oslo", "action": "enrol", "value": "nope"}
        )
        assert "Enrolled 0 contacts" in again.text and "2 × no journey &#39;nope&#39;" in again.text
