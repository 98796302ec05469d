"""The UI catalogues: every language translates every message, keeps its placeholders, has no
fuzzy entry, and its committed .mo matches its .po; the locale filters format per language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.access import RTL_LOCALES, UI_LOCALES
from tidings.web import i18n
from tidings.web.i18n import ViewerLocale, format_dt, format_money, format_num, negotiate, viewing_as

LOCALE_DIR = Path(i18n.__file__).parent / "locale"
LANGS = [code for code in UI_LOCALES if code != "en"]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")


def _catalog(lang: str):
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def _template_ids() -> set[str]:
    with open(LOCALE_DIR / "messages.pot", "rb") as f:
        pot = read_po(f)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in pot if m.id}


def test_the_required_languages_are_there() -> None:
    assert {"uk", "th", "ar", "zh_Hans", "lo", "en"} <= set(UI_LOCALES)
    assert {"ar"} == RTL_LOCALES


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated_not_fuzzy_and_keeps_its_placeholders(lang: str) -> None:
    cat = _catalog(lang)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}
    assert ids == _template_ids(), "run pybabel update (docs/translations.md)"
    for m in cat:
        if not m.id:
            continue
        singular = m.id if isinstance(m.id, str) else m.id[0]
        assert "fuzzy" not in m.flags, (lang, singular)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert strings and all(s.strip() for s in strings), ("untranslated", lang, singular)
        wanted = sorted(PLACEHOLDER.findall(singular))
        for s in strings:
            assert sorted(PLACEHOLDER.findall(s)) == wanted, (lang, singular, s)
            s % {name: "x" for name in re.findall(r"%\(([a-z_]+)\)s", s)}  # formats without error


@pytest.mark.parametrize("lang", LANGS)
def test_the_committed_mo_is_compiled_from_the_po(lang: str) -> None:
    mo_path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.mo"
    with open(mo_path, "rb") as f:
        shipped = read_mo(f)
    fresh = BytesIO()
    write_mo(fresh, _catalog(lang))
    fresh.seek(0)
    compiled = read_mo(fresh)

    def table(cat):  # plural ids and strings come back as lists
        return {str(m.id): str(m.string) for m in cat if m.id}

    assert table(shipped) == table(compiled), "run pybabel compile -d tidings/web/locale"


def test_a_message_is_translated_for_the_viewer_of_the_render() -> None:
    text = i18n._("Log out")
    assert str(text) == "Log out"
    with viewing_as(ViewerLocale("uk")):
        assert str(text) == "Вийти"
    with viewing_as(ViewerLocale("ar")):
        assert str(text) == "تسجيل الخروج"
        assert str(i18n._("Added %(email)s.", email="a@b.c")) == "تمت إضافة a@b.c."
    assert str(text) == "Log out"  # nothing global changed


def test_accept_language_picks_the_best_ui_language() -> None:
    assert negotiate(None) == "en"
    assert negotiate("uk-UA,uk;q=0.9,en;q=0.5") == "uk"
    assert negotiate("fr-FR, ar;q=0.8, en;q=0.5") == "ar"
    assert negotiate("zh-CN,zh;q=0.9") == "zh_Hans"
    assert negotiate("zh-Hans") == "zh_Hans"
    assert negotiate("zh-TW") == "en"
    assert negotiate("lo-LA;q=0.4, th;q=0.7") == "th"
    assert negotiate("de, *;q=0.1") == "en"
    assert negotiate("ar;q=0, uk;q=0.2") == "uk"


def test_the_users_own_choice_beats_the_browser() -> None:
    v = i18n.viewer_for("lo", "Asia/Vientiane", "uk")
    assert (v.locale, v.timezone, v.direction, v.lang) == ("lo", "Asia/Vientiane", "ltr", "lo")
    assert i18n.viewer_for(None, None, "ar").direction == "rtl"
    assert i18n.viewer_for(None, None, "zh-CN").lang == "zh-Hans"


MOMENT = datetime(2026, 12, 7, 14, 2, tzinfo=UTC)


def test_thai_dates_numbers_and_money_in_bangkok_time() -> None:
    with viewing_as(ViewerLocale("th", "Asia/Bangkok")):
        assert format_dt(MOMENT) == "7 ธ.ค. 2026 21:02"
        assert format_dt(MOMENT, "date") == "7 ธ.ค. 2026"
        assert format_num(1234567.891, 2) == "1,234,567.89"
        assert format_money(1500, "THB") == "฿1,500.00"


def test_arabic_dates_numbers_and_money() -> None:
    with viewing_as(ViewerLocale("ar", "Asia/Dubai")):
        assert format_dt(MOMENT) == "07\u200f/12\u200f/2026 18:02"
        assert format_num(1234.5, 1) == "1,234.5"
        assert "د.إ." in format_money(99.5, "AED") and "99.50" in format_money(99.5, "AED")


def test_lao_dates_numbers_and_money() -> None:
    with viewing_as(ViewerLocale("lo", "Asia/Vientiane")):
        assert format_dt(MOMENT) == "7 ທ.ວ. 2026 21:02"
        assert format_num(1234567.5, 1) == "1.234.567,5"
        assert format_money(250000, "LAK") == "₭250.000"  # the kip has no minor unit in CLDR


def test_naive_and_iso_datetimes_are_utc_and_junk_is_shown_as_it_is() -> None:
    with viewing_as(ViewerLocale("uk", "Europe/Kyiv")):
        assert format_dt("2026-12-07T14:02:00") == format_dt(MOMENT) == "7 груд. 2026\u202fр. 16:02"
        assert format_dt("not a date") == "not a date"
        assert format_dt(None) == ""
        assert format_money(12.5, "EUR") == "12,50\xa0EUR"


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=2), st.sampled_from(list(UI_LOCALES)))
def test_a_formatted_number_reads_back_as_the_same_value(value, lang: str) -> None:
    from babel.numbers import parse_decimal

    with viewing_as(ViewerLocale(lang)):
        shown = format_num(value, 2)
    assert parse_decimal(shown.replace("\u200e", "").replace("\u200f", ""), locale=lang) == value
