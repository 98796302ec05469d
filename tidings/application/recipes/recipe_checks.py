"""What a recipe needs before it can run: channels, teams, contact data, template variables.

A recipe's templates read ``contact.*``, ``data.*`` and ``message.*``. A value printed without
a ``default`` (and not guarded by an ``if``) must exist when the message renders, or the
message fails. :func:`template_needs` finds those values by walking the Jinja syntax tree, so
an install can say exactly what is missing ("template cart-reminder-3 prints data.coupon but
step reminder-3 gives no coupon") instead of failing later, one message at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from tidings.application.ports.content import ContactReader
from tidings.application.ports.sales import SalesUnitOfWork
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.snapshot import STANDARD_FIELDS

ROOTS = ("contact", "data", "message")
#: what every send gives a template under ``data`` (see domain/journeys/steps.py ``_send``).
SEND_DATA = frozenset({"journey", "version", "step", "enrollment", "key", "variables"})
#: what the delivery loop gives under ``message`` (self_service_url, signal_url: journey messages only).
MESSAGE_KEYS = frozenset({"id", "unsubscribe_url", "preferences_url", "self_service_url", "signal_url"})

_ENV = SandboxedEnvironment()


@dataclass(frozen=True)
class Finding:
    """One thing missing. ``kind``: channel | team | attribute | variable | parameter | template."""

    kind: str
    message: str
    #: an error blocks the install (unless forced); a warning is reported only.
    severity: str = "error"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message}


# --------------------------------------------------------------------------- templates


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """``contact.address.city`` / ``data["items"]`` as a tuple, when rooted at one of ROOTS."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            return None
        node = node.node
    if isinstance(node, nodes.Name) and node.name in ROOTS:
        return (node.name, *reversed(parts))
    return None


def _walk(node: nodes.Node, guarded: frozenset[tuple[str, ...]], out: set[tuple[str, ...]]) -> None:
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        path = _path(node)
        if path is not None:
            if not any(path[: len(g)] == g for g in guarded):
                out.add(path)
            if isinstance(node, nodes.Getitem):
                _walk(node.arg, guarded, out)
            return
    if isinstance(node, nodes.Filter) and node.name == "default":
        # the defaulted value itself is optional: only the default's own arguments are walked
        for child in (*node.args, *node.kwargs):
            _walk(child, guarded, out)
        return
    if isinstance(node, nodes.Test) and node.name in ("defined", "undefined", "none"):
        return
    if isinstance(node, nodes.If | nodes.CondExpr):
        tested: set[tuple[str, ...]] = set()
        _collect(node.test, tested)
        inner = guarded | frozenset(tested)
        _walk_test(node.test, guarded, out)
        for child in node.iter_child_nodes(exclude=("test",)):
            _walk(child, inner, out)
        return
    for child in node.iter_child_nodes():
        _walk(child, guarded, out)


def _walk_test(test: nodes.Node, guarded: frozenset[tuple[str, ...]], out: set[tuple[str, ...]]) -> None:
    """In an ``if`` test, a bare value is a truth test; only values used in comparisons count."""
    if isinstance(test, nodes.Getattr | nodes.Getitem | nodes.Test):
        return
    if isinstance(test, nodes.And | nodes.Or | nodes.Not):
        for child in test.iter_child_nodes():
            _walk_test(child, guarded, out)
        return
    _walk(test, guarded, out)


def _collect(node: nodes.Node, out: set[tuple[str, ...]]) -> None:
    for n in (node, *node.find_all((nodes.Getattr, nodes.Getitem))):
        path = _path(n) if isinstance(n, nodes.Getattr | nodes.Getitem) else None
        if path is not None:
            out.add(path)


def template_needs(*sources: str | None) -> set[tuple[str, ...]]:
    """Values the template prints without a default: ``{("contact", "plan"), ("data", "coupon")}``."""
    out: set[tuple[str, ...]] = set()
    for source in sources:
        if source:
            _walk(_ENV.parse(source), frozenset(), out)
    # keep the longest paths only: ("data", "variables", "x") implies ("data", "variables")
    return {p for p in out if not any(q != p and q[: len(p)] == p for q in out)}


# --------------------------------------------------------------------------- data checks


def variable_findings(
    template: str,
    needs: Iterable[tuple[str, ...]],
    doc: JourneyDoc,
    events: Mapping[str, Iterable[str]],
) -> list[Finding]:
    """Template variables with no data: step data, entry-event properties, message links."""
    sends = [s for s in doc.steps.values() if s.type == "send" and s.config.get("template") == template]
    trigger_events = [t.target for t in doc.triggers if t.type == "event" and t.target]
    props = {p for name in trigger_events for p in events.get(str(name), ())}
    if any(s.type == "repeat" for s in doc.steps.values()):
        props.add("occurrence")  # a series sets vars.occurrence before running its ``each`` branch
    found: list[Finding] = []
    for path in sorted(needs):
        root, rest = path[0], path[1:]
        if root == "message" and rest and rest[0] not in MESSAGE_KEYS:
            found.append(Finding("variable", f"template {template!r} prints message.{rest[0]}, which no message has"))
        if root != "data" or not rest:
            continue
        if rest[0] == "variables":
            if len(rest) > 1 and rest[1] not in props:
                src = ", ".join(map(str, trigger_events)) or "no event (the journey is not event-triggered)"
                found.append(
                    Finding(
                        "variable",
                        f"template {template!r} prints data.variables.{rest[1]} without a default, but the "
                        f"entry event ({src}) is not declared to carry {rest[1]!r}",
                    )
                )
            continue
        if rest[0] in SEND_DATA:
            continue
        for step in sends:
            if rest[0] not in (step.config.get("data") or {}):
                found.append(
                    Finding(
                        "variable",
                        f"template {template!r} prints data.{rest[0]} without a default, but step "
                        f"{step.id!r} gives no {rest[0]!r} in its data",
                    )
                )
    return found


def contact_attributes(needs: Iterable[tuple[str, ...]]) -> set[str]:
    """Custom attributes the template prints without a default (``contact.plan``)."""
    out = set()
    for path in needs:
        if path[0] != "contact" or len(path) < 2 or path[1] in ("tags",):
            continue
        name = path[2] if path[1] == "attributes" and len(path) > 2 else path[1]
        if name not in STANDARD_FIELDS and name != "attributes":
            out.add(name)
    return out


def attribute_findings(contacts: ContactReader, attributes: Iterable[str], why: str) -> Iterator[Finding]:
    """An attribute no contact has (checked only once there are contacts)."""
    if not contacts.any_contact():
        return
    for name in sorted(set(attributes)):
        if not contacts.any_with_attribute(name):
            yield Finding("attribute", f"no contact has the attribute {name!r} ({why})")


def team_findings(uow: SalesUnitOfWork, teams: Iterable[str]) -> Iterator[Finding]:
    from tidings.application.sales.tasks import team_reps

    for team in sorted(set(teams)):
        if not team_reps(uow, team):
            yield Finding(
                "team",
                f"team {team!r} has no member: its tasks and owners stay unassigned (give users the "
                f"team {team!r}, or list its reps: tidings tasks team {team} --reps a@x,b@x)",
                "warning",
            )


def channel_findings(providers: Mapping[str, str], channels: Iterable[str]) -> list[Finding]:
    """A channel with no provider is an error; one served by a local sink is a warning.

    ``providers``: channel -> provider name as delivery uses them (``Container.channel_providers``).
    """
    found: list[Finding] = []
    for channel in sorted(set(channels)):
        if channel not in providers:
            found.append(Finding("channel", f"channel {channel!r} is not configured (no provider)"))
            continue
        name = providers[channel]
        if name in ("catcher", "sink") or name.endswith("sink"):
            found.append(
                Finding(
                    "channel",
                    f"channel {channel!r} goes to the local sink ({name}): kept in the web inbox, not delivered",
                    "warning",
                )
            )
    return found
