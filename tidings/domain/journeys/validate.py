"""Whole-document checks on the step graph: dangling edges, unreachable steps, loops that never
wait (they would send forever in one transition), sends naming unknown templates."""

from __future__ import annotations

from tidings.domain.journeys.model import END, JourneyDoc, Problem


def check_graph(doc: JourneyDoc, order: list[str], templates: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    steps = doc.steps
    for sid in order:
        step = steps[sid]
        for label, target in step.edges.items():
            if target != END and target not in steps:
                problems.append(Problem(f"{label} points to unknown step {target!r}", step.line, sid))
        if step.type == "send" and templates is not None and step.config.get("template") not in templates:
            problems.append(
                Problem(
                    f"template {step.config.get('template')!r} does not exist", step.line, sid, "template"
                )
            )
        if step.type == "behaviour":
            ref = steps.get(str(step.config.get("message")))
            converted = step.config.get("action") == "converted"
            if converted and not step.config.get("event") and not any(c.event for c in doc.settings.goal):
                problems.append(
                    Problem(
                        "action converted needs event: (or a goal event in settings)", step.line, sid, "event"
                    )
                )
            if ref is None or ref.type != "send":
                problems.append(
                    Problem(
                        f"message must name a send step, not {step.config.get('message')!r}",
                        step.line,
                        sid,
                        "message",
                    )
                )
        if step.type == "wait_event" and not isinstance(step.config.get("event"), str):
            problems.append(Problem("event must be an event name", step.line, sid, "event"))
    if problems:
        return problems
    # reachability from the first step
    seen: set[str] = set()
    stack = [doc.start]
    while stack:
        sid = stack.pop()
        if sid == END or sid in seen:
            continue
        seen.add(sid)
        stack.extend(steps[sid].edges.values())
    for sid in order:
        if sid not in seen:
            problems.append(Problem("step is unreachable from the first step", steps[sid].line, sid))
    problems.extend(_loops_without_wait(doc, order))
    return problems


def _loops_without_wait(doc: JourneyDoc, order: list[str]) -> list[Problem]:
    """A cycle among non-waiting steps: find one with a colouring DFS over those steps only."""
    graph = {
        sid: [t for t in doc.steps[sid].edges.values() if t != END and not doc.steps[t].is_wait]
        for sid in order
        if not doc.steps[sid].is_wait
    }
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    reported: set[str] = set()
    problems: list[Problem] = []
    for root in graph:
        if colour[root] != white:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                colour[node] = grey
                path.append(node)
            succ = graph[node]
            if i < len(succ):
                stack.append((node, i + 1))
                nxt = succ[i]
                if colour[nxt] == grey:
                    cycle = path[path.index(nxt) :]
                    if not reported & set(cycle):
                        reported.update(cycle)
                        problems.append(
                            Problem(
                                "loop without a wait: " + " -> ".join([*cycle, nxt]),
                                doc.steps[nxt].line,
                                nxt,
                            )
                        )
                elif colour[nxt] == white:
                    stack.append((nxt, 0))
            else:
                colour[node] = black
                path.pop()
    return problems
