"""Contract of the scoring port: models and versions, scores, history, the contact side."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import NOW, Backend
from tidings.application.scoring.funnel import rebuild_stage_moves, stage_funnel_over_time
from tidings.application.scoring.scores import decay_pass, explain_contact, score_events, stage_funnel
from tidings.domain.scoring.records import HistoryRow, NewEvent, ScoreRow
from tidings.domain.snapshot import EventRecord

DOC = """\
key: leads
name: Leads
behaviour:
  - {id: demo, event: demo.requested, points: 30}
  - id: price
    label: pricing views
    event: page.viewed
    where: 'properties.path == "/pricing"'
    points: 10
    cap: {points: 20, per: 7d}
profile:
  - {id: big, label: big company, when: attributes.size >= 100, points: 25}
decay: {half_life: 10d}
thresholds:
  - {stage: mql, at: 50}
  - {stage: sql, at: 70, demote_below: 60}
writes_contact: true
"""


def test_models_publish_versions_and_pause(backend: Backend) -> None:
    with backend.uow() as uow:
        a = uow.scoring.save_model("leads", "Leads", DOC, NOW)
        same = uow.scoring.save_model("leads", "Leads", DOC, NOW + timedelta(minutes=1))
        b = uow.scoring.save_model("leads", "Leads", DOC + "\n", NOW + timedelta(minutes=2))
        uow.commit()
    assert (a.version, same.version, b.version) == (1, 1, 2) and a.id == b.id
    with backend.uow() as uow:
        assert uow.scoring.set_active("leads", False, NOW)
        assert not uow.scoring.set_active("nope", False, NOW)
        uow.commit()
    with backend.uow() as uow:
        assert [m.key for m in uow.scoring.models()] == ["leads"]
        assert uow.scoring.models(active_only=True) == []
        assert [v for v, _ in uow.scoring.model_versions(a.id)] == [1, 2]


def test_scores_history_and_paging(backend: Backend) -> None:
    ids = [backend.add_contact(f"p{i}@x.test") for i in range(5)]
    with backend.uow() as uow:
        m = uow.scoring.save_model("leads", "Leads", DOC, NOW)
        uow.scoring.save_scores([ScoreRow(c, m.id, float(i), 0.0, None, {"rules": {}}, NOW) for i, c in enumerate(ids)])
        uow.scoring.save_scores([ScoreRow(ids[0], m.id, 9.5, 1.0, "mql", {"rules": {}, "stage": "mql"}, NOW)])
        uow.scoring.add_history(
            [HistoryRow(ids[0], m.id, NOW + timedelta(seconds=s), s, 1, None, {"sentence": str(s)}) for s in range(3)]
        )
        uow.commit()
    with backend.uow() as uow:
        got = uow.scoring.scores(m.id, ids[:2] + [999999])
        assert sorted(got) == ids[:2] and got[ids[0]].score == 9.5 and got[ids[0]].stage == "mql"
        page = uow.scoring.decay_page(m.id, ids[1], 2)
        assert [r.contact_id for r in page] == ids[2:4]
        assert [h.reason["sentence"] for h in uow.scoring.history(ids[0], m.id, 2)] == ["2", "1"]
        assert uow.scoring.stage_counts(m.id) == {"mql": 1, None: 4}
        assert [r.model_id for r in uow.scoring.contact_scores(ids[0])] == [m.id]


def test_events_move_scores_cross_thresholds_and_decay(backend: Backend) -> None:
    cid = backend.add_contact("lead@x.test", attributes={"size": 250})
    with backend.uow() as uow:
        uow.scoring.save_model("leads", "Leads", DOC, NOW)
        uow.commit()
    events = [
        EventRecord("page.viewed", NOW, {"path": "/pricing"}, id=1),
        EventRecord("page.viewed", NOW, {"path": "/pricing"}, id=2),
        EventRecord("page.viewed", NOW, {"path": "/pricing"}, id=3),  # capped
        EventRecord("demo.requested", NOW, {}, id=4),
    ]
    with backend.uow() as uow:
        snaps = uow.scoring.snapshots([cid])
        report = score_events(uow.scoring, snaps, {cid: events}, NOW, in_worker=False)
        uow.commit()
    assert [(c["stage"], c["direction"]) for c in report.crossings] == [("mql", "up"), ("sql", "up")]
    with backend.uow() as uow:
        [m] = explain_contact(uow.scoring, cid, NOW)
        assert m["score"] == 75 and m["stage"] == "sql"
        assert m["sentence"] == "75 = +30 demo.requested, +25 big company, +20 pricing views (2×)"
        assert uow.scoring.snapshots([cid])[cid].lifecycle_stage == "sql"
    assert [n for c, n in backend.events() if c == cid].count("score.threshold_crossed") == 2
    assert cid in backend.queued()
    later = NOW + timedelta(days=10)  # behaviour halves: 25 + 25 = 50 < 60 -> back to mql
    with backend.uow() as uow:
        r = decay_pass(uow.scoring, later)
        uow.commit()
    assert r.changed == 1 and r.crossings == [
        {"contact_id": cid, "model": "leads", "stage": "mql", "direction": "down"}
    ]
    with backend.uow() as uow:
        row = uow.scoring.scores(uow.scoring.model("leads").id, [cid])[cid]  # type: ignore[union-attr]
        assert row.score == 50 and row.stage == "mql"
        f = stage_funnel(uow.scoring, "leads")
        assert [(s["stage"], s["contacts"]) for s in f["stages"]] == [("lead", 0), ("mql", 1), ("sql", 0)]
    with backend.uow() as uow:  # an event id scores once: the crossing event is not stored twice
        uow.scoring.add_events([NewEvent(cid, "x", {}, NOW, "same-id")] * 2, NOW)
        uow.commit()
    assert [n for c, n in backend.events() if c == cid].count("x") == 1
    # the funnel over time: the live counts, by day and stage, equal those rebuilt from the events
    with backend.uow() as uow:
        mid = uow.scoring.model("leads").id  # type: ignore[union-attr]
        live = uow.scoring.stage_moves(mid, NOW.date(), later.date())
        assert [(m.day, m.to_stage, m.direction, m.moved) for m in live] == [
            (NOW.date(), "mql", "up", 1), (NOW.date(), "sql", "up", 1), (later.date(), "mql", "down", 1)
        ]
        assert live[-1].from_stage == "sql" and uow.scoring.stage_moves(mid, later.date(), later.date()) == live[2:]
        over = stage_funnel_over_time(uow.scoring, "leads", later.date(), since=NOW.date(), over="day")
        first = over["periods"][0]["stages"]
        assert [(r["stage"], r["entered"], r["to_next"]) for r in first] == [("lead", 0, None), ("mql", 1, 1.0),
                                                                             ("sql", 1, None)]
        assert over["periods"][-1]["stages"][2]["demoted"] == 1 and len(over["periods"]) == 11
    with backend.uow() as uow:
        assert rebuild_stage_moves(uow.scoring) == {"leads": 3}
        uow.commit()
    with backend.uow() as uow:
        assert uow.scoring.stage_moves(mid, NOW.date(), later.date()) == live
