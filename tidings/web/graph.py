"""Automatic layout of directed graphs for server-side SVG (journeys, the journey map).

A small Sugiyama-style layout: cycles are broken by reversing DFS back edges, nodes are put in
layers by longest path from the sources, edges spanning several layers get invisible dummy
points, and each layer is ordered by repeated barycentre sweeps to reduce crossings. Pure: no
I/O; the template draws what :func:`layout` returns (so every label is escaped by Jinja).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

NODE_W = 200
NODE_H = 64
H_GAP = 40
V_GAP = 56
MARGIN = 24


@dataclass
class Node:
    id: str
    label: str
    sub: str = ""
    counts: str = ""
    #: engagement of the step (sent, open and click rates), drawn under the box.
    metrics: str = ""
    kind: str = ""
    href: str = ""
    classes: str = ""
    # filled by layout
    layer: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    dummy: bool = False


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    classes: str = ""
    #: the funnel on this edge (contacts who moved along it, share of the source's exits).
    metrics: str = ""
    # filled by layout: an SVG path and where its label goes
    path: str = ""
    lx: float = 0.0
    ly: float = 0.0
    back: bool = False


@dataclass
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float
    node_w: int = NODE_W
    node_h: int = NODE_H
    layers: list[list[str]] = field(default_factory=list)


def _break_cycles(ids: list[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in ids:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            v, i = stack[-1]
            if i < len(succ[v]):
                stack[-1] = (v, i + 1)
                w = succ[v][i]
                if state.get(w) == 1:
                    back.add((v, w))
                elif w not in state:
                    state[w] = 1
                    stack.append((w, 0))
            else:
                state[v] = 2
                stack.pop()
    return back


def layout(nodes: Sequence[Node], edges: Sequence[Edge], *, sweeps: int = 6, per_row: int = 4) -> Layout:
    """Lay out ``nodes``; nodes without any edge go in rows of ``per_row`` below the rest
    (a map of many unrelated journeys would otherwise be one very wide layer)."""
    ids = {n.id for n in nodes}
    touched = {e.src for e in edges if e.dst in ids} | {e.dst for e in edges if e.src in ids}
    lone = [n for n in nodes if n.id not in touched]
    if len(lone) < 2:
        return _layered(nodes, edges, sweeps)
    connected = [n for n in nodes if n.id in touched]
    base = _layered(connected, edges, sweeps) if connected else Layout([], [], 0, 0)
    rows = [lone[i : i + per_row] for i in range(0, len(lone), per_row)]
    grid_w = min(len(lone), per_row) * NODE_W + (min(len(lone), per_row) - 1) * H_GAP + 2 * MARGIN
    width = max(base.width, grid_w)
    y0 = base.height if connected else MARGIN
    for r, row in enumerate(rows):
        row_w = len(row) * NODE_W + (len(row) - 1) * H_GAP
        x0 = (width - row_w) / 2
        for i, n in enumerate(row):
            n.layer, n.order = len(base.layers) + r, i
            n.x, n.y = x0 + i * (NODE_W + H_GAP), y0 + r * (NODE_H + V_GAP)
    height = y0 + len(rows) * (NODE_H + V_GAP) - V_GAP + MARGIN
    return Layout(
        nodes=[*base.nodes, *lone],
        edges=base.edges,
        width=width,
        height=height,
        layers=[*base.layers, *[[n.id for n in row] for row in rows]],
    )


def _layered(nodes: Sequence[Node], edges: Sequence[Edge], sweeps: int) -> Layout:
    nodes = [n for n in nodes]
    by_id = {n.id: n for n in nodes}
    edges = [e for e in edges if e.src in by_id and e.dst in by_id]
    ids = [n.id for n in nodes]
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        if e.src != e.dst:
            succ[e.src].append(e.dst)
    back = _break_cycles(ids, succ)
    # forward edges (back edges reversed for layering)
    fwd: list[tuple[str, str]] = []
    for e in edges:
        if e.src == e.dst:
            e.back = True
            continue
        if (e.src, e.dst) in back:
            e.back = True
            fwd.append((e.dst, e.src))
        else:
            fwd.append((e.src, e.dst))
    # longest-path layering (Kahn order)
    indeg = {i: 0 for i in ids}
    out: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in fwd:
        out[a].append(b)
        indeg[b] += 1
    queue = [i for i in ids if indeg[i] == 0]
    layer = {i: 0 for i in ids}
    seen = 0
    while queue:
        v = queue.pop(0)
        seen += 1
        for w in out[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    for n in nodes:
        n.layer = layer[n.id]
    # dummy nodes on long edges so ordering sees them
    adj_pairs: list[tuple[str, str]] = []
    dummies: dict[tuple[str, str], list[str]] = {}
    all_nodes: dict[str, Node] = dict(by_id)
    for a, b in fwd:
        la, lb = layer[a], layer[b]
        prev = a
        chain: list[str] = []
        for lvl in range(la + 1, lb):
            d = Node(id=f"__d{len(all_nodes)}", label="", layer=lvl, dummy=True)
            all_nodes[d.id] = d
            chain.append(d.id)
            adj_pairs.append((prev, d.id))
            prev = d.id
        adj_pairs.append((prev, b))
        dummies[(a, b)] = chain
    n_layers = max((n.layer for n in all_nodes.values()), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(n_layers)]
    for nid in [n.id for n in nodes] + [k for k in all_nodes if k not in by_id]:
        layers[all_nodes[nid].layer].append(nid)
    up: dict[str, list[str]] = {k: [] for k in all_nodes}
    down: dict[str, list[str]] = {k: [] for k in all_nodes}
    for a, b in adj_pairs:
        down[a].append(b)
        up[b].append(a)

    def pos_map() -> dict[str, int]:
        return {nid: i for lay in layers for i, nid in enumerate(lay)}

    for sweep in range(sweeps):
        going_down = sweep % 2 == 0
        rng = range(1, n_layers) if going_down else range(n_layers - 2, -1, -1)
        for li in rng:
            pos = pos_map()
            neighbours = up if going_down else down
            current = layers[li]

            def bary(
                nid: str,
                neighbours: dict[str, list[str]] = neighbours,
                pos: dict[str, int] = pos,
                current: list[str] = current,
            ) -> float:
                ns = neighbours[nid]
                return sum(pos[x] for x in ns) / len(ns) if ns else float(current.index(nid))

            layers[li] = sorted(current, key=bary)
    # coordinates: each layer centred
    widest = max((len(lay) for lay in layers), default=1)
    total_w = widest * NODE_W + (widest - 1) * H_GAP + 2 * MARGIN
    for li, lay in enumerate(layers):
        row_w = len(lay) * NODE_W + (len(lay) - 1) * H_GAP
        x0 = (total_w - row_w) / 2
        for i, nid in enumerate(lay):
            n = all_nodes[nid]
            n.order = i
            n.x = x0 + i * (NODE_W + H_GAP)
            n.y = MARGIN + li * (NODE_H + V_GAP)
    height = MARGIN * 2 + n_layers * NODE_H + (n_layers - 1) * V_GAP
    right: float = float(total_w)
    for e in edges:
        na, nb = by_id[e.src], by_id[e.dst]
        if e.src == e.dst:
            x, y = na.x + NODE_W, na.y + NODE_H / 2
            e.path = f"M{x:.0f},{y - 10:.0f} C{x + 40:.0f},{y - 30:.0f} {x + 40:.0f},{y + 30:.0f} {x:.0f},{y + 10:.0f}"
            e.lx, e.ly = x + 34, y
            right = max(right, x + 60)
            continue
        if e.back:
            # drawn up the right side of the graph
            x1, y1 = na.x + NODE_W, na.y + NODE_H / 2
            x2, y2 = nb.x + NODE_W, nb.y + NODE_H / 2
            bend = max(x1, x2) + 40
            e.path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2 + 6:.0f},{y2:.0f}"
            e.lx, e.ly = bend - 6, (y1 + y2) / 2
            right = max(right, bend + 20)
            continue
        points = [(na.x + NODE_W / 2, na.y + NODE_H)]
        for dummy_id in dummies.get((e.src, e.dst), []):
            dn = all_nodes[dummy_id]
            points.append((dn.x + NODE_W / 2, dn.y + NODE_H / 2))
        points.append((nb.x + NODE_W / 2, nb.y - 6))
        parts = [f"M{points[0][0]:.0f},{points[0][1]:.0f}"]
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            my = (y1 + y2) / 2
            parts.append(f"C{x1:.0f},{my:.0f} {x2:.0f},{my:.0f} {x2:.0f},{y2:.0f}")
        e.path = " ".join(parts)
        mid = len(points) // 2
        (x1, y1), (x2, y2) = points[mid - 1], points[mid]
        e.lx, e.ly = (x1 + x2) / 2 + 4, (y1 + y2) / 2
    real = [n for n in nodes]
    return Layout(nodes=real, edges=list(edges), width=right, height=height, layers=layers)


def wrap(text: str, limit: int = 28) -> str:
    """Shorten a label to fit a node."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
