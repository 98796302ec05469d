"""The content plan document and its cells (docs/content-plan.md).

A plan names the team's personas (each with a description), the funnel stages and the key
questions a reader asks; the matrix is every (persona, stage, question). A cell of that matrix
links the content that answers the question: template keys, asset URLs (a blog post, a PDF), the
channel it is written for, its owner and the planned publish and review dates.

``parse_plan(doc)`` and ``parse_cell(doc, plan)`` validate JSON documents and raise
:class:`PlanInvalid` with every problem and its field path (``personas[2].key``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from tidings.domain.channels import TEMPLATE_CHANNELS
from tidings.domain.names import control_problem

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_AXIS = 20
MAX_TEXT = 2000
MAX_LINKS = 20


class PlanInvalid(ValueError):
    """A plan or cell document that cannot be saved; ``errors`` is [(field path, message)]."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class Item:
    """A persona, a stage or a question: a stable key, a label, a description."""

    key: str
    name: str
    description: str = ""

    def as_doc(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name, "description": self.description}


@dataclass(frozen=True, slots=True)
class PlanDoc:
    personas: tuple[Item, ...]
    stages: tuple[Item, ...]
    questions: tuple[Item, ...]
    #: a template not reviewed (nor edited) for this many months needs an update
    review_months: int = 6
    #: an SMS template longer than this many segments is the wrong format for an SMS cell
    max_sms_segments: int = 3

    @property
    def size(self) -> int:
        return len(self.personas) * len(self.stages) * len(self.questions)

    def coordinates(self) -> list[tuple[str, str, str]]:
        """Every cell of the matrix, persona by persona, stage by stage, question by question."""
        return [(p.key, s.key, q.key) for p in self.personas for s in self.stages for q in self.questions]

    def has(self, persona: str, stage: str, question: str) -> bool:
        return (persona in {p.key for p in self.personas} and stage in {s.key for s in self.stages}
                and question in {q.key for q in self.questions})

    def as_doc(self) -> dict[str, Any]:
        return {
            "personas": [p.as_doc() for p in self.personas],
            "stages": [s.as_doc() for s in self.stages],
            "questions": [q.as_doc() for q in self.questions],
            "review_months": self.review_months,
            "max_sms_segments": self.max_sms_segments,
        }


@dataclass(frozen=True, slots=True)
class Cell:
    """What the team planned for one (persona, stage, question)."""

    persona: str
    stage: str
    question: str
    templates: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    channel: str | None = None
    owner: str | None = None
    publish_on: date | None = None
    review_on: date | None = None
    notes: str = ""

    @property
    def coordinates(self) -> tuple[str, str, str]:
        return (self.persona, self.stage, self.question)

    def as_doc(self) -> dict[str, Any]:
        return {
            "persona": self.persona, "stage": self.stage, "question": self.question,
            "templates": list(self.templates), "assets": list(self.assets), "channel": self.channel,
            "owner": self.owner, "publish_on": self.publish_on.isoformat() if self.publish_on else None,
            "review_on": self.review_on.isoformat() if self.review_on else None, "notes": self.notes,
        }


def _items(*rows: tuple[str, str, str]) -> tuple[Item, ...]:
    return tuple(Item(k, n, d) for k, n, d in rows)


#: the plan a new workspace starts from: five personas, five stages, five questions
DEFAULT_PLAN = PlanDoc(
    personas=_items(
        ("founder", "Small-business founder", "Runs a company of 1-20 people; decides alone, short of time."),
        ("marketer", "In-house marketer", "Owns campaigns and the numbers; wants tools that save hours every week."),
        ("developer", "Developer", "Integrates the product; reads docs and API references before any pitch."),
        ("buyer", "Procurement / finance", "Signs the contract; cares about price, risk, compliance and terms."),
        ("customer", "Existing customer", "Already pays; wants to get more value and to know what is new."),
    ),
    stages=_items(
        ("awareness", "Awareness", "They have a problem and are looking for names for it."),
        ("consideration", "Consideration", "They compare approaches and vendors."),
        ("decision", "Decision", "They choose, and need proof and a nudge."),
        ("onboarding", "Onboarding", "They signed up and must reach the first success quickly."),
        ("loyalty", "Loyalty", "They stay, expand and recommend."),
    ),
    questions=_items(
        ("why", "Why should I care?", "The problem and what it costs them."),
        ("how", "How does it work?", "The approach, in their words."),
        ("proof", "Who else does this?", "Cases, numbers, testimonials."),
        ("cost", "What does it cost me?", "Price, effort, time, risk."),
        ("next", "What do I do next?", "The one next step for this stage."),
    ),
)


def _text(doc: Mapping[str, Any], name: str, path: str, errors: list[tuple[str, str]], *,
          required: bool = False, limit: int = MAX_TEXT) -> str:
    value = doc.get(name)
    if value is None or value == "":
        if required:
            errors.append((f"{path}{name}", "required"))
        return ""
    if not isinstance(value, str):
        errors.append((f"{path}{name}", "must be a string"))
        return ""
    if len(value) > limit:
        errors.append((f"{path}{name}", f"at most {limit} characters"))
    problem = control_problem(value) if name != "description" and name != "notes" else None
    if problem:
        errors.append((f"{path}{name}", problem))
    return value


def _axis(doc: Mapping[str, Any], name: str, errors: list[tuple[str, str]]) -> tuple[Item, ...]:
    rows = doc.get(name)
    if not isinstance(rows, list) or not rows:
        errors.append((name, "a non-empty list"))
        return ()
    if len(rows) > MAX_AXIS:
        errors.append((name, f"at most {MAX_AXIS} entries"))
    out: list[Item] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        path = f"{name}[{i}]."
        if not isinstance(row, Mapping):
            errors.append((f"{name}[{i}]", "an object with key, name and description"))
            continue
        key = _text(row, "key", path, errors, required=True, limit=64)
        if key and not KEY.match(key):
            errors.append((f"{path}key", "lower-case letters, digits, - and _ (at most 64)"))
        if key in seen:
            errors.append((f"{path}key", f"{key!r} is used twice"))
        seen.add(key)
        label = _text(row, "name", path, errors, required=True, limit=200)
        out.append(Item(key, label, _text(row, "description", path, errors)))
    return tuple(out)


def _int(doc: Mapping[str, Any], name: str, default: int, low: int, high: int,
         errors: list[tuple[str, str]]) -> int:
    value = doc.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append((name, f"a whole number from {low} to {high}"))
        return default
    return value


def parse_plan(doc: Any) -> PlanDoc:
    if not isinstance(doc, Mapping):
        raise PlanInvalid([("", "the plan is an object with personas, stages and questions")])
    errors: list[tuple[str, str]] = []
    unknown = set(doc) - {"personas", "stages", "questions", "review_months", "max_sms_segments"}
    errors += [(k, "unknown field") for k in sorted(map(str, unknown))]
    plan = PlanDoc(
        personas=_axis(doc, "personas", errors),
        stages=_axis(doc, "stages", errors),
        questions=_axis(doc, "questions", errors),
        review_months=_int(doc, "review_months", 6, 1, 120, errors),
        max_sms_segments=_int(doc, "max_sms_segments", 3, 1, 10, errors),
    )
    if errors:
        raise PlanInvalid(errors)
    return plan


def _date(doc: Mapping[str, Any], name: str, errors: list[tuple[str, str]]) -> date | None:
    value = doc.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.append((name, "a date YYYY-MM-DD"))
        return None


def _links(doc: Mapping[str, Any], name: str, errors: list[tuple[str, str]], *, url: bool) -> tuple[str, ...]:
    value = doc.get(name) or []
    if isinstance(value, str):  # a form's field: URLs one per line (a URL may hold a comma), keys by commas too
        value = value.split() if url else value.replace("\n", ",").split(",")
        value = [v.strip() for v in value if v.strip()]
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        errors.append((name, f"a list of at most {MAX_LINKS}"))
        return ()
    out: list[str] = []
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v or len(v) > (2000 if url else 200) or control_problem(v):
            errors.append((f"{name}[{i}]", "a non-empty string without control characters"))
            continue
        if url:
            parts = urlsplit(v)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.append((f"{name}[{i}]", "an http(s) URL"))
                continue
        if v not in out:
            out.append(v)
    return tuple(out)


CELL_FIELDS = frozenset({"persona", "stage", "question", "templates", "assets", "channel", "owner",
                         "publish_on", "review_on", "notes"})


def parse_cell(doc: Any, plan: PlanDoc) -> Cell:
    if not isinstance(doc, Mapping):
        raise PlanInvalid([("", "a cell is an object with persona, stage and question")])
    errors: list[tuple[str, str]] = [(str(k), "unknown field") for k in sorted(map(str, set(doc) - CELL_FIELDS))]
    axes = (("persona", plan.personas), ("stage", plan.stages), ("question", plan.questions))
    coords: list[str] = []
    for name, items in axes:
        value = doc.get(name)
        if not isinstance(value, str) or value not in {i.key for i in items}:
            errors.append((name, f"one of {', '.join(i.key for i in items)}"))
        coords.append(str(value))
    channel = doc.get("channel") or None
    if channel is not None and (not isinstance(channel, str) or channel not in TEMPLATE_CHANNELS):
        errors.append(("channel", f"one of {', '.join(TEMPLATE_CHANNELS)}"))
    owner = _text(doc, "owner", "", errors, limit=200) or None
    cell = Cell(
        persona=coords[0], stage=coords[1], question=coords[2],
        templates=_links(doc, "templates", errors, url=False),
        assets=_links(doc, "assets", errors, url=True),
        channel=str(channel) if channel else None,
        owner=owner,
        publish_on=_date(doc, "publish_on", errors),
        review_on=_date(doc, "review_on", errors),
        notes=_text(doc, "notes", "", errors),
    )
    if errors:
        raise PlanInvalid(errors)
    return cell


@dataclass(frozen=True, slots=True)
class PlanState:
    """The stored plan with its cells (what the status computation reads)."""

    plan: PlanDoc
    cells: Mapping[tuple[str, str, str], Cell] = field(default_factory=dict)
