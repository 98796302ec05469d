"""The kill switch: pause all sending (or one channel) at once, resume with a preview of what is held.

The pause is a settings row (``control.sending``) that the delivery loop reads before every
claim (``store.control.paused_channels``): held messages stay ``pending`` in the outbox,
untouched, and go out on resume in their usual order (or are listed by :func:`status`).
Journeys keep running; their messages queue up.

"Stop every enrolment caused by tag X" (:func:`stop_caused_by_tag`) ends every running
enrolment whose causal chain (``enrollment_causes``) starts from that tag, with a preview first
and one ``stopped_by_operator`` trace row per enrolment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tidings.application.ports.control import SENDING_KEY, ControlRepository
from tidings.domain.control.policy import CHANNELS, held

OFF: dict[str, Any] = {"all": False, "channels": []}


class SendingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def state(repo: ControlRepository) -> dict[str, Any]:
    return dict(repo.get_setting(SENDING_KEY) or OFF)


def _check_channel(channel: str | None) -> None:
    if channel is not None and (channel not in CHANNELS or channel == "*"):
        raise SendingError(
            "channel", f"unknown channel {channel!r} (one of {', '.join(c for c in CHANNELS if c != '*')})"
        )


def status(repo: ControlRepository) -> dict[str, Any]:
    """The switch and what it holds (pending messages per channel)."""
    s = state(repo)
    everything, channels = bool(s.get("all")), list(s.get("channels") or [])
    rows = repo.held_messages(None if everything else channels) if (everything or channels) else []
    return {
        "paused": everything or bool(channels),
        "all": everything,
        "channels": channels,
        "since": s.get("at"),
        "by": s.get("by"),
        "held": [
            {
                "channel": r["channel"],
                "count": int(r["count"]),
                "oldest": r["oldest"].isoformat() if r["oldest"] else None,
            }
            for r in rows
        ],
        "held_total": sum(int(r["count"]) for r in rows),
    }


def pause(
    repo: ControlRepository, now: datetime, *, channel: str | None = None, by: str | None = None
) -> dict[str, Any]:
    _check_channel(channel)
    s = state(repo)
    if channel is None:
        s["all"] = True
    else:
        s["channels"] = sorted({*(s.get("channels") or []), channel})
    s.update(at=now.isoformat(), by=by)
    repo.put_setting(SENDING_KEY, s, now)
    return status(repo)


def resume(
    repo: ControlRepository, now: datetime, *, channel: str | None = None, by: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Lift the pause (all, or one channel); ``dry_run`` only previews what would be released."""
    _check_channel(channel)
    before = status(repo)
    s = state(repo)
    if channel is None:
        s = {**OFF}
    else:
        s["channels"] = [c for c in s.get("channels") or [] if c != channel]
    released = [h for h in before["held"] if not held(s, h["channel"])]
    out = {"dry_run": dry_run, "releases": released, "released_total": sum(h["count"] for h in released)}
    if not dry_run:
        s.update(at=now.isoformat(), by=by)
        repo.put_setting(SENDING_KEY, s, now)
    return {**out, "after": status(repo) if not dry_run else None}


def stop_caused_by_tag(
    repo: ControlRepository, tag: str, now: datetime, *, apply: bool = False, by: str | None = None
) -> dict[str, Any]:
    """Running enrolments caused (directly or down the chain) by tag ``tag``; ended when ``apply``."""
    if not tag.strip():
        raise SendingError("tag", "name the tag whose enrolments to stop")
    ids = sorted({*repo.enrolments_caused_by("tag_added", tag), *repo.enrolments_caused_by("tag_removed", tag)})
    rows = repo.live_enrolments(ids)
    per_journey: dict[str, int] = {}
    for r in rows:
        per_journey[str(r["key"])] = per_journey.get(str(r["key"]), 0) + 1
    preview = {
        "tag": tag,
        "applied": apply,
        "count": len(rows),
        "journeys": [{"journey": k, "count": n} for k, n in sorted(per_journey.items())],
        "enrollments": [
            {"id": int(r["id"]), "contact_id": int(r["contact_id"]), "journey": r["key"], "step": r["step_id"]}
            for r in rows[:500]
        ],
    }
    if apply and rows:
        repo.end_enrolments(rows, "stopped", now)
        repo.insert_traces(_traces(rows, tag, by, now))
    return preview


def _traces(rows: Sequence[dict[str, Any]], tag: str, by: str | None, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "contact_id": r["contact_id"],
            "enrollment_id": r["id"],
            "journey_id": r["journey_id"],
            "journey_version": r["version"],
            "step_id": r["step_id"],
            "stimulus": "operator",
            "action": "stopped_by_operator",
            "detail": {"reason": f"stop every enrolment caused by tag {tag!r}", "tag": tag, "by": by},
            "at": now,
            "outbox_id": None,
        }
        for r in rows
    ]
