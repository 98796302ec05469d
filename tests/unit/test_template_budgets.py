"""Templates: a render time budget, an output-size budget, capped ``**`` and ``*``, and constant
expressions that would break a budget refused at save time (issue 12: ``{{ 9 ** 9999 }}`` at save
was a 500; nested loops and huge strings rendered without limit)."""

from __future__ import annotations

import pytest

from tidings.domain.templates import TemplateError, TemplateSource, check_syntax, render, render_string, validate

NESTED_LOOPS = (
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)


def rendered(source: str, **context: object) -> str:
    return render_string(source, context, html=True, field_name="body")


@pytest.mark.parametrize(
    "source, says",
    [
        ("{{ 9 ** 9999 }}", "9 ** 9999 would have more than 1000 digits"),
        ("<p>{{ 2 ** 100000 }}</p>", "more than 1000 digits"),
        ('{{ "x" * 100000000 }}', "larger than the budget"),
        ('{{ ["a"] * 100000000 }}', "larger than the budget"),
        ('{{ "x" | center(1000000000) }}', "center: a size of 1,000,000,000"),
        ('{{ "%999999999d" % 1 }}', "format width"),
        ('{{ "%*d" | format(999999999, 1) }}', "format width"),
        ("{{ 1" + "0" * 5000 + " }}", "cannot compile"),
        ("{{" + "(" * 3000 + "1" + ")" * 3000 + "}}", "nested too deeply"),
    ],
)
def test_constant_bombs_are_refused_at_save_with_a_message(source: str, says: str) -> None:
    with pytest.raises(TemplateError) as err:
        check_syntax(source, html=True, field_name="body")
    assert says in str(err.value)
    problems = validate(TemplateSource(key="t", subject="Hi", body=source))
    assert problems and problems[0].field == "body"


def test_ordinary_arithmetic_and_formatting_still_work() -> None:
    out = rendered(
        '{{ 9 ** 99 > 0 }} {{ "ab" * 3 }} {{ 3 * 4 }} {{ "%.2f" % 3.14159 }} {{ "{:,}".format(1234567) }} '
        '{{ "x" | center(5) }}| {{ items | join(",") }} {% for i in range(3) %}{{ i }}{% endfor %}',
        items=["a", "b"],
    )
    assert out == "True ababab 12 3.14 1,234,567   x  | a,b 012"


@pytest.mark.parametrize(
    "source, says",
    [
        ("{% set e = 9999 %}{{ 9 ** e }}", "more than 1000 digits"),
        ('{% set n = 1000 %}{{ "x" * (n * n * n) }}', "larger than the budget"),
        ('{% set n = 1000 %}{{ "x" | center(n * n * n) }}', "center: a size of"),
        ('{% set s = "x" * 1000000 %}{{ s | replace("", s) }}', "replace would make a value larger"),
        ('{% set s = "ab" * 900000 %}{{ s ~ s ~ s }}', "the output is larger than its budget"),
        ('{% for i in range(1000) %}{% for j in range(1000) %}{{ "xxxxx" }}{% endfor %}{% endfor %}', "output"),
        ('{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}', "larger than the budget"),
        ('{{ "{:>999999999}".format(1) }}', "format width"),
        ('{{ "{:>{}}".format(1, 999999999) }}', "str.format: a size of"),
    ],
)
def test_renders_past_the_size_budget_fail_as_a_whole(source: str, says: str) -> None:
    check_syntax(source, html=True, field_name="body")  # not constant: caught when rendering
    with pytest.raises(TemplateError) as err:
        rendered(source)
    assert says in str(err.value) and "not allowed" in str(err.value)


class FakeTicker:
    """A monotonic clock that moves 10 ms every time it is read: no waiting, no timing."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.now += 0.01
        self.reads += 1
        return self.now


def test_render_time_budget_stops_loops_that_print_nothing() -> None:
    ticker = FakeTicker()
    with pytest.raises(TemplateError) as err:
        render_string(NESTED_LOOPS, {}, html=True, field_name="body", ticker=ticker)
    assert "rendering took longer than its time budget of 2 s" in str(err.value)
    assert ticker.reads < 400  # stopped after ~2 s of ticks, not after 10**9 iterations
    # one budget for the whole message: subject, body and text together
    with pytest.raises(TemplateError) as err:
        render(TemplateSource(key="t", subject="Hi", body="<p>x</p>", text_body=NESTED_LOOPS), {}, ticker=FakeTicker())
    assert err.value.field == "text_body" and "time budget" in str(err.value)


def test_an_ordinary_render_reads_the_ticker_a_few_times_only() -> None:
    ticker = FakeTicker()
    out = render_string("{% for i in range(20) %}{{ i }}{% endfor %}", {}, html=True, field_name="body", ticker=ticker)
    assert out.endswith("19") and ticker.reads < 10


def test_macro_recursion_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as err:
        rendered("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(1) }}")
    assert "RecursionError" in str(err.value)
