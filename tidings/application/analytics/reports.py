"""Reports read from the rollups: journey, step, template, campaign, channels; rows for CSV.

Every report has ``totals`` (counts + rates, ``domain/analytics/metrics.rates``), a ``series``
by day and a breakdown; all from ``analytics_daily`` (no event scan), so a report costs the
same over 10M events as over 10.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tidings.application.ports.analytics import AnalyticsRepository
from tidings.domain.analytics.holdout import in_control_group, lift
from tidings.domain.analytics.metrics import METRICS, rates

KINDS = ("journey", "step", "template", "campaign", "channels")


class ReportError(ValueError):
    """Bad input; ``field`` names it (``from``, ``to``, ``key``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Range:
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ReportError("from", f"'from' ({self.start}) is after 'to' ({self.end}): the range is backwards")

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Range:
        return cls(_day(start, "from"), _day(end, "to"))

    def as_dict(self) -> dict[str, str | None]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }


def _day(text: str | None, field: str) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ReportError(field, f"{field!r} must be a date YYYY-MM-DD, got {text!r}") from None


def with_rates(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, **rates(row)}


def _block(repo: AnalyticsRepository, where: Mapping[str, Any], r: Range, by: str) -> dict[str, Any]:
    totals = repo.sums(where, r.start, r.end, [])
    return {
        "range": r.as_dict(),
        "totals": with_rates(totals[0] if totals else dict.fromkeys(METRICS, 0)),
        "series": [with_rates(x) for x in repo.sums(where, r.start, r.end, ["day"])],
        f"by_{by}": [with_rates(x) for x in repo.sums(where, r.start, r.end, [by])],
    }


def _journey(repo: AnalyticsRepository, key: str) -> Mapping[str, Any]:
    j = repo.journey(key)
    if j is None:
        raise NotFound(f"no journey {key!r}")
    return j


def journey_report(repo: AnalyticsRepository, key: str, r: Range) -> dict[str, Any]:
    """A journey: totals, series by day, per step and per version."""
    j = _journey(repo, key)
    out = {"kind": "journey", "key": key, "name": j["name"], **_block(repo, {"journey_id": j["id"]}, r, "step")}
    out["by_version"] = [with_rates(x) for x in repo.sums({"journey_id": j["id"]}, r.start, r.end, ["journey_version"])]
    out["funnel"] = edge_funnel(repo.edge_sums(int(j["id"]), r.start, r.end))
    if j.get("control_group"):
        out["control_group"] = control_group(repo, j, r)
    return out


def control_group(repo: AnalyticsRepository, j: Mapping[str, Any], r: Range) -> dict[str, Any]:
    """Incremental lift: contacts who first entered in the range, split by the control group they
    were put in at entry (held out of every send), and those of them who converted (first
    conversion in the range), from the group rollups (``analytics_groups``)."""
    percent = float(j["control_group"])
    g = repo.group_sums(int(j["id"]), r.start, r.end)
    t, c = g[False], g[True]
    return {
        "percent": percent,
        **lift((int(t["entrants"]), int(t["converted"])), (int(c["entrants"]), int(c["converted"]))),
    }


def control_group_by_entrant(repo: AnalyticsRepository, j: Mapping[str, Any], r: Range) -> dict[str, Any]:
    """:func:`control_group` the way it was computed before the group was recorded at entry: every
    entrant hashed into its group with today's percent (the reference the rollups are checked
    against; it reads every entrant and conversion of the range)."""
    percent = float(j["control_group"])
    converted = {int(c["contact_id"]) for c in repo.conversions({"journey": j["key"]}, r.start, r.end)}
    groups = {True: [0, 0], False: [0, 0]}
    for cid in repo.entrants(int(j["id"]), r.start, r.end):
        g = groups[in_control_group(str(j["key"]), cid, percent)]
        g[0] += 1
        g[1] += cid in converted
    t, c = groups[False], groups[True]
    return {"percent": percent, **lift((t[0], t[1]), (c[0], c[1]))}


def step_report(repo: AnalyticsRepository, key: str, r: Range) -> dict[str, Any]:
    """``JOURNEY/STEP``: one step of a journey, per template (variants of a split show apart)."""
    journey, sep, step = key.partition("/")
    if not sep or not step:
        raise ReportError("key", f"a step is named JOURNEY/STEP, got {key!r}")
    j = _journey(repo, journey)
    return {"kind": "step", "key": key, **_block(repo, {"journey_id": j["id"], "step": step}, r, "template")}


def template_report(repo: AnalyticsRepository, key: str, r: Range) -> dict[str, Any]:
    return {"kind": "template", "key": key, **_block(repo, {"template": key}, r, "channel")}


def campaign_report(repo: AnalyticsRepository, key: str, r: Range) -> dict[str, Any]:
    return {"kind": "campaign", "key": key, **_block(repo, {"campaign": key}, r, "template")}


def channels_report(repo: AnalyticsRepository, r: Range) -> dict[str, Any]:
    return {"kind": "channels", **_block(repo, {}, r, "channel")}


def steps_report(repo: AnalyticsRepository, key: str, r: Range, version: int | None = None) -> dict[str, Any]:
    """The funnel of a journey (what the journey graph draws): per step its engagement counts and
    rates plus how many entered and left it; per edge how many moved along it and its share of
    the source step's exits (``from`` null: the journey's entry; ``to`` null: its end)."""
    j = _journey(repo, key)
    where: dict[str, Any] = {"journey_id": j["id"]}
    if version is not None:
        where["journey_version"] = version
    steps = [with_rates(x) for x in repo.sums(where, r.start, r.end, ["step"])]
    moves = repo.edge_sums(int(j["id"]), r.start, r.end, version)
    return {
        "kind": "steps",
        "key": key,
        "version": version,
        "range": r.as_dict(),
        "steps": steps,
        **edge_funnel(moves, [str(x["step"]) for x in steps]),
    }


def edge_funnel(moves: Sequence[Mapping[str, Any]], known: Sequence[str] = ()) -> dict[str, Any]:
    """Counts per step (``entered``, ``exited``) and per edge (``moved``, ``share`` of the source's
    exits; the entry's share is of all entries) from ``(src, dst, moved)`` rows, "" = entry / end."""
    out_of: dict[str, int] = {}
    into: dict[str, int] = {}
    for m in moves:
        out_of[str(m["src"])] = out_of.get(str(m["src"]), 0) + int(m["moved"])
        into[str(m["dst"])] = into.get(str(m["dst"]), 0) + int(m["moved"])
    edges = [
        {
            "from": m["src"] or None,
            "to": m["dst"] or None,
            "moved": int(m["moved"]),
            "share": round(int(m["moved"]) / out_of[str(m["src"])], 6) if out_of[str(m["src"])] else None,
        }
        for m in moves
    ]
    names = sorted(({*out_of, *into} - {""}) | {k for k in known if k})
    flow = {n: {"step": n, "entered": into.get(n, 0), "exited": out_of.get(n, 0)} for n in names}
    return {"entries": out_of.get("", 0), "completed": into.get("", 0), "flow": list(flow.values()), "edges": edges}


def report(repo: AnalyticsRepository, kind: str, key: str, r: Range) -> dict[str, Any]:
    if kind == "journey":
        return journey_report(repo, key, r)
    if kind == "step":
        return step_report(repo, key, r)
    if kind == "template":
        return template_report(repo, key, r)
    if kind == "campaign":
        return campaign_report(repo, key, r)
    raise ReportError("kind", f"unknown report {kind!r}: one of journey, step, template, campaign")


def to_csv(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> str:
    """Rows as CSV: the ``first`` columns, then every metric, then every rate."""
    rate_cols = list(rates({}).keys())
    cols = [*first, *METRICS, *rate_cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({c: "" if row.get(c) is None else row.get(c) for c in cols})
    return buf.getvalue()
