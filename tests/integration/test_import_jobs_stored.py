"""The import wizard's jobs are stored (table ``import_jobs``): another process — a second app on
the same database, or the same server after a restart — shows the progress and the error report;
a run a stopped process left behind turns failed and may be run again; ``GET /api/imports/{id}``
reads the same row."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web_support import login, web_app, web_client
from tidings.bootstrap import build
from tidings.settings import Settings
from tidings.store import schema

CSV = "E-mail,First Name\nann@shop.test,Ann\nnot-an-email,Bob\ncy@shop.test,Cy\n"


def _restarted(db_url: str, engine: sa.Engine, clock: Any) -> Any:
    """A second container on the same database: another process, or the server after a restart."""
    settings = Settings(database_url=db_url, secret_key="test-secret-key", test_clock=True,
                        public_url="http://testserver")  # fmt: skip
    return build(settings, clock=clock, engine=engine)


def _upload(client: TestClient, token: str) -> str:
    r = client.post("/contacts/import", data={"csrf_token": token},
                    files={"file": ("people.csv", CSV.encode(), "text/csv")}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _wait_state(container: Any, job_id: str, *states: str) -> Any:
    for _ in range(200):
        job = container.import_jobs.get(job_id)
        if job is not None and job.state in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def test_another_process_shows_the_report_and_the_api_reads_it(container, db_url, engine, clock, api) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer", "m@example.com") as (client, token):
        url = _upload(client, token)
        job_id = url.rsplit("/", 1)[1]
        stored = container.import_jobs.get(job_id)
        assert stored is not None and stored.state == "mapping" and stored.filename == "people.csv"
        r = client.post(f"{url}/run", data={"csrf_token": token, "map_0": "email", "map_1": "first_name",
                                            "consent_source": "fair sheet", "tags": "fair"},
                        follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        job = _wait_state(container, job_id, "done")
        assert job.counts["created"] == 2 and job.processed == 3 and len(job.rejected) == 1
        assert job.options["tags"] == ["fair"] and job.consent_source == "fair sheet"
    other = _restarted(db_url, engine, clock)
    with TestClient(web_app(other), base_url="http://testserver") as client2:
        login(client2, "m@example.com")  # the same user, on the other process
        page = client2.get(url).text
        assert 'id="import-done"' in page and 'id="n-created">2<' in page and 'id="n-rejected">1<' in page
        errors = client2.get(f"{url}/errors.csv").text.splitlines()
        assert errors[0] == "line,column,message,E-mail,First Name" and errors[1].startswith("3,E-mail,")
    body = api.get(f"/api/imports/{job_id}").json()
    assert body["state"] == "done" and body["file_name"] == "people.csv" and body["percent"] == 100
    assert body["counts"]["created"] == 2 and body["rejected"][0]["line"] == 3
    assert body["rejected"][0]["column"] == "E-mail" and "not-an-email" not in str(body["rejected"])
    assert api.get("/api/imports/nope").status_code == 404
    assert "/api/imports/{job_id}" in api.get("/openapi.json").json()["paths"]


def test_a_run_left_by_a_stopped_process_fails_and_runs_again(container, engine) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer", "m@example.com") as (client, token):
        url = _upload(client, token)
        job_id = url.rsplit("/", 1)[1]
        # as a process that died mid-run leaves it: running, its heartbeat ten minutes old
        old = container.lease_clock.now() - timedelta(minutes=10)
        t = schema.import_jobs
        with engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id == job_id).values(state="running", processed=1, updated_at=old))
        page = client.get(url).text
        assert 'id="import-failed"' in page and "run it again" in page and 'id="mapping-form"' in page
        assert container.import_jobs.get(job_id).state == "failed"
        # polled by htmx, the failed job reloads the page (the error above the mapping form)
        r = client.get(url, headers={"HX-Request": "true"})
        assert r.headers.get("HX-Redirect") == url
        r = client.post(f"{url}/run", data={"csrf_token": token, "map_0": "email", "map_1": "first_name"},
                        follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        job = _wait_state(container, job_id, "done")
        assert job.counts["created"] == 2 and job.error == ""
        # a second run of a finished job is refused (it redirects to the report)
        r = client.post(f"{url}/run", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and container.import_jobs.get(job_id).finished_at == job.finished_at


def test_the_api_runs_an_import_as_a_stored_job(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/imports/contacts", params={"background": "true", "tag": "api", "map": "E-mail=email"},
                 content=CSV.encode(), headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.json()["url"] == f"/api/imports/{job_id}"
    for _ in range(200):
        body = api.get(f"/api/imports/{job_id}").json()
        if body["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert body["state"] == "done", body
    assert body["counts"]["created"] == 2 and [x["line"] for x in body["rejected"]] == [3]
    ann = api.get("/api/contacts", params={"q": "ann@shop.test"}).json()["items"]
    assert ann[0]["tags"] == ["api"] and ann[0]["first_name"] == "Ann"
    # a mapping naming no column: the job fails with the import's own message
    r = api.post("/api/imports/contacts", params={"background": "true", "map": "Nope=email"},
                 content=CSV.encode(), headers={"Content-Type": "text/csv"})  # fmt: skip
    job_id = r.json()["id"]
    for _ in range(200):
        body = api.get(f"/api/imports/{job_id}").json()
        if body["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert body["state"] == "failed" and "Nope" in body["error"]
    r = api.post("/api/imports/contacts", params={"background": "true"}, content=b"",
                 headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 400
    r = api.post("/api/imports/contacts", params={"background": "true"}, content=b"email\na\x00@x.test\n",
                 headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 400 and "NUL" in r.text


def test_a_file_with_nul_is_refused_at_upload(container) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        r = client.post("/contacts/import", data={"csrf_token": token},
                        files={"file": ("x.csv", b"email\na\x00@x.test\n", "text/csv")})  # fmt: skip
        assert r.status_code == 422 and "NUL" in r.text
