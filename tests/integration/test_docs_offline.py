"""`/docs` works offline: Swagger UI's script and stylesheet come from the package, not a CDN."""

from __future__ import annotations

import re


def test_docs_page_uses_only_local_assets(api):
    r = api.get("/docs")
    assert r.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", r.text)
    assert urls, r.text
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    assets = [u for u in urls if u.startswith("/static/")]
    assert any(u.endswith(".js") for u in assets) and any(u.endswith(".css") for u in assets), assets
    for url in assets:
        asset = api.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000 or url.endswith(".svg"), url
    assert api.get("/openapi.json").status_code == 200
