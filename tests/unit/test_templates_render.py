"""Template rendering: sandbox, strict personalisation with defaults, MJML, derived text, locales."""

from __future__ import annotations

import pytest

from tidings.domain.templates import (
    TemplateError,
    TemplateSource,
    contact_context,
    html_to_text,
    locale_candidates,
    render,
    validate,
)


def ctx(**contact: object) -> dict[str, object]:
    return {"contact": contact_context(contact), "data": {"order": {"total": 12.5}}, "message": {}}


def test_defaults_apply_to_missing_and_null_fields() -> None:
    t = TemplateSource(
        key="k",
        subject="Hi {{ contact.first_name | default('there') }}",
        body="<p>{{ contact.first_name | default('friend') }} {{ data.order.total }}</p>",
    )
    assert render(t, ctx(first_name=None)).subject == "Hi there"
    assert render(t, ctx(first_name="Zoé")).html == "<p>Zoé 12.5</p>"


def test_undefined_without_default_fails_whole_message_with_line() -> None:
    t = TemplateSource(key="k", subject="ok", body="<p>fine</p>\n<p>{{ contact.plan }}</p>")
    with pytest.raises(TemplateError) as err:
        render(t, ctx())
    assert err.value.line == 2 and "plan" in str(err.value)


def test_html_values_are_escaped_text_values_are_not() -> None:
    t = TemplateSource(key="k", subject="{{ contact.first_name }}", body="<p>{{ contact.first_name }}</p>")
    out = render(t, ctx(first_name="<script>x</script>"))
    assert out.html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert out.subject == "<script>x</script>"


@pytest.mark.parametrize(
    "evil",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__ }}",
        "{{ contact.items.__self__.__class__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ config }}",
        "{{ request }}",
        "{{ namespace }}",
        "{% for i in range(10000000) %}{% endfor %}",
        "{{ ''.format.__globals__ }}",
    ],
)
def test_sandbox_escape_attempts_fail(evil: str) -> None:
    with pytest.raises(TemplateError):
        render(TemplateSource(key="k", body=evil), ctx())


def test_syntax_errors_are_found_at_save_time_with_line() -> None:
    problems = validate(TemplateSource(key="k", subject="{{ oops", body="a\nb\n{% for %}", text_body="ok"))
    assert [(p.field, p.line) for p in problems] == [("subject", 1), ("body", 3)]
    assert validate(TemplateSource(key="k", body="x", format="pdf"))[0].field == "format"
    assert validate(TemplateSource(key="k", body="<mjml><mj-body>", format="mjml"))


def test_mjml_and_derived_text() -> None:
    t = TemplateSource(
        key="k",
        format="mjml",
        body=(
            "<mjml><mj-body><mj-section><mj-column>"
            "<mj-text>Hi {{ contact.first_name | default('you') }}</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>"
        ),
    )
    out = render(t, ctx(first_name="Ann"))
    assert out.html and "Hi Ann" in out.html and out.html.lower().startswith("<!doctype html>")
    assert out.text.strip() == "Hi Ann"
    # no outside fonts by default: mjml's own default map links Google Fonts for its Ubuntu stack
    assert "fonts.googleapis.com" not in out.html and "@import" not in out.html
    assert "<link" not in out.html.lower()


def test_mjml_web_font_only_when_the_template_asks() -> None:
    body = (
        '<mjml><mj-head><mj-font name="Raleway" href="https://fonts.example/raleway.css" /></mj-head>'
        '<mj-body><mj-section><mj-column><mj-text font-family="Raleway, Arial">Hi</mj-text>'
        "<mj-text font-family=\"Roboto, Arial\">Hey</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    html = render(TemplateSource(key="k", format="mjml", body=body), ctx()).html or ""
    assert "https://fonts.example/raleway.css" in html
    assert "fonts.googleapis.com" not in html  # Roboto is not in a default map any more


def test_html_to_text_keeps_structure_and_links() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><h1>Sale &amp; more</h1><p>Line one\n"
        "continues</p><ul><li><a href='https://x.org/a?b=1&amp;c=2'>Shoes</a></li><li>Hats</li></ul>"
        "<!-- hidden --><p>bye<br>now</p></body></html>"
    )
    assert html_to_text(html) == (
        "Sale & more\n\nLine one continues\n\n- Shoes (https://x.org/a?b=1&c=2)\n- Hats\n\nbye\nnow\n"
    )


def test_explicit_text_body_wins() -> None:
    t = TemplateSource(key="k", body="<p>html</p>", text_body="Plain {{ contact.first_name | default('x') }}")
    assert render(t, ctx()).text == "Plain x"


def test_locale_fallback_order() -> None:
    assert locale_candidates("fr-CA") == ["fr-CA", "fr", ""]
    assert locale_candidates("de") == ["de", ""]
    assert locale_candidates(None) == [""]
