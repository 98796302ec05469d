"""What the journey pages show, built from a journey document and the enrolment/trace tables:
the step graph with counts, A/B arms with results, version diffs, the map of all journeys."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tidings.domain.journeys.links import Link
from tidings.domain.journeys.model import END, JourneyDoc, Step, Trigger
from tidings.store import page_reads_sql
from tidings.store.db import Connection
from tidings.web.graph import Edge, Layout, Node, layout, wrap


@dataclass
class StepCounts:
    waiting: dict[str, int]
    passed: dict[str, int]
    converted: dict[str, int]


def step_counts(conn: Connection, journey_id: int, version: int | None) -> StepCounts:
    """Contacts waiting at each step now, that passed through it, and that converted after it."""
    waiting, passed, converted = page_reads_sql.step_counts(conn, journey_id, version)
    return StepCounts(waiting, passed, converted)


def trigger_text(t: Trigger) -> str:
    target = t.target or ""
    return {
        "event": f"event {target}",
        "segment_entered": f"enters segment {target}",
        "segment_exited": f"leaves segment {target}",
        "attribute_changed": f"{target} changes",
        "tag_added": f"tag {target} added",
        "tag_removed": f"tag {target} removed",
        "manual": "manual / API",
        "date": "a date",
    }.get(t.type, t.type)


def step_summary(step: Step) -> str:
    c = step.config
    t = step.type
    if t == "send":
        return f"{c.get('channel', '')}: {c.get('template', '')}"
    if t == "wait":
        return f"wait {c.get('duration', '')}"
    if t == "wait_time":
        return f"wait until {c.get('at', '')}"
    if t == "wait_until":
        return "wait until a date"
    if t == "wait_event":
        return f"wait for {c.get('event', '')}" + (f" ≤ {c.get('timeout')}" if c.get("timeout") else "")
    if t == "behaviour":
        return f"{c.get('action', '')} {c.get('message', '')} within {c.get('within', '')}"
    if t == "update_contact":
        bits = []
        if c.get("add_tags"):
            bits.append("+" + ",".join(map(str, c["add_tags"] if isinstance(c["add_tags"], list) else [c["add_tags"]])))
        if c.get("set"):
            bits.append("set " + ",".join(map(str, c["set"])))
        if c.get("lifecycle_stage") or c.get("stage"):
            bits.append(f"lifecycle_stage {c.get('lifecycle_stage') or c.get('stage')}")
        return " ".join(bits) or "update contact"
    if t == "enroll":
        return f"start {c.get('journey', '')}"
    if t == "goal":
        return f"goal {c.get('goal', '')}".strip()
    if t == "webhook":
        return f"{c.get('method', 'POST')} webhook"
    if t == "task":
        return f"task: {c.get('title', '')}"
    if t == "crm":
        return f"{c.get('system', '')}: {c.get('action', '')}"
    return t


def edge_label(label: str, step: Step) -> str:
    if label == "next":
        return ""
    if label.startswith("branch:"):
        try:
            branches = step.config.get("branches") or []
            b = branches[int(label.split(":")[1])]
            name = b.get("name") if isinstance(b, Mapping) else None
            when = b.get("when") if isinstance(b, Mapping) else None
            if name:
                return str(name)
            return str(when) if isinstance(when, str) else f"if #{int(label.split(':')[1]) + 1}"
        except (ValueError, IndexError, AttributeError):
            return label
    if label.startswith("variant:"):
        return label.split(":", 1)[1]
    return label


def journey_graph(
    doc: JourneyDoc,
    counts: StepCounts | None = None,
    *,
    unreached: Sequence[str] = (),
    link_steps: bool = False,
    funnel: Mapping[str, str] | None = None,
    moves: Mapping[tuple[str, str], str] | None = None,
) -> Layout:
    """The journey as a graph: a node per trigger and step (with its counts), edges labelled;
    ``funnel`` (step -> engagement line, ``web/reports.step_funnel``) is drawn under each step,
    ``moves`` ((from, to) -> "N · x%", ``web/reports.edge_funnel``; "" = entry / end) on each edge."""
    moves = moves or {}
    nodes: list[Node] = []
    edges: list[Edge] = []
    for t in doc.triggers:
        nodes.append(
            Node(
                id=f"__trigger{t.index}",
                label="When " + wrap(trigger_text(t), 24),
                sub="trigger",
                kind="trigger",
            )
        )
        entered = moves.get(("", doc.start), "") if t.index == doc.triggers[0].index else ""
        edges.append(Edge(f"__trigger{t.index}", doc.start, metrics=entered.split(" · ")[0]))
    uses_end = False
    for sid, step in doc.steps.items():
        line = ""
        if counts is not None:
            line = (
                f"{counts.waiting.get(sid, 0)} waiting · {counts.passed.get(sid, 0)} passed · "
                f"{counts.converted.get(sid, 0)} conv."
            )
        name = str(step.config.get("name") or sid)
        nodes.append(
            Node(
                id=sid,
                label=wrap(name, 26),
                sub=wrap(step_summary(step), 32),
                counts=line,
                metrics=(funnel or {}).get(sid, ""),
                kind=step.type,
                classes="unreached" if sid in unreached else "",
                href=f"/contacts?journey={quote(doc.key)}&step={quote(sid)}" if link_steps else "",
            )
        )
        for label, target in step.edges.items():
            moved = moves.get((sid, "" if target == END else target), "")
            if target == END:
                uses_end = True
                target = "__end"
            edges.append(Edge(sid, target, wrap(edge_label(label, step), 18), metrics=moved))
    if uses_end:
        nodes.append(Node(id="__end", label="End", kind="end"))
    if not doc.triggers and doc.start:
        pass
    return layout(nodes, edges)


# --------------------------------------------------------------------------- A/B


def ab_results(conn: Connection, journey_id: int, doc: JourneyDoc) -> list[dict[str, Any]]:
    """Per split step: each variant's contacts, conversions, rate and a two-proportion z-test
    against the first variant (p-value), from the split traces and the enrolments' end."""
    splits = [sid for sid, st in doc.steps.items() if st.type == "split"]
    if not splits:
        return []
    rows = page_reads_sql.split_rows(conn, journey_id, splits)
    out = []
    for sid in splits:
        variants = [str(v.get("name")) for v in (doc.steps[sid].config.get("variants") or []) if isinstance(v, Mapping)]
        stats = {v: [0, 0] for v in variants}
        for step_id, detail, end_reason in rows:
            if step_id != sid:
                continue
            v = str((detail or {}).get("variant"))
            st = stats.setdefault(v, [0, 0])
            st[0] += 1
            st[1] += 1 if end_reason == "converted" else 0
        out.append({"step": sid, "arms": _arms(stats, variants)})
    return out


def _arms(stats: Mapping[str, list[int]], variants: list[str]) -> list[dict[str, Any]]:
    """Each variant against the first: statsmodels' z-test p-value and the Bayesian chance to
    beat it (tidings.domain.experiments; None while a variant has nobody yet)."""
    from tidings.domain.experiments.stats import Arm, evaluate, p_value

    first = variants[0] if variants else None
    base = stats.get(first) if first is not None else None
    arms = []
    for v, (n, conv) in stats.items():
        p = beat = None
        if base is not None and v != first and n and base[0]:
            pair = [Arm(str(first), base[0], base[1]), Arm(v, n, conv)]
            p, beat = p_value(pair), evaluate(pair).arms[1].chance_to_beat_control
        arms.append(
            {"variant": v, "contacts": n, "converted": conv, "rate": conv / n if n else 0.0, "p": p, "beat": beat}
        )
    return arms


# --------------------------------------------------------------------------- diff


def diff_lines(a: str, b: str, a_name: str, b_name: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs."""
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), a_name, b_name, lineterm="", n=3):
        if line.startswith(("+++", "---")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = ""
        out.append((cls, line))
    return out


# --------------------------------------------------------------------------- map


def map_graph(journeys: Sequence[Mapping[str, Any]], links: Sequence[Link]) -> Layout:
    """All journeys as nodes, the links between them as labelled edges."""
    nodes = [
        Node(
            id=str(j["key"]),
            label=wrap(str(j["name"]), 26),
            sub=f"{j['key']} · v{j.get('current_version') or '-'}",
            counts=str(j.get("trigger_text", "")),
            kind="journey",
            href=f"/journeys/{j['key']}",
            classes=f"s-{j['status']}",
        )
        for j in journeys
    ]
    grouped: dict[tuple[str, str], list[str]] = {}
    for link in links:
        grouped.setdefault((link.source, link.target), []).append(link.label)
    edges = [Edge(a, b, wrap("; ".join(sorted(set(labels))), 30), classes="link") for (a, b), labels in grouped.items()]
    return layout(nodes, edges)
