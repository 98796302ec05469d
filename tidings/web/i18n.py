"""The web UI's languages: gettext catalogues (Babel), the viewer's locale and time zone, and
the locale-aware template filters.

The catalogues live in ``tidings/web/locale/<code>/LC_MESSAGES/messages.{po,mo}`` (the ``.mo``
files are committed, so ``pip install .`` ships them; ``docs/translations.md`` has the workflow).

Requests are concurrent, so nothing global is swapped: ``render()`` (``web/core.py``) sets the
viewer of the request in a context variable for the time of one render, and the template
globals (``_``, ``gettext``, ``ngettext``) and filters (``dt``, ``num``, ``money``) read it.
Python code of the pages marks its messages with ``_()`` from here: a ``LazyText`` that is
translated when the template prints it, i.e. in the viewer's language.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from tidings.domain.access import RTL_LOCALES, UI_LOCALES
from tidings.domain.journeys.narrate import Amount, Moment, Phrase, narrate

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
DOMAIN = "messages"


@dataclass(frozen=True)
class ViewerLocale:
    """Who a page is rendered for: the UI language (a key of ``UI_LOCALES``) and time zone."""

    locale: str = DEFAULT_LOCALE
    timezone: str = "UTC"

    @property
    def direction(self) -> str:
        return "rtl" if self.locale in RTL_LOCALES else "ltr"

    @property
    def lang(self) -> str:
        """The BCP 47 tag for ``<html lang>``: ``zh_Hans`` -> ``zh-Hans``."""
        return self.locale.replace("_", "-")

    @property
    def babel(self) -> Locale:
        return _babel_locale(self.locale)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_viewer: ContextVar[ViewerLocale | None] = ContextVar("tidings_web_viewer", default=None)
_ENGLISH = ViewerLocale()


def current_viewer() -> ViewerLocale:
    """The viewer of the render under way (English and UTC outside one: logs, the CLI)."""
    return _viewer.get() or _ENGLISH


@contextmanager
def viewing_as(viewer: ViewerLocale) -> Iterator[ViewerLocale]:
    """Render for ``viewer`` inside the block (one request's render; nothing global changes)."""
    token = _viewer.set(viewer)
    try:
        yield viewer
    finally:
        _viewer.reset(token)


@cache
def _babel_locale(code: str) -> Locale:
    return Locale.parse(code)


@cache
def translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``code``; English is the source language (no catalogue).
    A missing catalogue of a listed language is a packaging error: it fails loudly."""
    if code == DEFAULT_LOCALE:
        return _gettext.NullTranslations()
    if code not in UI_LOCALES:
        raise LookupError(f"{code!r} is not a UI language ({', '.join(UI_LOCALES)})")
    mo = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise FileNotFoundError(f"the {code} catalogue is missing: {mo} (run: pybabel compile -d tidings/web/locale)")
    return Translations.load(str(LOCALE_DIR), [code], domain=DOMAIN)


# --------------------------------------------------------------------------- choosing the language


def _aliases() -> dict[str, str]:
    table = {code.lower().replace("_", "-"): code for code in UI_LOCALES}
    # Chinese written in simplified characters, however the browser names it
    table.update({"zh": "zh_Hans", "zh-cn": "zh_Hans", "zh-sg": "zh_Hans", "zh-hans-cn": "zh_Hans"})
    return table


_ALIASES = _aliases()


def match_locale(tag: str) -> str | None:
    """The UI language a BCP 47 tag asks for (``uk-UA`` -> ``uk``), or None."""
    t = tag.strip().lower().replace("_", "-")
    if not t:
        return None
    if t in _ALIASES:
        return _ALIASES[t]
    if t.startswith("zh-") and ("hant" in t or t in ("zh-tw", "zh-hk", "zh-mo")):
        return None  # traditional characters: no catalogue
    return _ALIASES.get(t.split("-", 1)[0])


def negotiate(accept_language: str | None) -> str:
    """The best UI language for an ``Accept-Language`` header (q-values honoured), else English."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            ranked.append((-q, i, tag))
    for _q, _i, tag in sorted(ranked):
        if tag.strip() == "*":
            return DEFAULT_LOCALE
        code = match_locale(tag)
        if code:
            return code
    return DEFAULT_LOCALE


def viewer_for(user_locale: str | None, user_timezone: str | None, accept_language: str | None) -> ViewerLocale:
    """The user's own setting first, else the browser's languages; UTC unless the user chose a zone."""
    locale = user_locale if user_locale in UI_LOCALES else negotiate(accept_language)
    return ViewerLocale(locale=locale or DEFAULT_LOCALE, timezone=user_timezone or "UTC")


# --------------------------------------------------------------------------- translating


def translate(message: str, **variables: Any) -> str:
    """``message`` in the current viewer's language, ``%(name)s`` placeholders filled."""
    text = translations(current_viewer().locale).gettext(message)
    return text % variables  # like Jinja's newstyle gettext: a literal % is written %%


def translate_plural(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(current_viewer().locale).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


class LazyText:
    """A message marked in Python (``_("…")``), translated when it is printed: a page handler
    builds it before the render knows the viewer."""

    __slots__ = ("message", "variables")

    def __init__(self, message: str, variables: dict[str, Any]) -> None:
        self.message = message
        self.variables = variables

    def __str__(self) -> str:
        variables = {k: str(v) if isinstance(v, LazyText) else v for k, v in self.variables.items()}
        return translate(self.message, **variables)

    def __html__(self) -> str:
        return str(Markup.escape(str(self)))

    def __repr__(self) -> str:
        return f"LazyText({self.message!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyText):
            return (self.message, self.variables) == (other.message, other.variables)
        return str(self) == other

    def __hash__(self) -> int:
        return hash(self.message)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __bool__(self) -> bool:
        return bool(self.message)


#: a message for the viewer: plain text, or marked for translation.
Text = str | LazyText


def _(message: str, **variables: Any) -> LazyText:
    """Mark a page handler's message for translation (extracted by ``pybabel extract``)."""
    return LazyText(message, variables)


#: the words stored in ``status`` columns (``domain/statuses.py``, consent, journeys, domains),
#: as the badges show them.
STATUS_LABELS: dict[str, LazyText] = {
    "active": _("active"),
    "waiting": _("waiting"),
    "ended": _("ended"),
    "paused": _("paused"),
    "draft": _("draft"),
    "archived": _("archived"),
    "pending": _("pending"),
    "confirmed": _("confirmed"),
    "expired": _("expired"),
    "direct": _("single opt-in"),
    "sending": _("sending"),
    "sent": _("sent"),
    "delivered": _("delivered"),
    "failed": _("failed"),
    "suppressed": _("suppressed"),
    "skipped": _("skipped"),
    "dead": _("dead"),
    "uncertain": _("uncertain"),
    "open": _("open"),
    "done": _("done"),
    "cancelled": _("cancelled"),
    "disabled": _("disabled"),
    "granted": _("granted"),
    "denied": _("denied"),
    "unsubscribed": _("unsubscribed"),
    "bounced": _("bounced"),
    "on_track": _("on track"),
    "off_track": _("off track"),
    "missed": _("missed"),
    "met": _("met"),
    "running": _("running"),
    "stopped": _("stopped"),
    "completed": _("completed"),
}


def status_label(status: object) -> str:
    """A status word in the viewer's language (an unknown one as it is stored)."""
    label = STATUS_LABELS.get(str(status))
    return str(label) if label is not None else str(status if status is not None else "")


@pass_context
def _template_gettext(__context: Context, __message: str, **variables: Any) -> str:
    text = translations(current_viewer().locale).gettext(__message)
    if __context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 -- our own catalogues, as Jinja's i18n does; variables are escaped by %
    return text % variables


@pass_context
def _template_ngettext(__context: Context, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
    variables.setdefault("num", __num)
    text = translations(current_viewer().locale).ngettext(__singular, __plural, __num)
    if __context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 -- our own catalogues, as Jinja's i18n does; variables are escaped by %
    return text % variables


def install(env: Any) -> None:
    """The request-scoped gettext callables and locale-aware filters of the Jinja environment."""
    env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)
    # install_gettext_callables wraps them again for newstyle: use ours as they are
    env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    env.globals.update(ui_locales=UI_LOCALES, status_label=status_label)
    env.filters.update(dt=format_dt, num=format_num, money=format_money, delta=format_delta, say=say)
    env.globals.update(narrate=narrate)


# --------------------------------------------------------------------------- formatting


def _as_datetime(value: datetime | date | str) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def format_dt(value: datetime | date | str | None, kind: str = "datetime") -> str:
    """A date and time in the viewer's locale and time zone (naive values are UTC);
    ``kind``: ``datetime`` (short date, time), ``date``, ``time`` or ``long``."""
    if kind not in ("datetime", "date", "time", "long"):
        raise ValueError(f"dt: unknown kind {kind!r} (datetime, date, time or long)")
    if value is None or value == "":
        return ""
    parsed = _as_datetime(value)
    if parsed is None:
        return str(value)
    viewer = current_viewer()
    if not isinstance(parsed, datetime):
        return format_date(parsed, format="medium", locale=viewer.babel)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    local = parsed.astimezone(viewer.zone)
    if kind == "date":
        return format_date(local.date(), format="medium", locale=viewer.babel)
    if kind == "time":
        return format_datetime(local, format="HH:mm", locale=viewer.babel)
    if kind == "long":
        return format_datetime(local, format="long", locale=viewer.babel)
    day = format_date(local.date(), format="medium", locale=viewer.babel)
    return day + " " + format_datetime(local, format="HH:mm", locale=viewer.babel)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_num(value: Any, digits: int = 0) -> str:
    """A number with the viewer's digits, separators and ``digits`` decimals."""
    number = _decimal(0 if value is None else value)
    if number is None:
        return str(value)
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(round(number, digits), format=pattern, locale=current_viewer().babel)


def format_money(value: Any, currency: str | None = None) -> str:
    """An amount in its currency (the event's), formatted for the viewer; no currency: a number."""
    number = _decimal(0 if value is None else value)
    if number is None:
        return str(value)
    if not currency:
        return format_num(number, 2)
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        return f"{format_num(number, 2)} {currency}"  # not an ISO 4217 code: shown as it was given
    return format_currency(number, currency.upper(), locale=current_viewer().babel)


def say(phrase: Phrase) -> str:
    """A narrated sentence (``domain/journeys/narrate.py``) in the viewer's language: the message
    translated, times in the viewer's zone, amounts in their currency."""
    values: dict[str, Any] = {}
    for name, value in phrase.values.items():
        if isinstance(value, Moment):
            values[name] = format_dt(value.iso)
        elif isinstance(value, Amount):
            values[name] = format_money(value.value, value.currency)
        else:
            values[name] = "" if value is None else str(value)
    return translate(phrase.message, **values)


def format_delta(now: float, before: float) -> str:
    if not before:
        return translate("new") if now else "–"
    pct = (now - before) / before * 100
    sign = "+" if pct >= 0 else "−"
    return sign + format_decimal(abs(round(pct)), format="#,##0", locale=current_viewer().babel) + "%"
