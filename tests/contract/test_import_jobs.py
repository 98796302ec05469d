"""Contract of the import jobs port on memory, SQLite and PostgreSQL: a job's life (mapping ->
queued -> running -> done / checked / failed) with conditional moves, progress, the report
kept whole, a failed job run again, and the purge of old finished jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.contract.conftest import Backend, MemoryBackend
from tidings.application.ports.import_jobs import ImportJobs
from tidings.domain.imports.jobs import ImportJob
from tidings.store.import_jobs_sql import SqlImportJobs
from tidings.store.memory.import_jobs import MemoryImportJobs

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _jobs(backend: Backend) -> ImportJobs:
    return MemoryImportJobs() if isinstance(backend, MemoryBackend) else SqlImportJobs(backend.engine)


def _new(job_id: str = "j1", **values: object) -> ImportJob:
    job = ImportJob(job_id, 7, "people.csv", "email,name\na@x.test,Ann\n", ["email", "name"],
                    [["a@x.test", "Ann"]], 1, NOW)  # fmt: skip
    for k, v in values.items():
        setattr(job, k, v)
    return job


def test_a_job_runs_once_and_keeps_its_report(backend: Backend) -> None:
    jobs = _jobs(backend)
    jobs.add(_new(preset="mailchimp"))
    got = jobs.get("j1")
    assert got is not None and got.state == "mapping" and got.preset == "mailchimp"
    assert got.header == ["email", "name"] and got.preview == [["a@x.test", "Ann"]] and got.text.startswith("email")
    assert jobs.get("nope") is None
    assert not jobs.start("j1", NOW)  # not queued yet
    opts = {"tags": ["fair"], "consent_channel": "email", "consent_status": "granted", "source": "web:a"}
    assert jobs.queue("j1", mapping={"email": "email", "name": "first_name"}, options=opts,
                      consent_source="fair sheet", dry_run=False, now=NOW)  # fmt: skip
    assert not jobs.queue("j1", mapping={}, options={}, consent_source="", dry_run=False, now=NOW)  # only once
    assert jobs.start("j1", NOW) and not jobs.start("j1", NOW)
    later = NOW + timedelta(seconds=5)
    jobs.progress("j1", 500, later)
    got = jobs.get("j1")
    assert got is not None and (got.state, got.processed, got.updated_at) == ("running", 500, later)
    assert got.mapping == {"email": "email", "name": "first_name"} and got.options == opts
    assert got.consent_source == "fair sheet"
    rejected = [{"line": 3, "reason": "email: not an email address", "row": ["nope", "Bob"]}]
    counts = {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "suppressed": 0}
    jobs.finish("j1", state="done", counts=counts, rejected=rejected, error="", now=later)
    got = jobs.get("j1")
    assert got is not None and got.state == "done" and got.finished_at == later
    assert got.counts == counts and got.rejected == rejected
    assert got.text == ""  # the uploaded list is not kept once imported
    assert got.rejected_rows() == [{"line": 3, "column": "email", "message": "not an email address",
                                    "row": ["nope", "Bob"]}]  # fmt: skip
    jobs.progress("j1", 1, later)  # a late progress call changes a finished job no more
    assert jobs.get("j1").processed == 500  # type: ignore[union-attr]
    assert not jobs.queue("j1", mapping={}, options={}, consent_source="", dry_run=False, now=later)


def test_a_failed_job_runs_again_and_old_ones_are_purged(backend: Backend) -> None:
    jobs = _jobs(backend)
    jobs.add(_new("a"))
    jobs.add(_new("b"))
    jobs.add(_new("c"))
    for job_id in ("a", "b"):
        jobs.queue(job_id, mapping={}, options={}, consent_source="s", dry_run=True, now=NOW)
        jobs.start(job_id, NOW)
    jobs.finish("a", state="failed", counts={}, rejected=[], error="boom", now=NOW)
    got = jobs.get("a")
    assert got is not None and got.error == "boom" and got.dry_run is True
    assert jobs.queue("a", mapping={"email": "email"}, options={}, consent_source="s", dry_run=False,
                      now=NOW + timedelta(hours=1))  # fmt: skip
    again = jobs.get("a")
    assert again is not None and (again.state, again.error, again.dry_run, again.finished_at) == (
        "queued", "", False, None)
    jobs.finish("a", state="done", counts={"rows": 1}, rejected=[], error="", now=NOW + timedelta(hours=1))
    # "c" (mapping, untouched since NOW) goes; "b" is running and stays; "a" finished later stays
    assert jobs.purge(NOW + timedelta(minutes=30)) == 1
    assert jobs.get("c") is None and jobs.get("b") is not None and jobs.get("a") is not None
    assert jobs.purge(NOW + timedelta(days=30)) == 1 and jobs.get("b") is not None
