"""The Simulation page's scenario builder, pure: the form's rows <-> one scenario of the scenario
file format (:mod:`scenarios`), with every problem named by the form field it comes from.

The form holds the contact (email, locale, time zone, consents, tags, attribute rows), the
behaviour per message (a default, then opens / clicks / ignores per send step) and events at
offsets (name, offset such as ``2h`` or ``3d``, property rows). :func:`read_form` turns posted
fields into a :class:`ScenarioForm`; :func:`to_scenario` checks it (contact fields as the product
normalises them, offsets with the scenario parser's duration rule, the contact through
``scenarios.build_contact``) and gives the scenario mapping :func:`simulate.simulate` runs and
``yaml.safe_dump`` shows as the equivalent scenario document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import InvalidValue, normalise_field
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.journeys.scenarios import ScenarioError, build_contact
from tidings.domain.journeys.timing import parse_duration

#: what a contact does with a message: the scenario's default, or one send step's own choice.
CHOICES = ("ignores", "opens", "clicks")
MESSAGE_CHOICES = ("default", *CHOICES)
ENTRIES = ("manual", "events")
MAX_ROWS = 50  # attribute rows, events, properties per event: a scenario, not a data set

_EVENT_FIELD = re.compile(r"ev-(\d{1,3})-name")
_INT = re.compile(r"[+-]?\d{1,30}")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


@dataclass
class EventRow:
    index: int
    name: str = ""
    at: str = ""
    props: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class MessageRow:
    step: str
    label: str
    choice: str = "default"


@dataclass
class ScenarioForm:
    name: str = "built in the form"
    enter: str = "manual"
    email: str = ""
    first_name: str = ""
    locale: str = ""
    timezone: str = ""
    consents: list[str] = field(default_factory=lambda: ["email"])
    tags: str = ""
    attrs: list[tuple[str, str]] = field(default_factory=list)
    behaviour: str = "ignores"
    messages: list[MessageRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)

    def with_blank_rows(self) -> ScenarioForm:
        """The form as a page shows it: the empty rows left out, then one empty row to fill at
        the end of each list."""
        self.attrs = [r for r in self.attrs if any(x.strip() for x in r)] + [("", "")]
        for ev in self.events:
            ev.props = [r for r in ev.props if any(x.strip() for x in r)] + [("", "")]
        self.events = [e for e in self.events if e.name or e.at or len(e.props) > 1]
        self.events.append(EventRow(self.next_event_index(), props=[("", "")]))
        return self

    def next_event_index(self) -> int:
        return max((e.index for e in self.events), default=-1) + 1


@dataclass(frozen=True)
class FieldProblem:
    """A problem with one input of the form: the input's ``id`` and what is wrong."""

    field: str
    message: str


def send_steps(doc: JourneyDoc) -> list[MessageRow]:
    """One behaviour row per send step, labelled with its template (as the timeline shows it)."""
    rows = []
    for sid, step in doc.steps.items():
        if step.type == "send":
            template = step.config.get("template")
            rows.append(MessageRow(sid, f"{sid} ({template})" if template and template != sid else sid))
    return rows


def initial_form(doc: JourneyDoc) -> ScenarioForm:
    # entered by its event when it has an event trigger (and no manual one); else at the start
    trigger = next((t for t in doc.triggers if t.type == "event" and t.target), None)
    manual = any(t.type == "manual" for t in doc.triggers)
    entry = "events" if trigger is not None and not manual else "manual"
    form = ScenarioForm(email="ann@example.com", enter=entry, messages=send_steps(doc))
    if trigger is not None and entry == "events":
        form.events.append(EventRow(0, str(trigger.target), "0m", [("", "")]))
    return form.with_blank_rows()


def _rows(keys: Sequence[str], values: Sequence[str]) -> list[tuple[str, str]]:
    rows = [(k.strip(), v) for k, v in zip(keys, values, strict=False)]
    return rows[:MAX_ROWS]


def read_form(get: Callable[[str], str], getlist: Callable[[str], list[str]], names: Sequence[str],
              doc: JourneyDoc) -> ScenarioForm:  # fmt: skip
    """The posted fields as a form (``get`` / ``getlist`` read one field / every value of one)."""
    form = ScenarioForm(
        name=get("sc-name").strip() or "built in the form",
        enter=get("sc-enter") if get("sc-enter") in ENTRIES else "manual",
        email=get("sc-email").strip(),
        first_name=get("sc-first-name").strip(),
        locale=get("sc-locale").strip(),
        timezone=get("sc-timezone").strip(),
        consents=[c for c in getlist("sc-consent") if c in CONSENT_CHANNELS],
        tags=get("sc-tags"),
        attrs=_rows(getlist("attr-key"), getlist("attr-value")),
        behaviour=get("sc-behaviour") if get("sc-behaviour") in CHOICES else "ignores",
    )
    chosen = dict(zip(getlist("msg-step"), getlist("msg-choice"), strict=False))
    form.messages = send_steps(doc)
    for row in form.messages:
        row.choice = chosen.get(row.step, "default") if chosen.get(row.step) in MESSAGE_CHOICES else "default"
    indices = sorted({int(m.group(1)) for n in names if (m := _EVENT_FIELD.fullmatch(n))})
    for i in indices[:MAX_ROWS]:
        p = f"ev-{i}-"
        props = _rows(getlist(p + "key"), getlist(p + "value"))
        form.events.append(EventRow(i, get(p + "name").strip(), get(p + "at").strip(), props))
    return form


def scalar(text: str) -> Any:
    """A typed value from a text box: true / false, a 64-bit integer, a finite number, else the
    text (quotes keep a text that looks like a number: ``"42"``)."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    if _INT.fullmatch(t):
        n = int(t)
        return n if -(2**63) <= n < 2**63 else text  # the JSON rule's integers; no rounding to float
    if _FLOAT.fullmatch(t):
        value = float(t)
        if math.isfinite(value):
            return value
    return text


def _mapping(rows: Sequence[tuple[str, str]], key_field: Callable[[int], str],
             problems: list[FieldProblem]) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    for n, (key, value) in enumerate(rows):
        if not key:
            if value.strip():
                problems.append(FieldProblem(key_field(n), "give this value a name"))
            continue
        if key in out:
            problems.append(FieldProblem(key_field(n), f"{key!r} is given twice"))
            continue
        out[key] = scalar(value)
    return out


def _behaviour(choice: str) -> dict[str, bool]:
    return {"opens": choice in ("opens", "clicks"), "clicks": choice == "clicks"}


def to_scenario(form: ScenarioForm) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The scenario the form describes (keys in the scenario file's order) and its problems."""
    problems: list[FieldProblem] = []
    contact: dict[str, Any] = {}
    for name, value in (("email", form.email), ("first_name", form.first_name), ("locale", form.locale),
                        ("timezone", form.timezone)):  # fmt: skip
        try:
            normal = normalise_field(name, value)
        except InvalidValue as exc:
            problems.append(FieldProblem("sc-" + name.replace("_", "-"), exc.message))
            continue
        if normal is not None:
            contact[name] = normal
    tags = sorted({t.strip() for t in form.tags.split(",") if t.strip()})
    if tags:
        contact["tags"] = tags
    if form.consents:
        contact["consents"] = {ch: "granted" for ch in form.consents}
    attrs = _mapping(form.attrs, "attr-key-{}".format, problems)
    if attrs:
        contact["attributes"] = attrs
    try:
        build_contact(contact, 0)
    except (ScenarioError, TypeError, ValueError) as exc:
        problems.append(FieldProblem("sc-email", str(exc)))
    behaviour: dict[str, Any] = _behaviour(form.behaviour)
    per = {m.step: _behaviour(m.choice) for m in form.messages if m.choice != "default"}
    if per:
        behaviour["messages"] = per
    events: list[dict[str, Any]] = []
    for ev in form.events:
        p = f"ev-{ev.index}-"
        if not ev.name and not ev.at and not any(k or v.strip() for k, v in ev.props):
            continue  # an empty row
        if not ev.name:
            problems.append(FieldProblem(p + "name", "name the event (such as order.completed)"))
        try:
            parse_duration(ev.at or "0m")
        except ValueError as exc:
            problems.append(FieldProblem(p + "at", str(exc)))
        item: dict[str, Any] = {"name": ev.name, "at": ev.at or "0m"}
        props = _mapping(ev.props, partial("{}key-{}".format, p), problems)
        if props:
            item["properties"] = props
        events.append(item)
    scenario: dict[str, Any] = {"name": form.name, "contact": contact, "enter": form.enter, "behaviour": behaviour}
    if events:
        scenario["events"] = events
    elif form.enter == "events":
        first = f"ev-{form.events[0].index if form.events else 0}-name"
        problems.append(FieldProblem(first, "the contact enters by events: add the event that starts the journey"))
    return scenario, problems


def problems_by_field(problems: Sequence[FieldProblem]) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for p in problems:
        out.setdefault(p.field, p.message)
    return out
