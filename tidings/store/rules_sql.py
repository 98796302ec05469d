"""The SQL evaluator: a rule compiled to one SELECT of matching ``contact_id`` s.

Same meaning as ``domain.rules.evaluate`` (property tests on both backends hold them together):
- every sub-predicate is two-valued (``COALESCE(..., false)`` or ``IN``/``NOT IN`` a subquery of
  non-null ids), so ``NOT`` means what Python's ``not`` means;
- JSON values are typed by the literal with each dialect's JSON functions
  (SQLite ``json_type``/``json_extract``, PostgreSQL ``jsonb_typeof``/``jsonb_extract_path``);
- only bound parameters carry user values; JSON paths whose parts match the NAME pattern are
  inlined as SQL literals (so expression indexes on them match, see ``attribute_indexes``),
  any other path is bound; operators come from the AST's fixed vocabulary.

Query shapes are chosen here, not by the planner: event conditions become
``contacts.id IN (SELECT contact_id FROM events WHERE name = ? AND occurred_at >= ? ...)``
and on SQLite the subquery is pinned to the (name, occurred_at, contact_id) index with
``INDEXED BY`` (SQLite's own choice was 20x slower, see STACK.md).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.operators import in_op

from tidings.domain.rules.ast import (
    NEGATED,
    SYSTEM_EVENT_PREFIXES,
    All,
    AnyOf,
    Attr,
    Compare,
    Consent,
    EnrolmentValue,
    EventAgg,
    EventProp,
    Field,
    HasTag,
    InJourney,
    InSegment,
    JourneyState,
    Not,
    Rule,
    RuleError,
    Sequence,
)
from tidings.domain.rules.evaluate import ACTIVE_JOURNEY, compare
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema
from tidings.store.rules_sql_values import (
    Pred,
    _false,
    _true,
    _ts,
    _ValueCompiler,
    inlinable_path,
)

EVENTS_BY_NAME_INDEX = "ix_events_name_occurred_at_contact_id_value"
EVENTS_BY_CONTACT_INDEX = "ix_events_contact_id_name_occurred_at"
#: on SQLite, compile all/any of set conditions to UNION / INTERSECT / EXCEPT (see ``id_set``):
#: 4-10x faster there than per-contact IN probes. PostgreSQL keeps ``all`` as semi-joins (its
#: hashed subplans beat its HashSetOp) but takes ``any`` of sets as ``IN (UNION)`` and ``not`` of
#: sets as ``NOT EXISTS`` (anti-joins), planned with sorts and merges (``PG_SET_PLANNER``).
USE_ID_SETS = {"sqlite": True, "postgresql": False}
#: PostgreSQL settings for a query using those forms: hashing a few 10^5 ids (HashAggregate,
#: hashed subplans rebuilt in every parallel worker) cost 2-3x a sort + merge on the 1M-contact
#: benchmark (docs/notes/rule-speed-2.md). PostgreSQL has no per-query hints, so the compiled
#: query carries them and ``tune_connection`` applies them with ``SET LOCAL``.
PG_SET_PLANNER = {"enable_hashagg": "off", "enable_hashjoin": "off"}
#: ... and for a query grouping events by contact (see ``_Compiler._per_contact``)
PG_GROUPED_PLANNER = {"max_parallel_workers_per_gather": "0"}
#: event-property indexes (see ``event_index_name``)
EVENT_INDEX_PREFIX = "ix_events_prop_"
#: event names that may be written into SQL text (a partial index's WHERE must match literally)
_EVENT_NAME_LITERAL = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
#: NOT NULL contact columns with an index leading with them: comparisons on them are id sets.
INDEXED_FIELDS = ("score", "id")



def _sqlite_index_hint(self: Any, table: Any, text: str | None) -> str | None:
    return text if text and text.startswith("INDEXED BY ") else None


# SQLAlchemy's SQLite compiler drops FROM hints; let ours (a constant index name) through.
if SQLiteCompiler.get_from_hint_text is SQLCompiler.get_from_hint_text:
    SQLiteCompiler.get_from_hint_text = _sqlite_index_hint  # type: ignore[method-assign]


def compile_rule(rule: Rule, dialect_name: str, now: datetime, *, indexes: Collection[str] = ()) -> sa.Select[Any]:
    """One SELECT of the matching ids, as column ``contact_id`` (each id once).

    Usually ``SELECT contacts.id FROM contacts WHERE <rule>``. On SQLite an ``all``/``any`` of
    set conditions is the UNION / INTERSECT / EXCEPT itself, without a probe of ``contacts`` per
    id (~40% of the time for a 361k-contact answer). That relies on an invariant the services
    keep: rows keyed by contact (tags, consents, events, memberships, enrolments) are deleted or
    moved in the same transaction that deletes or merges their contact, and SQLite runs one
    writer at a time, so every id they hold is a live contact. PostgreSQL (concurrent writers)
    keeps the ``contacts`` anchor.

    ``indexes``: names of the optional rule indexes that exist (``store.rule_indexes``); an
    event condition with property filters uses its event-property index when it is there.
    PostgreSQL planner settings the query needs ride in its execution options (``tune_connection``).
    """
    if dialect_name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported dialect {dialect_name!r}")
    c = schema.contacts
    comp = _Compiler(dialect_name, now, frozenset(indexes))
    if not comp.pg and isinstance(rule, All | AnyOf) and len(rule.items) >= 2:
        ids = comp.id_set(rule)
        if ids is not None:  # a compound: distinct ids
            return ids
    q = sa.select(c.c.id.label("contact_id")).where(comp.pred(rule))
    if comp.planner:
        q = q.execution_options(tidings_planner=dict(comp.planner))
    return q


def event_index_name(ev: EventAgg, dialect_name: str) -> str | None:
    """The name of the partial index that serves ``ev``'s property filters, or None.

    For an event condition naming its event (a literal-safe name) and filtering on properties
    by equality with a string or a number (``message.opened(template="t3")``): an index on
    ``(<property expressions>, occurred_at, contact_id, value) WHERE name = '<event>'``
    (``store.rule_indexes.event_property_indexes`` builds it). Deterministic, so segments that
    filter the same way share one index.
    """
    props = indexable_event_props(ev)
    if not props or ev.event is None or not _EVENT_NAME_LITERAL.fullmatch(ev.event):
        return None
    label = f"v1:{dialect_name}:{ev.event}:{'/'.join(props)}"  # v1: bump when the expressions change
    digest = hashlib.sha256(label.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "_", f"{ev.event}_{'_'.join(props)}".lower())[:30]
    return f"{EVENT_INDEX_PREFIX}{slug}_{digest}"


def indexable_event_props(ev: EventAgg) -> list[str]:
    """The properties of ``ev``'s filters an event-property index can serve (equality with a
    string or a number, literal-safe names), sorted."""
    return sorted(
        {
            k
            for k, v in ev.where
            if inlinable_path((k,)) and isinstance(v, str | int | float) and not isinstance(v, bool)
        }
    )


def tune_connection(conn: sa.Connection, query: sa.Select[Any] | None = None) -> None:
    """Per-transaction settings for whole-segment queries, on PostgreSQL: enough ``work_mem``
    that grouping ~10^5-10^6 events by contact stays in memory (the 4 MB default spills to disk),
    and the planner settings ``compile_rule`` attached to ``query`` (``PG_SET_PLANNER``). They
    last until the transaction ends: run the rule's query in a transaction of its own or
    followed only by plain lookups (the refresh and the preview do)."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    planner = query.get_execution_options().get("tidings_planner", {}) if query is not None else {}
    allowed = PG_SET_PLANNER | PG_GROUPED_PLANNER
    for name, value in planner.items():
        if allowed.get(name) == value:  # our own constants only
            conn.exec_driver_sql(f"SET LOCAL {name} = {value}")


class _Compiler(_ValueCompiler):
    """A whole rule: structure, set forms, events, journeys (values in ``_ValueCompiler``)."""
    # ------------------------------------------------------------------ structure

    def pred(self, rule: Rule) -> Pred:
        c = schema.contacts.c
        if isinstance(rule, All | AnyOf) and USE_ID_SETS[self.dialect]:
            ids = self.id_set(rule)
            if ids is not None:  # set algebra over narrow indexes: no scan of the contacts table
                return c.id.in_(ids)
        if self.pg and isinstance(rule, AnyOf):
            ids = self.id_set(rule)
            if ids is not None:  # IN (UNION): one semi-join instead of an OR of hashed subplans
                self.planner.update(PG_SET_PLANNER)
                return c.id.in_(ids)
        if self.pg and isinstance(rule, Not):
            # not (a or b) = not a and not b; each set condition an anti-join (NOT EXISTS)
            items = rule.item.items if isinstance(rule.item, AnyOf) else (rule.item,)
            return sa.and_(*(self._absent(r) for r in items))
        if isinstance(rule, All):
            return sa.and_(*(self.pred(r) for r in rule.items))
        if isinstance(rule, AnyOf):
            return sa.or_(*(self.pred(r) for r in rule.items))
        if isinstance(rule, Not):
            return sa.not_(self.pred(rule.item))
        if isinstance(rule, HasTag):
            t = schema.contact_tags
            return c.id.in_(sa.select(t.c.contact_id).where(t.c.tag == rule.tag))
        if isinstance(rule, InSegment):
            m, s = schema.segment_memberships, schema.segments
            seg = sa.select(s.c.id).where(s.c.key == rule.segment).scalar_subquery()
            return c.id.in_(sa.select(m.c.contact_id).where(m.c.segment_id == seg, m.c.exited_at.is_(None)))
        if isinstance(rule, InJourney):
            en, state = self._latest_enrollments(rule.journey)
            return c.id.in_(en.where(sa.and_(state.in_(ACTIVE_JOURNEY))))
        if isinstance(rule, Sequence):
            return c.id.in_(self._sequence(rule))
        if isinstance(rule, Compare):
            if rule.op in NEGATED:
                return sa.not_(self.pred(Compare(rule.target, NEGATED[rule.op], rule.value)))
            return self.compare(rule)
        raise TypeError(f"not a rule: {rule!r}")

    def _absent(self, rule: Rule) -> Pred:
        """``not rule``: an anti-join against the rule's id set where it has one (PostgreSQL)."""
        if isinstance(rule, Compare) and isinstance(rule.target, Field):
            return sa.not_(self.pred(rule))  # a column of contacts itself: a plain filter
        ids = self.id_set(rule)
        if ids is None:
            return sa.not_(self.pred(rule))
        self.planner.update(PG_SET_PLANNER)
        sub = ids.subquery()
        return ~sa.exists(sa.select(sa.literal(1)).select_from(sub).where(sub.c.contact_id == schema.contacts.c.id))

    # ------------------------------------------------------------------ set form

    def id_set(self, rule: Rule) -> sa.Select[Any] | None:
        """The matching ids as UNION / INTERSECT / EXCEPT of index-only subqueries, or None.

        Only rules made of "set" conditions (tags, segments, consents, event aggregates that
        are IN-subqueries, sequences, comparisons on indexed NOT NULL contact columns) take this
        shape; ``all`` needs one positive member (``not`` members become EXCEPT).
        """
        c = schema.contacts
        if isinstance(rule, HasTag):
            ct = schema.contact_tags
            return sa.select(ct.c.contact_id.label("contact_id")).where(ct.c.tag == rule.tag)
        if isinstance(rule, InSegment):
            m, sg = schema.segment_memberships, schema.segments
            seg = sa.select(sg.c.id).where(sg.c.key == rule.segment).scalar_subquery()
            return sa.select(m.c.contact_id.label("contact_id")).where(m.c.segment_id == seg, m.c.exited_at.is_(None))
        if isinstance(rule, Sequence):
            return self._sequence(rule)
        if isinstance(rule, Compare) and rule.op not in NEGATED:
            t = rule.target
            if isinstance(t, Consent):
                cs = schema.consents
                return sa.select(cs.c.contact_id.label("contact_id")).where(
                    cs.c.channel == t.channel, self.scalar(cs.c.status, "string", rule.op, rule.value)
                )
            if isinstance(t, EventAgg):
                return self.event_set(t, rule.op, rule.value)
            if (
                isinstance(t, Field)
                and t.name in INDEXED_FIELDS
                and rule.op in ("eq", "gt", "gte", "lt", "lte", "between", "in")
            ):
                col = getattr(c.c, t.name)
                return sa.select(c.c.id.label("contact_id")).where(self.scalar(col, t.kind, rule.op, rule.value))
            return None
        if isinstance(rule, AnyOf):
            parts = [self.id_set(r) for r in rule.items]
            if any(p is None for p in parts):
                return None
            return _ids(sa.union(*parts))  # type: ignore[arg-type]
        if isinstance(rule, All):
            pos = [self.id_set(r) for r in rule.items if not isinstance(r, Not)]
            # not (a or b): EXCEPT a EXCEPT b (a third faster on SQLite than EXCEPT (a UNION b))
            negated = [r.item for r in rule.items if isinstance(r, Not)]
            neg = [self.id_set(x) for r in negated for x in (r.items if isinstance(r, AnyOf) else (r,))]
            if not pos or any(p is None for p in pos + neg):
                return None
            q = pos[0] if len(pos) == 1 else _ids(sa.intersect(*pos))  # type: ignore[arg-type]
            if neg:
                q = _ids(sa.except_(q, *neg))  # type: ignore[arg-type]
            return q
        return None

    def compare(self, rule: Compare) -> Pred:
        t, op, v = rule.target, rule.op, rule.value
        c = schema.contacts.c
        if isinstance(t, Field):
            col = getattr(c, t.name)
            return self.scalar(col, t.kind, op, v)
        if isinstance(t, Attr):
            return self.json_pred(c.attributes, t.path, op, v)
        if isinstance(t, Consent):
            cs = schema.consents
            return c.id.in_(
                sa.select(cs.c.contact_id).where(cs.c.channel == t.channel, self.scalar(cs.c.status, "string", op, v))
            )
        if isinstance(t, JourneyState):
            en, state = self._latest_enrollments(t.journey)
            return c.id.in_(en.where(self.scalar(state, "string", op, v)))
        if isinstance(t, EventAgg):
            return self.event_agg(t, op, v)
        if isinstance(t, EventProp):
            raise RuleError("properties.* only applies to event filters (journey triggers), not to contacts")
        if isinstance(t, EnrolmentValue):
            raise RuleError(f"{t.root}.* only applies to journey rules (an enrolment's values), not to segments")
        raise TypeError(t)

    # ------------------------------------------------------------------ events

    def _event_index(self, ev: EventAgg) -> str | None:
        """The event-property index for ``ev`` when it exists."""
        name = event_index_name(ev, self.dialect)
        return name if name is not None and name in self.indexes else None

    def _events(self, ev: EventAgg, e: Any = None) -> tuple[Any, list[Pred]]:
        e = e if e is not None else schema.events
        conds: list[Pred] = []
        if ev.event is not None and self._event_index(ev) is not None:
            # literal (checked by event_index_name), so the partial index's WHERE matches
            conds.append(e.c.name == sa.literal_column(f"'{ev.event}'", sa.String))
        elif ev.event is not None:
            conds.append(e.c.name == ev.event)
        else:
            conds.extend(sa.func.substr(e.c.name, 1, len(p)) != p for p in SYSTEM_EVENT_PREFIXES)
        if ev.window is not None:
            conds.append(e.c.occurred_at >= _ts(self.now - timedelta(seconds=ev.window.seconds)))
        for k, v in ev.where:
            conds.append(self.json_pred(e.c.properties, (k,), "eq", v))
        if ev.human:
            conds.append(sa.not_(self.json_pred(e.c.properties, ("machine",), "eq", True)))
        return e, conds

    def _per_contact(self, q: sa.Select[Any], e: Any) -> sa.Select[Any]:
        """``q`` grouped by contact. On PostgreSQL without parallel workers: each worker would
        rebuild the whole aggregate for its share of the join (3x the work on the benchmark)."""
        if self.pg:
            self.planner.update(PG_GROUPED_PLANNER)
        return q.group_by(e.c.contact_id)

    def _by_name(self, q: sa.Select[Any], e: Any, ev: EventAgg) -> sa.Select[Any]:
        if not self.pg and ev.event is not None:
            return q.with_hint(e, f"INDEXED BY {self._event_index(ev) or EVENTS_BY_NAME_INDEX}", "sqlite")
        return q

    def event_set(self, ev: EventAgg, op: str, v: Any) -> sa.Select[Any] | None:
        """The ids matching an event condition as one subquery, when it has that shape."""
        e, conds = self._events(ev)
        sub: Any
        if ev.agg == "count":
            if op in ("gte", "gt"):
                k = math.ceil(v) if op == "gte" else math.floor(v) + 1
                if k < 1:
                    return None
                sub = sa.select(e.c.contact_id.label("contact_id")).where(*conds)
                if k > 1:
                    sub = self._per_contact(sub, e).having(sa.func.count() >= k)
                return self._by_name(sub, e, ev)
            return None
        if (ev.agg in ("first", "last") and ev.prop is not None) or op in ("ne", "not_in", "not_exists"):
            return None
        if ev.agg == "sum" and compare(op, 0.0, v, self.now):
            return None
        pred = self.event_agg(ev, op, v)
        sub = getattr(pred, "right", None)  # contacts.id IN (<subquery>)
        element = getattr(sub, "element", None)
        return element if isinstance(element, sa.Select) and getattr(pred, "operator", None) is in_op else None

    def event_agg(self, ev: EventAgg, op: str, v: Any) -> Pred:
        c = schema.contacts.c
        e, conds = self._events(ev)
        if ev.agg == "count":
            return self.count_pred(ev, e, conds, op, v)
        if ev.agg in ("first", "last") and ev.prop is not None:
            doc = (
                sa.select(e.c.properties)
                .where(e.c.contact_id == c.id, *conds)
                .order_by(*(e.c.occurred_at.desc(), e.c.id.desc()) if ev.agg == "last" else (e.c.occurred_at, e.c.id))
                .limit(1)
                .scalar_subquery()
            )
            return self.json_pred(doc, (ev.prop,), op, v)
        if ev.agg in ("first", "last"):
            agg: Any = (sa.func.min if ev.agg == "first" else sa.func.max)(e.c.occurred_at)
            having = self.scalar(agg, "date", op, v)
        else:
            if ev.prop is None:
                val: Any = e.c.value
            else:
                jt, jx, _ = self.json_parts(e.c.properties, (ev.prop,))
                val = (
                    sa.case((jt == "number", sa.cast(jx, sa.Float)))
                    if self.pg
                    else sa.case((jt.in_(("integer", "real")), jx))
                )
            if ev.agg == "sum":
                agg = sa.func.coalesce(sa.func.sum(val), 0.0)
                if compare(op, 0.0, v, self.now):  # no events means 0, which matches: exclude the misses
                    sub = self._per_contact(sa.select(e.c.contact_id).where(*conds), e).having(
                        sa.not_(self.scalar(agg, "number", op, v))
                    )
                    return c.id.not_in(self._by_name(sub, e, ev))
            else:
                agg = (sa.func.min if ev.agg == "min" else sa.func.max)(val)
            having = self.scalar(agg, "number", op, v)
        sub = self._per_contact(sa.select(e.c.contact_id).where(*conds), e).having(having)
        return c.id.in_(self._by_name(sub, e, ev))

    def count_pred(self, ev: EventAgg, e: Any, conds: list[Pred], op: str, v: Any) -> Pred:
        c = schema.contacts.c

        def at_least(k: int) -> Pred:
            if k <= 0:
                return _true()
            sub = sa.select(e.c.contact_id).where(*conds)
            if k > 1:
                sub = self._per_contact(sub, e).having(sa.func.count() >= k)
            return c.id.in_(self._by_name(sub, e, ev))

        if op == "in":
            return sa.or_(*(self.count_pred(ev, e, conds, "eq", x) for x in v))
        if op == "between":
            return sa.and_(self.count_pred(ev, e, conds, "gte", v[0]), self.count_pred(ev, e, conds, "lte", v[1]))
        if op == "gte":
            return at_least(math.ceil(v))
        if op == "gt":
            return at_least(math.floor(v) + 1)
        if op == "lt":
            return sa.not_(at_least(math.ceil(v)))
        if op == "lte":
            return sa.not_(at_least(math.floor(v) + 1))
        if op == "eq":
            if v < 0 or v != int(v):
                return _false()
            if v == 0:
                return sa.not_(at_least(1))
            sub = self._per_contact(sa.select(e.c.contact_id).where(*conds), e).having(sa.func.count() == int(v))
            return c.id.in_(self._by_name(sub, e, ev))
        raise RuleError(f"operator {op!r} does not apply to a count")

    def _epoch(self, col: Any) -> Any:
        if self.pg:
            return sa.cast(sa.func.floor(sa.extract("epoch", col)), sa.BigInteger)
        return sa.cast(sa.func.strftime("%s", sa.func.substr(col, 1, 19)), sa.Integer)

    def _sequence(self, rule: Sequence) -> sa.Select[Any]:
        x = schema.events.alias("x")
        y = schema.events.alias("y")
        d = rule.within.seconds
        tx = self._epoch(x.c.occurred_at)
        ty = self._epoch(y.c.occurred_at)
        followed = sa.exists(
            sa.select(sa.literal(1))
            .select_from(y)
            .where(y.c.contact_id == x.c.contact_id, y.c.name == rule.then_not, ty >= tx, ty <= tx + d)
        )
        q = sa.select(x.c.contact_id).where(
            x.c.name == rule.did, x.c.occurred_at <= _ts(self.now - timedelta(seconds=d)), sa.not_(followed)
        )
        if not self.pg:
            q = q.with_hint(x, f"INDEXED BY {EVENTS_BY_NAME_INDEX}", "sqlite")
        return q

    # ------------------------------------------------------------------ journeys

    def _latest_enrollments(self, journey: str) -> tuple[sa.Select[Any], Any]:
        en = schema.enrollments
        e2 = en.alias("e2")
        j = schema.journeys
        jid = sa.select(j.c.id).where(j.c.key == journey).scalar_subquery()
        latest = (
            sa.select(sa.func.max(e2.c.id))
            .where(e2.c.contact_id == en.c.contact_id, e2.c.journey_id == en.c.journey_id)
            .scalar_subquery()
        )
        state = sa.case(
            (en.c.status == EnrolmentStatus.ENDED, sa.literal("ended:") + sa.func.coalesce(en.c.end_reason, "")),
            else_=en.c.status,
        )
        return sa.select(en.c.contact_id).where(en.c.journey_id == jid, en.c.id == latest), state



def _ids(compound: Any) -> sa.Select[Any]:
    """A compound select as a plain SELECT (SQLite cannot nest compound selects directly)."""
    sub = compound.subquery()
    return sa.select(sub.c.contact_id.label("contact_id"))


