"""The SQL for a rule's values: typed scalar, date and JSON comparisons (``NULL`` -> false),
for each dialect. The base of ``rules_sql._Compiler``, which adds structure, sets, events and
journeys; see ``rules_sql`` for the rules both keep (two-valued predicates, bound user values)."""

from __future__ import annotations

import json
import operator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from tidings.domain.rules.ast import (
    NAME_RE,
    NEGATED,
    Duration,
    RuleError,
)
from tidings.domain.rules.evaluate import iso19
from tidings.store.types import UTCDateTime

Pred = ColumnElement[bool]


def _false() -> Pred:
    return sa.false()


def _true() -> Pred:
    return sa.true()


def _ts(dt: datetime) -> ColumnElement[Any]:
    return sa.bindparam(None, dt, type_=UTCDateTime())




class _ValueCompiler:
    """Compiles the comparisons of one value (a column or a JSON path) for one dialect."""

    def __init__(self, dialect: str, now: datetime, indexes: frozenset[str] = frozenset()) -> None:
        self.pg = dialect == "postgresql"
        self.dialect = dialect
        self.now = now
        self.indexes = indexes
        self.planner: dict[str, str] = {}  # PostgreSQL settings the emitted shapes need


    # ------------------------------------------------------------------ scalar values

    def scalar(self, col: ColumnElement[Any], kind: str, op: str, v: Any) -> Pred:
        """``col op v`` for a typed column (string, number, date); NULL -> false."""
        if op in NEGATED:
            return sa.not_(self.scalar(col, kind, NEGATED[op], v))
        if op == "exists":
            return col.is_not(None)
        if op == "in":
            return sa.or_(*(self.scalar(col, kind, "eq", x) for x in v))
        if op == "between":
            return sa.and_(self.scalar(col, kind, "gte", v[0]), self.scalar(col, kind, "lte", v[1]))
        if op == "contains":
            return sa.func.coalesce(self._instr(col, v), _false())
        if op == "starts_with":
            return sa.func.coalesce(sa.func.substr(col, 1, len(v)) == v, _false())
        if op in ("within_last", "more_than_ago", "anniversary_in"):
            return self.date_op(col, op, v)
        if kind == "string" and self.pg and op in ("gt", "gte", "lt", "lte"):
            col = col.collate("C")
        if kind == "number":
            v = float(v)
        if getattr(col, "nullable", True) is False:  # a NOT NULL column: keep it seekable by its index
            return _op(col, op, v)
        return sa.func.coalesce(_op(col, op, v), _false())

    def _instr(self, col: ColumnElement[Any], v: str) -> Pred:
        fn = sa.func.strpos if self.pg else sa.func.instr
        return fn(col, v) > 0

    def date_op(self, col: ColumnElement[Any], op: str, d: Duration) -> Pred:
        delta = timedelta(seconds=d.seconds)
        if op == "within_last":
            return sa.func.coalesce(sa.and_(col >= _ts(self.now - delta), col <= _ts(self.now)), _false())
        if op == "more_than_ago":
            return sa.func.coalesce(col < _ts(self.now - delta), _false())
        md = (self.now + delta).strftime("%m-%d")
        expr = sa.func.to_char(col, "MM-DD") if self.pg else sa.func.strftime("%m-%d", col)
        return sa.func.coalesce(expr == md, _false())

    # ------------------------------------------------------------------ JSON values

    def json_parts(self, doc: ColumnElement[Any], path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        """(typeof, scalar value as text/number, the JSON value) of ``doc`` at ``path``."""
        if self.pg:
            keys = [_path_literal(x) for x in path] if inlinable_path(path) else list(path)
            j = sa.func.jsonb_extract_path(doc, *keys)
            return sa.func.jsonb_typeof(j), sa.func.jsonb_extract_path_text(doc, *keys), j
        p: Any = "$." + ".".join(f'"{x}"' for x in path)
        if inlinable_path(path):  # inlined, so that an expression index on the same text matches
            p = _path_literal(p)
        return sa.func.json_type(doc, p), sa.func.json_extract(doc, p), p

    def json_pred(self, doc: ColumnElement[Any], path: tuple[str, ...], op: str, v: Any) -> Pred:
        if op in NEGATED:
            return sa.not_(self.json_pred(doc, path, NEGATED[op], v))
        jt, jx, j = self.json_parts(doc, path)
        if op == "exists":
            return sa.func.coalesce(jt != "null", _false())
        if op == "in":
            return sa.or_(*(self.json_pred(doc, path, "eq", x) for x in v))
        if op == "between":
            return sa.and_(self.json_pred(doc, path, "gte", v[0]), self.json_pred(doc, path, "lte", v[1]))
        if self.pg and op == "eq":  # jsonb equality is typed equality: one path lookup, no cast
            lit_doc = sa.cast(sa.bindparam(None, json.dumps(v), type_=sa.Text), JSONB)
            # bare (seekable by an expression index); two-valued: NULL AND false is false
            return sa.and_(j == lit_doc, j.is_not(None))
        if isinstance(v, bool):
            if self.pg:
                return sa.func.coalesce(sa.and_(jt == "boolean", jx == ("true" if v else "false")), _false())
            return sa.func.coalesce(jt == ("true" if v else "false"), _false())
        string_type = "string" if self.pg else "text"
        if op == "contains":
            if self.pg:
                in_array = j.op("@>")(sa.func.jsonb_build_array(sa.cast(sa.bindparam(None, v), sa.Text)))
            else:
                je = sa.func.json_each(doc, j).table_valued("type", "value")
                in_array = sa.exists(
                    sa.select(sa.literal(1)).select_from(je).where(je.c.type == "text", je.c.value == v)
                )
            return sa.func.coalesce(
                sa.case((jt == string_type, self._instr(jx, v)), (jt == "array", in_array), else_=_false()),
                _false(),
            )
        if op == "starts_with":
            s = sa.case((jt == string_type, jx))
            return sa.func.coalesce(sa.func.substr(s, 1, len(v)) == v, _false())
        if op in ("within_last", "more_than_ago", "anniversary_in"):
            if self.pg:
                ok = sa.and_(jt == "string", jx.op("~")("^[0-9]{4}-[0-9]{2}-[0-9]{2}"))
            else:
                ok = sa.and_(jt == "text", jx.op("GLOB")("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"))
            s = sa.case((ok, sa.func.replace(sa.func.substr(jx, 1, 19), " ", "T")))
            delta = timedelta(seconds=v.seconds)
            if op == "within_last":
                return sa.func.coalesce(sa.and_(s >= iso19(self.now - delta), s <= iso19(self.now)), _false())
            if op == "more_than_ago":
                return sa.func.coalesce(s < iso19(self.now - delta), _false())
            return sa.func.coalesce(sa.func.substr(s, 6, 5) == (self.now + delta).strftime("%m-%d"), _false())
        if not self.pg:
            return self._sqlite_json_compare(jt, jx, op, v)
        if isinstance(v, str):
            text: Any = sa.case((jt == string_type, jx))
            if op != "eq":
                text = text.collate("C")
            return sa.func.coalesce(_op(text, op, v), _false())
        num = sa.case((jt == "number", sa.cast(jx, sa.Float)))
        return sa.func.coalesce(_op(num, op, float(v)), _false())

    def _sqlite_json_compare(self, jt: Any, jx: Any, op: str, v: Any) -> Pred:
        """``json_extract(doc, p) op v`` typed by the literal, seekable by an expression index.

        Bare comparisons (no COALESCE, which hides them from SQLite's planner), two-valued by
        ``AND x IS NOT NULL`` (NULL AND false is false). ``json_extract`` gives text for a JSON
        string, integer/real for a number, 1/0 for true/false and the JSON text of an array or
        object; SQLite orders every number before every text and never equals them. So the JSON
        type is checked (per candidate row) only where the comparison alone could let a wrong
        type through: numbers whose range holds 0 or 1 (booleans), text ranges and text
        literals starting with ``[``/``{`` (arrays, objects). ``x < ''`` keeps text out of
        ``>``/``>=`` on numbers and still bounds the index range.
        """
        if isinstance(v, str):
            lit: Any = v
            conds = [_op(jx, op, lit)]
            if op != "eq" or v[:1] in ("[", "{"):
                conds.append(jt == "text")
        else:
            lit = float(v)
            conds = [_op(jx, op, lit)]
            if op in ("gt", "gte"):
                conds.append(jx < "")
            if any(_PY_OPS[op](x, lit) for x in (0.0, 1.0)):
                conds.append(jt.in_(("integer", "real")))
        return sa.and_(*conds[:1], jx.is_not(None), *conds[1:])



_PY_OPS = {"eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def inlinable_path(path: tuple[str, ...]) -> bool:
    """Whether a JSON path may be written into SQL text (every part matches the NAME pattern)."""
    return all(NAME_RE.match(x) for x in path)


def json_index_expression(doc: ColumnElement[Any], path: tuple[str, ...], dialect_name: str) -> Any:
    """The expression ``compile_rule`` compares for ``doc`` at ``path`` (an inlinable path): what an
    expression index must be built on for the planner to use it."""
    comp = _ValueCompiler(dialect_name, datetime(2000, 1, 1))
    return comp.json_parts(doc, path)[2 if comp.pg else 1]


def _path_literal(text: str) -> Any:
    """A JSON path (or key) as SQL text; only for NAME-pattern parts (no quote can occur)."""
    if "'" in text:
        raise ValueError(f"not an inlinable path: {text!r}")
    return sa.literal_column(f"'{text}'")



def _op(left: Any, op: str, v: Any) -> Pred:
    if op == "eq":
        return left == v  # type: ignore[no-any-return]
    if op == "gt":
        return left > v  # type: ignore[no-any-return]
    if op == "gte":
        return left >= v  # type: ignore[no-any-return]
    if op == "lt":
        return left < v  # type: ignore[no-any-return]
    if op == "lte":
        return left <= v  # type: ignore[no-any-return]
    raise RuleError(f"unknown operator {op!r}")
