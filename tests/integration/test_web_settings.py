"""Web app: /settings for admins — API keys created (shown once) and revoked, then used against
the API; sending domains checked through a fake resolver; marketers are refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.unit.test_domain_checks import FakeResolver
from tests.web_support import web_client
from tidings.server import create_app


def test_admin_creates_a_key_uses_it_and_revokes_it(container) -> None:
    with web_client(container, role="admin") as (client, token):
        page = client.get("/settings")
        assert page.status_code == 200 and 'data-nav="settings"' in page.text
        r = client.post("/settings/keys", data={"csrf_token": token, "name": "shop", "scopes": ["read", "write"]})
        assert r.status_code == 200
        secret = re.search(r'id="new-key-secret">([^<]+)<', r.text)
        assert secret, r.text
        assert secret.group(1) not in client.get("/settings").text  # shown once
        bad = client.post("/settings/keys", data={"csrf_token": token, "name": "x", "scopes": ["browser"]})
        assert bad.status_code == 422 and "origin" in bad.text
        assert client.post("/settings/keys", data={"name": "x", "scopes": ["read"]}).status_code == 403  # CSRF

        with TestClient(create_app(container), headers={"Authorization": f"Bearer {secret.group(1)}"}) as api:
            made = api.post("/api/contacts", json={"email": "k@shop.test"})
            assert made.status_code in (200, 201), made.text
            assert api.get("/api/contacts").status_code == 200
            key_id = int(re.search(r'id="key-(\d+)"', client.get("/settings").text).group(1))  # type: ignore[union-attr]
            r = client.post(f"/settings/keys/{key_id}/revoke", data={"csrf_token": token}, follow_redirects=False)
            assert r.status_code == 303
            container.keys.invalidate()
            assert api.get("/api/contacts").status_code == 401


def test_sending_domains_are_checked_through_the_resolver(container) -> None:
    container.dns_resolver = FakeResolver({"_dmarc.tidings.localhost": ["v=DMARC1; p=none"]})
    with web_client(container, role="admin") as (client, _):
        page = client.get("/settings").text
        assert "tidings.localhost" in page and 'id="public-url-warning"' not in page  # public URL is set
        checks = client.get("/settings/domains/tidings.localhost/check", headers={"HX-Request": "true"}).text
        rows = re.findall(r'<tr class="dns-(\w+)">.*?<span class="badge [^"]+">(pass|fail)</span>', checks, re.S)
        assert rows == [("dkim", "fail"), ("spf", "fail"), ("dmarc", "pass")]
        assert "v=spf1 mx a ~all" in checks
        assert client.get("/settings/domains/other.test/check").status_code == 404


def test_marketers_cannot_open_settings(container) -> None:
    with web_client(container, role="marketer") as (client, token):
        assert client.get("/settings").status_code == 403
        assert (
            client.post("/settings/keys", data={"csrf_token": token, "name": "x", "scopes": ["read"]}).status_code
            == 403
        )
        assert 'data-nav="settings"' not in client.get("/").text
