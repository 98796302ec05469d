"""Loops and chains between journeys, from the links their outputs make to each other's triggers.

Pure graph work over :func:`tidings.domain.journeys.links.journey_links`: strongly connected
components (Tarjan) are the loops, the longest path through the condensed graph is the chain
depth. Depth counts journeys: A starts B starts C is a chain of depth 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tidings.domain.journeys.links import Link


@dataclass(frozen=True, slots=True)
class Loop:
    journeys: tuple[str, ...]  # in cycle order, first repeated at the end by :meth:`text`
    via: tuple[str, ...]  # the link label of each hop

    def text(self) -> str:
        return " → ".join([*self.journeys, self.journeys[0]])


def successors(keys: Sequence[str], links: Sequence[Link]) -> dict[str, list[str]]:
    succ: dict[str, list[str]] = {k: [] for k in keys}
    for link in links:
        if link.source in succ and link.target in succ and link.target not in succ[link.source]:
            succ[link.source].append(link.target)
    return succ


def components(keys: Sequence[str], succ: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components, iterative Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in keys:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def loops(keys: Sequence[str], links: Sequence[Link]) -> list[Loop]:
    """One cycle per loop (strongly connected group of journeys, or a journey starting itself)."""
    succ = successors(keys, links)
    label = {(lk.source, lk.target): lk.label for lk in links}
    found: list[Loop] = []
    for comp in components(keys, succ):
        members = set(comp)
        start = comp[0]
        if len(comp) == 1 and start not in succ[start]:
            continue
        # shortest cycle back to ``start`` inside the component (BFS)
        prev: dict[str, str] = {}
        frontier = [start]
        closing: str | None = None
        while frontier and closing is None:
            nxt = []
            for v in frontier:
                for w in succ[v]:
                    if w == start:
                        closing = v
                        break
                    if w in members and w not in prev and w != start:
                        prev[w] = v
                        nxt.append(w)
                if closing is not None:
                    break
            frontier = nxt
        assert closing is not None
        path = [closing]
        while path[-1] != start:
            path.append(prev[path[-1]])
        path.reverse()
        hops = [*zip(path, [*path[1:], start], strict=True)]
        found.append(Loop(tuple(path), tuple(label.get(h, "") for h in hops)))
    return found


def chains(keys: Sequence[str], links: Sequence[Link]) -> dict[str, list[str]]:
    """For each journey, the longest chain of journeys starting from it (loops condensed to one
    group, so depth stays finite). The chain lists journey keys, the journey itself first."""
    succ = successors(keys, links)
    comps = components(keys, succ)
    comp_of = {k: i for i, c in enumerate(comps) for k in c}
    best: dict[int, list[str]] = {}

    def longest(ci: int) -> list[str]:
        if ci in best:
            return best[ci]
        tails = [longest(comp_of[w]) for v in comps[ci] for w in succ[v] if comp_of[w] != ci]
        best[ci] = [*comps[ci], *max(tails, key=len, default=[])]
        return best[ci]

    # Tarjan yields sinks first, so each tail is computed before the components that reach it
    for ci in range(len(comps)):
        longest(ci)
    return {k: [k, *(j for j in best[comp_of[k]] if j != k)] for k in keys}


def chain_starts(keys: Sequence[str], links: Sequence[Link]) -> list[str]:
    """One journey per group that no other group's journey starts: where chains begin."""
    succ = successors(keys, links)
    comps = components(keys, succ)
    comp_of = {k: i for i, c in enumerate(comps) for k in c}
    entered = {comp_of[w] for v in keys for w in succ[v] if comp_of[w] != comp_of[v]}
    return [c[0] for i, c in enumerate(comps) if i not in entered]
