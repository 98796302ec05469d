"""Installing recipes: idempotent, explicit about what is missing, respectful of edits."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.recipes import recipes as r
from tidings.channels.registry import ChannelRegistry
from tidings.store import schema
from tidings.store.sql_uow import joined


def counts(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (schema.templates, schema.journeys, schema.journey_versions)
        )


def add_contact(api: Any, **body: Any) -> int:
    res = api.post("/api/contacts", json=body)
    assert res.status_code == 201, res.text
    return int(res.json()["id"])


def test_install_all_twice_duplicates_nothing(container: Any) -> None:
    first = r.install_all(container)
    assert all(x["installed"] and x["journey"]["status"] == "published" for x in first)
    after_first = counts(container.engine)
    assert after_first == (sum(len(r.load_recipe(n).templates) for n in r.names()), 13, 13)
    second = r.install_all(container)
    assert counts(container.engine) == after_first
    assert {x["journey"]["status"] for x in second} == {"unchanged"}
    assert {t["status"] for x in second for t in x["templates"]} == {"unchanged"}


def test_api_lists_and_installs(api: Any) -> None:
    items = api.get("/api/recipes").json()["items"]
    assert len(items) == 13 and {"name", "title", "channels", "parameters"} <= set(items[0])
    res = api.post("/api/recipes/abandoned-cart/install", json={"parameters": {"first_delay": "2h"}})
    assert res.status_code == 200, res.text
    assert res.json()["journey"] == {"key": "abandoned-cart", "status": "published", "version": 1}
    doc = api.get("/api/journeys/abandoned-cart/versions/1").json()
    assert "2h" in str(doc)
    assert api.post("/api/recipes/nope/install").status_code == 404
    bad = api.post("/api/recipes/abandoned-cart/install", json={"parameters": {"nope": 1}})
    assert bad.status_code == 422 and "no parameter nope" in bad.json()["error"]["message"]
    sim = api.post("/api/recipes/birthday/simulate").json()
    assert sim["coverage"] == {"unreached_steps": [], "untaken_branches": []}


def test_missing_contact_attributes_are_named(api: Any, container: Any) -> None:
    add_contact(api, email="a@example.com", attributes={"last_visit": "2025-04-01"})
    res = api.post("/api/recipes/annual-checkup/install")
    assert res.status_code == 422, res.text
    err = res.json()["error"]
    assert err["code"] == "recipe_requirements"
    assert err["details"] == [
        {
            "loc": ["recipe", "attribute"],
            "msg": "no contact has the attribute 'insurance_eligible' (the journey reads it)",
        }
    ]
    assert counts(container.engine) == (0, 0, 0)  # nothing half-installed
    forced = api.post("/api/recipes/annual-checkup/install", json={"force": True})
    assert forced.status_code == 200 and forced.json()["installed"]


def test_missing_channels_are_named(container: Any) -> None:
    from tidings.channels.email import build_provider

    email = build_provider(container)

    container.channel_registry = ChannelRegistry({"email": email})  # as the running delivery loop shows it
    res = r.install(container, "webinar")
    assert not res["installed"]
    errors = sorted(p["message"] for p in res["problems"] if p["severity"] == "error")
    assert errors == [f"channel {c!r} is not configured (no provider)" for c in ("direct_mail", "sms", "task")]
    warnings = [p["message"] for p in res["problems"] if p["severity"] == "warning"]
    assert any("'email' goes to the local sink (catcher)" in w for w in warnings)
    assert any("team 'sales' has no member" in w for w in warnings)


def test_a_template_variable_with_no_data_is_named(container: Any, tmp_path: Any, monkeypatch: Any) -> None:
    shutil.copytree(r.RECIPES_DIR / "birthday", tmp_path / "birthday")
    body = tmp_path / "birthday" / "templates" / "birthday.html"
    body.write_text(body.read_text().replace("{{ data.code }}", "{{ data.code }} {{ data.expires }}"))
    monkeypatch.setattr(r, "RECIPES_DIR", tmp_path)
    r.load_recipe.cache_clear()
    try:
        res = r.install(container, "birthday")
    finally:
        r.load_recipe.cache_clear()
    assert not res["installed"]
    assert [p["message"] for p in res["problems"] if p["severity"] == "error"] == [
        "template 'birthday' prints data.expires without a default, but step 'birthday-email' gives no "
        "'expires' in its data"
    ]


def test_edits_are_kept_unless_replaced(container: Any) -> None:
    from tidings.application.delivery.templates import get_row, save_template
    from tidings.domain.templates import TemplateSource

    r.install(container, "welcome-series")
    with container.engine.begin() as conn:
        mine = TemplateSource("welcome-1", subject="Hi!", body="<p>mine</p>")
        save_template(joined(conn), mine, container.clock.now())
    again = r.install(container, "welcome-series")
    assert {t["key"]: t["status"] for t in again["templates"]}["welcome-1"] == "kept"
    with container.engine.connect() as conn:
        assert get_row(joined(conn), "welcome-1")["subject"] == "Hi!"  # type: ignore[index]
    replaced = r.install(container, "welcome-series", replace=True)
    assert {t["key"]: t["status"] for t in replaced["templates"]}["welcome-1"] == "replaced"
    # new parameter values publish a new version of the journey
    v2 = r.install(container, "welcome-series")
    assert v2["journey"] == {"key": "welcome-series", "status": "unchanged", "version": 1}
    cart = r.install(container, "abandoned-cart")
    assert cart["journey"]["version"] == 1
    cart2 = r.install(container, "abandoned-cart", {"coupon": "SAVE5"})
    assert cart2["journey"] == {"key": "abandoned-cart", "status": "published", "version": 2}


@pytest.fixture
def cli_env(db_url: str, container: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    monkeypatch.setenv("TIDINGS_SECRET_KEY", "test-secret-key")


def test_cli_install_list_simulate(cli_env: None, container: Any) -> None:
    from tidings.cli.main import app

    run = CliRunner().invoke
    out = run(app, ["recipes", "list"])
    assert out.exit_code == 0 and "welcome-series" in out.stdout
    first = run(app, ["recipes", "install", "welcome-series"])
    assert first.exit_code == 0, first.output
    assert "journey welcome-series v1 (published), 3 template(s) written" in " ".join(first.stdout.split())
    second = run(app, ["recipes", "install", "welcome-series"])
    assert "(unchanged), 0 template(s) written, 3 unchanged" in " ".join(second.stdout.split())
    assert run(app, ["recipes", "install"]).exit_code == 1
    sim = run(app, ["recipes", "simulate", "feedback"])
    assert sim.exit_code == 0 and "every step and branch was exercised" in sim.stdout
    assert run(app, ["recipes", "install", "nope"]).exit_code == 1


def test_cli_install_says_what_is_missing(cli_env: None, api: Any) -> None:
    from tidings.cli.main import app

    add_contact(api, email="b@example.com")
    out = CliRunner().invoke(app, ["recipes", "install", "birthday"])
    assert out.exit_code == 1
    text = " ".join(out.stdout.split())
    assert "birthday: not installed, missing:" in text
    assert "no contact has the attribute 'birthday' (the journey reads it)" in text
    forced = CliRunner().invoke(app, ["recipes", "install", "birthday", "--force"])
    assert forced.exit_code == 0, forced.output
