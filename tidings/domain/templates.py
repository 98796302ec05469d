"""Message templates: Jinja2 in a sandbox, personalisation with defaults, MJML, derived text.

Rules:
- The environment is a ``SandboxedEnvironment``: no attribute starting with ``_``, no access to
  internals (``''.__class__.__mro__`` raises ``SecurityError``), no file loader, no globals but
  ours. Templates only see the context we give them: ``contact``, ``data``, ``message``.
- Undefined variables are errors (``StrictUndefined``), so a typo never sends "Hello ,";
  personalisation says what to print when a value is missing:
  ``{{ contact.first_name | default("there") }}``. Missing (None) contact fields are left out of
  the context so ``default`` applies to them.
- A render either produces the whole message or raises ``TemplateError``: nothing half-rendered
  is ever sent. Renders have a time and an output-size budget, and ``**``/``*`` are capped
  (``template_limits.py``); constant expressions breaking a budget are refused at save time.
- ``format``: html | mjml (Jinja first, then MJML -> responsive HTML) | text.
- Plain text is derived from the HTML when the template has no ``text_body``.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes

from tidings.domain.template_limits import (
    MAX_OUTPUT_CHARS,
    BudgetExceeded,
    LimitedEnvironment,
    Ticker,
    budget,
    check_time,
    constant_problems,
)

FORMATS = ("html", "mjml", "text")


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered; ``line`` is 1-based when known."""

    def __init__(self, message: str, *, field: str = "body", line: int | None = None) -> None:
        self.field = field
        self.line = line
        where = f"{field}, line {line}" if line else field
        super().__init__(f"{where}: {message}")
        self.message = message


def _env(autoescape: bool) -> LimitedEnvironment:
    env = LimitedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=autoescape, loader=None, keep_trailing_newline=True
    )
    env.globals.clear()  # no range/lipsum/dict/cycler...: only what a message needs
    env.globals.update(range=_small_range)
    return env


def _small_range(*args: int) -> range:
    r = range(*args)
    if len(r) > 1000:
        raise jinja2.exceptions.SecurityError("range too large")
    return r


_HTML_ENV = _env(autoescape=True)
_TEXT_ENV = _env(autoescape=False)


@lru_cache(maxsize=2048)
def _compile(source: str, html: bool, field_name: str) -> jinja2.Template:
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", field=field_name, line=exc.lineno) from None
    except RecursionError:
        raise TemplateError("the template is nested too deeply", field=field_name) from None
    except Exception as exc:  # a literal too large to convert, ...: refused, never a 500
        raise TemplateError(f"cannot compile: {type(exc).__name__}: {exc}", field=field_name) from None


def check_syntax(source: str, *, html: bool, field_name: str) -> None:
    """Raise ``TemplateError`` (with the line) if ``source`` does not compile, or if one of its
    constant expressions breaks a render budget (``{{ 9 ** 9999 }}``). Used at save time."""
    _compile(source, html, field_name)
    env = _HTML_ENV if html else _TEXT_ENV
    problems = constant_problems(env, env.parse(source))
    if problems:
        message, line = problems[0]
        raise TemplateError(f"not allowed: {message}", field=field_name, line=line)


def _generate(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """``template.render`` measuring the output as it grows (and the time every 32 chunks)."""
    parts: list[str] = []
    size = 0
    ctx = template.new_context(dict(context))
    try:
        for chunk in template.root_render_func(ctx):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise BudgetExceeded(f"the output is larger than its budget of {MAX_OUTPUT_CHARS:,} characters")
            parts.append(chunk)
            if not len(parts) & 31:
                check_time()
    except Exception:
        template.environment.handle_exception()  # re-raises with the template's line numbers
    return "".join(parts)


def render_string(
    source: str, context: Mapping[str, Any], *, html: bool, field_name: str, ticker: Ticker | None = None
) -> str:
    template = _compile(source, html, field_name)
    try:
        with budget(ticker):
            return _generate(template, context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"{exc.message} (use | default(...) for optional values)", field=field_name, line=_error_line(exc)
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"not allowed: {exc}", field=field_name, line=_error_line(exc)) from None
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(f"not allowed: {type(exc).__name__}", field=field_name, line=_error_line(exc)) from None
    except Exception as exc:  # a filter on a wrong type, a division by zero...
        raise TemplateError(f"{type(exc).__name__}: {exc}", field=field_name, line=_error_line(exc)) from None


def _error_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


#: The web fonts MJML links by default (its ``fonts`` option): none. mjml's own default map links
#: Open Sans, Droid Sans, Lato, Roboto and Ubuntu from fonts.googleapis.com whenever a font stack
#: names one of them (its default ``Ubuntu, Helvetica, Arial, sans-serif`` does), so every email
#: would pull outside fonts and tell Google who opened it. With an empty map the stacks fall back
#: to the reader's system fonts; a template that wants a web font says so with ``<mj-font>``.
MJML_FONTS: dict[str, str] = {}


def mjml_to_html(source: str) -> str:
    import mjml

    try:
        return str(mjml.mjml2html(source, fonts=MJML_FONTS))
    except Exception as exc:
        raise TemplateError(f"MJML: {exc}", field="body") from None


_SKIP_BLOCKS = re.compile(r"<(style|script|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_ANCHOR = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(["'])(.*?)\1[^>]*>(.*?)</a\s*>""", re.IGNORECASE | re.DOTALL)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_BLOCK = re.compile(r"</?(?:p|div|br|tr|li|ul|ol|h[1-6]|table|section|hr|blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_MANY_NEWLINES = re.compile(r"\n\s*\n\s*\n+")


def _anchor_text(m: re.Match[str]) -> str:
    href = html_lib.unescape(m.group(2)).strip()
    text = m.group(3)
    if href.startswith(("http://", "https://", "mailto:")):
        return f"{text} ({href})"
    return text


def html_to_text(html: str) -> str:
    """HTML -> readable plain text: blocks become lines, links ``text (url)``, tags dropped.

    Regular expressions rather than ``html.parser``: this runs for every message whose template
    has no text version (the parser cost 0.3 ms a message, a fifth of a send's budget).
    """
    text = _COMMENTS.sub("", _SKIP_BLOCKS.sub("", html))
    text = _ANCHOR.sub(_anchor_text, text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = _BLOCK.sub("\n", text.replace("\n", " "))
    text = html_lib.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    out = "\n".join(lines)
    return _MANY_NEWLINES.sub("\n\n", out).strip() + "\n"


@dataclass(frozen=True)
class TemplateSource:
    """One variant of a template (a row of the ``templates`` table)."""

    key: str
    channel: str = "email"
    locale: str = ""
    subject: str | None = None
    body: str = ""
    format: str = "html"
    text_body: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


def source_from_row(row: Mapping[str, Any]) -> TemplateSource:
    """The variant a ``templates`` row holds (the columns of that table)."""
    return TemplateSource(
        key=row["key"],
        channel=row["channel"],
        locale=row["locale"],
        subject=row["subject"],
        body=row["body"],
        format=row["format"],
        text_body=row["text_body"],
        settings=row["settings"] or {},
    )


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    html: str | None
    text: str


def validate(t: TemplateSource) -> list[TemplateError]:
    """Every problem of a template at save time (syntax errors with their line)."""
    problems: list[TemplateError] = []
    if t.format not in FORMATS:
        problems.append(TemplateError(f"format must be one of {', '.join(FORMATS)}", field="format"))
    checks = [
        ("subject", t.subject, False),
        ("body", t.body, t.format == "html"),
        ("text_body", t.text_body, False),
    ]
    for name, source, html in checks:
        if source is None:
            continue
        try:
            check_syntax(source, html=html, field_name=name)
        except TemplateError as exc:
            problems.append(exc)
    if t.format == "mjml" and not problems and "{" not in t.body:
        try:
            mjml_to_html(t.body)
        except TemplateError as exc:
            problems.append(exc)
    return problems


def render(t: TemplateSource, context: Mapping[str, Any], *, ticker: Ticker | None = None) -> Rendered:
    """The whole message or a ``TemplateError``: never a partial result. One time budget for
    the whole message (subject, body and text); ``ticker`` overrides the installed one."""
    with budget(ticker):
        return _render(t, context)


def _render(t: TemplateSource, context: Mapping[str, Any]) -> Rendered:
    subject = render_string(t.subject, context, html=False, field_name="subject") if t.subject else None
    if subject is not None:
        subject = " ".join(subject.split())  # no line breaks in a subject
    if t.format == "text":
        text = render_string(t.body, context, html=False, field_name="body")
        return Rendered(subject, None, text)
    if t.format == "mjml":
        # MJML is XML-ish: escape substituted values like HTML.
        html = mjml_to_html(render_string(t.body, context, html=True, field_name="body"))
    else:
        html = render_string(t.body, context, html=True, field_name="body")
    if t.text_body:
        text = render_string(t.text_body, context, html=False, field_name="text_body")
    else:
        text = html_to_text(html)
    return Rendered(subject, html, text)


def contact_context(contact: Mapping[str, Any], tags: list[str] | None = None) -> dict[str, Any]:
    """The ``contact`` a template sees: fields and attributes, None values left out (so
    ``| default`` applies), attributes also reachable as ``contact.attributes.x``."""
    attributes = dict(contact.get("attributes") or {})
    ctx: dict[str, Any] = {k: v for k, v in attributes.items() if v is not None and isinstance(k, str)}
    for key in (
        "id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "locale",
        "timezone",
        "lifecycle_stage",
        "owner",
        "score",
        "external_id",
    ):
        value = contact.get(key)
        if value is not None:
            ctx[key] = value
    ctx["attributes"] = attributes
    ctx["tags"] = list(tags or [])
    return ctx


def escape(value: str) -> str:
    return html_lib.escape(value, quote=True)


def locale_candidates(locale: str | None) -> list[str]:
    """``fr-CA`` -> [fr-CA, fr, ""]: the exact variant, the language, then the default."""
    out: list[str] = []
    if locale:
        out.append(locale)
        lang = locale.replace("_", "-").split("-")[0]
        if lang != locale:
            out.append(lang)
    out.append("")
    return out


def best_variant(rows: Iterable[Mapping[str, Any]], locale: str | None) -> TemplateSource | None:
    """Of one key's ``templates`` rows, the variant for ``locale``: exact, its language, then the
    default (``locale_candidates``); None when none of those is there."""
    by_locale = {r["locale"]: r for r in rows}
    for candidate in locale_candidates(locale):
        if candidate in by_locale:
            return source_from_row(by_locale[candidate])
    return None


def signal_links(t: TemplateSource) -> set[str]:
    """The signals a variant links to: the names of its ``message.signal_url('NAME')`` calls with
    a literal name (what a journey sending it must handle). A variant that does not parse names none
    (its own validation reports that)."""
    names: set[str] = set()
    for source in (t.subject or "", t.body, t.text_body or ""):
        if "signal_url" not in source:
            continue
        try:
            tree = _env(False).parse(source)
        except jinja2.TemplateSyntaxError:
            continue
        for call in tree.find_all(nodes.Call):
            fn, first = call.node, call.args[0] if call.args else None
            if isinstance(fn, nodes.Getattr) and fn.attr == "signal_url" and isinstance(first, nodes.Const):
                names.add(str(first.value))
    return names
