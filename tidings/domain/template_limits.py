"""Budgets for rendering templates: time, output size, and the operators that blow up.

A template is user data run on every send, so one template must never hang a delivery loop or
exhaust its memory. ``LimitedEnvironment`` is the sandbox of ``templates.py`` plus:

- a **time budget** (``MAX_RENDER_SECONDS`` per message): checked on every loop iteration (each
  ``{% for %}`` iterable is wrapped), every call, filter, operator and output chunk;
- an **output budget** (``MAX_OUTPUT_CHARS``): every intermediate string or list and the whole
  output are measured; widths and counts given to ``center``/``ljust``/``indent``/``truncate``...
  and format specs (``"%999999999d"``, ``"{:>999999999}"``) are refused before they allocate;
- ``**`` whose result would exceed ``MAX_POWER_DIGITS`` digits, and ``*`` repeating a string or
  list past the output budget, are refused. These operators are *intercepted*, so Jinja no longer
  folds them at compile time (``{{ 9 ** 9999 }}`` made compiling fail with a ValueError, a 500);
  ``constant_problems`` folds constant expressions through the same checks at save time instead,
  so such a template is refused with a message (422) before it is ever stored.

Every breach raises ``BudgetExceeded`` (a ``SecurityError``): the render fails as a whole with a
clear ``TemplateError``, the message fails and is reported; nothing half-rendered is sent.

The time budget needs a ticker (seconds, monotonic): the domain reads no clock itself. The
composition root installs one with ``use_ticker(time.monotonic)`` (``bootstrap.build``); a render
may also be given its own (tests pass a fake). Without a ticker only the size budgets apply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

MAX_RENDER_SECONDS = 2.0
MAX_OUTPUT_CHARS = 2_000_000
MAX_POWER_DIGITS = 1000
#: the filter every ``{% for %}`` iterable goes through (not a name a template can write).
LOOP_FILTER = "tidings budget"
#: functions and filters whose integer arguments are sizes (widths, lengths, counts).
SIZED = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap", "truncate", "batch", "slice"}
)
#: a width or precision of 6+ digits in a %-format or str.format spec.
_BIG_SPEC = re.compile(r"(?:%[-+ #0]*(?:\d{6,}|\*)|%[-+ #0]*\d*\.(?:\d{6,}|\*)|\{[^{}]*:[^{}]*\d{6,}[^{}]*\})")

_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


class BudgetExceeded(jinja2.exceptions.SecurityError):
    """A render went past a budget (time, size, digits): the whole render fails."""


Ticker = Callable[[], float]


@dataclass
class Budget:
    ticker: Ticker | None
    deadline: float
    seconds: float


_CURRENT: ContextVar[Budget | None] = ContextVar("tidings_template_budget", default=None)
_DEFAULT_TICKER: list[Ticker | None] = [None]


def use_ticker(ticker: Ticker | None) -> None:
    """Install the ticker of every render's time budget (once, at the composition root)."""
    _DEFAULT_TICKER[0] = ticker


@contextmanager
def budget(ticker: Ticker | None = None, seconds: float | None = None) -> Iterator[Budget]:
    """The budget of one message's render (nested uses share the outermost one)."""
    current = _CURRENT.get()
    if current is not None:
        yield current
        return
    ticker = ticker or _DEFAULT_TICKER[0]
    seconds = MAX_RENDER_SECONDS if seconds is None else seconds
    new = Budget(ticker, (ticker() if ticker else 0.0) + seconds, seconds)
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        _CURRENT.reset(token)


def check_time() -> None:
    b = _CURRENT.get()
    if b is not None and b.ticker is not None and b.ticker() > b.deadline:
        raise BudgetExceeded(f"rendering took longer than its time budget of {b.seconds:g} s")


_SEQUENCES = (str, bytes, list, tuple)


def check_size(value: Any) -> Any:
    if isinstance(value, _SEQUENCES) and len(value) > MAX_OUTPUT_CHARS:
        raise BudgetExceeded(f"a value of {len(value):,} items is larger than the budget of {MAX_OUTPUT_CHARS:,}")
    return value


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, _SEQUENCES) else None


def check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or isinstance(base, bool):
        return
    if exponent > 0 and abs(base) > 1 and exponent * math.log10(abs(base)) > MAX_POWER_DIGITS:
        raise BudgetExceeded(f"{base} ** {exponent} would have more than {MAX_POWER_DIGITS} digits")


def check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        size = _length(seq)
        if size is not None and isinstance(times, int) and size * times > MAX_OUTPUT_CHARS:
            raise BudgetExceeded(
                f"repeating {size:,} items {times:,} times is larger than the budget of {MAX_OUTPUT_CHARS:,}"
            )


def check_format(spec: Any) -> None:
    if isinstance(spec, str) and _BIG_SPEC.search(spec):
        raise BudgetExceeded("a format width or precision of 6 or more digits (or '*') is not allowed")


def check_sizes(name: str, values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT_CHARS:
            raise BudgetExceeded(f"{name}: a size of {value:,} is larger than the budget of {MAX_OUTPUT_CHARS:,}")


def check_arguments(name: str, subject: Any, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    """Refuse sizes past the budget before the function allocates them."""
    if name in SIZED:
        check_sizes(name, (*args, *kwargs.values()))
    elif name in {"format", "format_map"}:
        check_format(subject)
    elif name == "replace" and isinstance(subject, str):
        old, new = (list(args) + [None, None])[:2]
        if isinstance(old, str) and isinstance(new, str):
            grows = (subject.count(old) if old else len(subject) + 1) * max(0, len(new) - len(old))
            if len(subject) + grows > MAX_OUTPUT_CHARS:
                raise BudgetExceeded(f"replace would make a value larger than the budget of {MAX_OUTPUT_CHARS:,}")


#: filters whose arguments are checked before they run (the others only have their result measured).
_CHECKED_FILTERS = SIZED | {"format", "replace"}


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context / environment first
    checked = name in _CHECKED_FILTERS

    @wraps(func)  # keeps jinja_pass_arg (pass_context / pass_environment...)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if checked and len(args) > skip:
            check_arguments(name, args[skip], args[skip + 1 :], kwargs)
        return check_size(func(*args, **kwargs))

    return wrapper


def _loop(value: Any) -> Iterator[Any]:
    for n, item in enumerate(value):
        if not n & 15:
            check_time()
        yield item


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox with time and size budgets (see the module doc)."""

    intercepted_binops = frozenset({"**", "*", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: limited_filter(name, f) for name, f in self.filters.items()}
        self.filters[LOOP_FILTER] = _loop

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        return tree

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        spec: str = value.__self__
        nested = _NESTED_SPEC.search(spec) is not None

        def checked(*args: Any, **kwargs: Any) -> str:
            check_format(spec)
            if nested:  # "{:>{}}".format(1, 10**9): the width is an argument
                check_sizes("str.format", (*args, *kwargs.values()))
            return check_size(wrapped(*args, **kwargs))  # type: ignore[no-any-return]

        return checked

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_time()
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_repeat(left, right)
        elif operator == "%":
            check_format(left)
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        check_time()
        owner = getattr(__obj, "__self__", None)
        check_arguments(getattr(__obj, "__name__", ""), owner, args, kwargs)
        result = check_size(super().call(__context, __obj, *args, **kwargs))
        check_size(owner)  # list.extend(list) doubling in a loop
        return result


def _fold(env: LimitedEnvironment, node: nodes.Expr) -> Any:
    """The value of a constant expression, computed through the budget checks (``Impossible``
    when it is not constant)."""
    if isinstance(node, nodes.BinExpr) and node.operator in env.intercepted_binops:
        return env.call_binop(None, node.operator, _fold(env, node.left), _fold(env, node.right))
    return node.as_const()


def constant_problems(env: LimitedEnvironment, tree: nodes.Template) -> list[tuple[str, int]]:
    """Constant expressions that would break a budget, folded safely: (message, line)."""
    problems: list[tuple[str, int]] = []
    for node in tree.find_all((nodes.BinExpr, nodes.Filter)):
        try:
            if isinstance(node, nodes.BinExpr):
                if node.operator in env.intercepted_binops:
                    _fold(env, node)
            elif isinstance(node, nodes.Filter) and node.name in env.filters and node.node is not None:
                value = _fold(env, node.node)
                args = [_fold(env, a) for a in node.args]
                check_arguments(node.name, value, args, {str(k.key): _fold(env, k.value) for k in node.kwargs})
        except BudgetExceeded as exc:
            problems.append((str(exc), node.lineno))
        except Exception:  # not constant, or fails for another reason at render time  # noqa: S112
            continue
    return problems
