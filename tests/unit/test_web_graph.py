"""The layered graph layout and the journey links analysis (pure)."""

from __future__ import annotations

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.links import journey_links, rule_mentions
from tidings.web.graph import Edge, Node, layout
from tidings.web.journey_view import journey_graph


def _nodes(*ids: str) -> list[Node]:
    return [Node(id=i, label=i) for i in ids]


def test_longest_path_layering_puts_each_node_below_all_its_parents():
    g = layout(_nodes("a", "b", "c", "d"), [Edge("a", "b"), Edge("b", "c"), Edge("a", "c"), Edge("c", "d")])
    layer = {n.id: n.layer for n in g.nodes}
    assert layer == {"a": 0, "b": 1, "c": 2, "d": 3}
    y = {n.id: n.y for n in g.nodes}
    assert y["a"] < y["b"] < y["c"] < y["d"]
    # the long edge a->c bends through a dummy point, so its path has two curve segments
    long_edge = next(e for e in g.edges if (e.src, e.dst) == ("a", "c"))
    assert long_edge.path.count("C") == 2


def test_cycles_are_broken_and_drawn_as_back_edges():
    g = layout(_nodes("a", "b", "c"), [Edge("a", "b"), Edge("b", "c"), Edge("c", "a"), Edge("b", "b")])
    back = {(e.src, e.dst) for e in g.edges if e.back}
    assert back == {("c", "a"), ("b", "b")}
    assert all(e.path.startswith("M") for e in g.edges)


def test_ordering_reduces_crossings():
    # a1->b2, a2->b1 drawn in input order would cross; barycentre ordering uncrosses them
    g = layout(_nodes("a1", "a2", "b1", "b2"), [Edge("a1", "b2"), Edge("a2", "b1")])
    x = {n.id: n.x for n in g.nodes}
    assert (x["a1"] < x["a2"]) == (x["b2"] < x["b1"])


def test_nodes_in_a_layer_do_not_overlap():
    g = layout(_nodes("r", "a", "b", "c", "d"), [Edge("r", k) for k in "abcd"])
    xs = sorted(n.x for n in g.nodes if n.layer == 1)
    assert all(b - a >= g.node_w for a, b in zip(xs, xs[1:], strict=False))
    assert g.width >= max(n.x for n in g.nodes) + g.node_w


SOURCE = """key: first
name: First
triggers:
  - event: signed_up
steps:
  - id: check
    type: branch
    branches:
      - when: 'tag("vip")'
        next: vip
    else: plain
  - id: vip
    type: update_contact
    add_tags: [welcomed]
    set: {plan: gold}
  - id: plain
    type: enroll
    journey: third
"""

SECOND = """key: second
name: Second
triggers:
  - tag_added: welcomed
  - attribute_changed: plan
steps:
  - id: x
    type: wait
    duration: 1d
"""

THIRD = """key: third
name: Third
triggers:
  - segment_entered: golds
  - event: tag.added
steps:
  - id: y
    type: wait
    duration: 1d
"""


def test_journey_links_tags_fields_events_segments_and_enrolments():
    docs = [parse_journey(t) for t in (SOURCE, SECOND, THIRD)]
    links = journey_links(docs, {"golds": {"attribute": "plan", "op": "eq", "value": "gold"}})
    found = {(x.source, x.step, x.target, x.kind) for x in links}
    assert ("first", "vip", "second", "tag") in found
    assert ("first", "vip", "second", "field") in found
    assert ("first", "vip", "third", "segment") in found
    assert ("first", "vip", "third", "event") in found
    assert ("first", "plain", "third", "enrol") in found
    assert not any(x.source in ("second", "third") for x in links)


def test_rule_mentions_walks_the_structured_form():
    rule = {"all": [{"tag": "vip"}, {"not": {"attribute": "attributes.plan", "op": "eq", "value": "x"}}]}
    assert rule_mentions(rule) == {("tag", "vip"), ("field", "plan")}


def test_journey_graph_has_a_node_per_step_trigger_and_end_with_branch_labels():
    g = journey_graph(parse_journey(SOURCE))
    ids = {n.id for n in g.nodes}
    assert {"check", "vip", "plain", "__trigger0", "__end"} <= ids
    labels = {(e.src, e.dst): e.label for e in g.edges}
    assert labels[("check", "plain")] == "else"
    assert labels[("check", "vip")] == 'tag("vip")'  # the branch's condition


def test_nodes_without_edges_wrap_into_rows_below_the_graph():
    g = layout(_nodes("a", "b", "x1", "x2", "x3", "x4", "x5"), [Edge("a", "b")], per_row=2)
    pos = {n.id: (n.x, n.y) for n in g.nodes}
    assert len(pos) == 7
    assert pos["x1"][1] == pos["x2"][1] > pos["b"][1]  # a row below the connected part
    assert pos["x3"][1] > pos["x1"][1] and pos["x5"][1] > pos["x3"][1]
    assert g.height >= pos["x5"][1] + g.node_h
