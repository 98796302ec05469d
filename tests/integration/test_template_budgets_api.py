"""Template bombs through every door: API and web answer 422, the CLI exits non-zero, and a
message whose template breaks a render budget fails with the reason (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.channels_helpers import add_contact, add_outbox, add_template, outbox_row
from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import build_registry
from tidings.cli.main import app
from tidings.domain import template_limits
from tidings.store import schema

BOMB = "<p>{{ 9 ** 9999 }}</p>"


def template_count(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.templates)).scalar() or 0)


def test_api_refuses_a_constant_bomb_with_422(api: Any, container: Container) -> None:
    r = api.put("/api/templates/bomb", json={"subject": "Hi", "body": BOMB})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "template_error" and "more than 1000 digits" in err["message"]
    assert err["details"][0]["loc"] == ["body", "body"] and err["details"][0]["line"] == 1
    r = api.put("/api/templates/bomb", json={"subject": "{{ 'x' * 10000000 }}", "body": "<p>ok</p>"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "subject"]
    assert template_count(container) == 0


def test_web_editor_refuses_a_constant_bomb_with_422(container: Container) -> None:
    form = {"key": "bomb", "locale": "", "channel": "email", "name": "Bomb", "format": "html",
            "subject": "Hi", "body": BOMB, "text_body": "", "new": "1"}
    with web_client(container, "marketer") as (client, token):
        r = client.post("/templates", data={**form, "csrf_token": token})
    assert r.status_code == 422
    assert "more than 1000 digits" in r.text
    assert template_count(container) == 0


def test_cli_refuses_a_constant_bomb(monkeypatch: pytest.MonkeyPatch, db_url: str, container: Container,
                                     tmp_path: Path) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    monkeypatch.setenv("TIDINGS_SECRET_KEY", "cli-secret")
    body = tmp_path / "bomb.html"
    body.write_text(BOMB)
    r = CliRunner().invoke(app, ["templates", "save", "bomb", str(body)])
    assert r.exit_code != 0
    assert "bomb.html" in r.output and "more than 1000 digits" in r.output
    assert template_count(container) == 0


async def test_a_message_whose_render_runs_out_of_time_fails_with_the_reason(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template_limits, "MAX_RENDER_SECONDS", 0.05)  # the real ticker, a short budget
    now = container.clock.now()
    cid = add_contact(container.engine, now)
    loops = "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    add_template(container.engine, now, key="slow", body=f"<p>{loops}{{% endfor %}}{{% endfor %}}{{% endfor %}}</p>")
    add_template(container.engine, now, key="huge", body='<p>{% set s = "ab" * 900000 %}{{ s ~ s ~ s }}</p>')
    slow = add_outbox(container.engine, now, cid, template="slow")
    huge = add_outbox(container.engine, now, cid, template="huge")
    registry = build_registry(container)
    try:
        deliverer = Deliverer(container, registry)
        await deliverer.drain()
        deliverer.close()
    finally:
        await registry.aclose()
    slow_row, huge_row = outbox_row(container.engine, slow), outbox_row(container.engine, huge)
    assert slow_row["status"] == "failed" and "time budget" in slow_row["error"]
    assert huge_row["status"] == "failed" and "output is larger than its budget" in huge_row["error"]
