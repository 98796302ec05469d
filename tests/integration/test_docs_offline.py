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


# Outside URLs the vendored visual editor holds, each proven unused at run time by
# tests/e2e/test_browser_visual_editor.py (it records every request the editor page makes while a
# user opens a template, drags blocks and saves) and why: our setup in static/template_visual.js
# turns it off, or nothing we ship reaches it. A new outside URL in these files fails here until
# it is looked at and listed.
EDITOR_URL_HOSTS: dict[str, dict[str, str]] = {
    "grapesjs-0.23.6.min.js": {
        "app.grapesjs.com": "telemetry: init option telemetry: false (and never sent on localhost)",
        "cdnjs.cloudflare.com": "font-awesome stylesheet: init option cssIcons: '' (panels use inline SVG icons)",
        "google.com": "the link trait's placeholder text (eg. https://google.com), never requested",
        "maps.google.com": "map component's default src: no map block is installed",
        "player.vimeo.com": "video component providers: no video block is installed",
        "www.youtube.com": "video component providers: no video block is installed",
        "www.youtube-nocookie.com": "video component providers: no video block is installed",
    },
    "grapesjs-mjml-1.0.8.min.js": {
        "fonts.googleapis.com": "MJML's default font links: replaced by a font map no template names",
        "cloud.githubusercontent.com": "mj-hero block's background: the block is left out (blocks option)",
        "source.unsplash.com": "mj-raw block's pictures: the block is left out",
        "www.mailjet.com": "mj-social icons: the social blocks are left out",
        "i.imgur.com": "mj-carousel arrows: no carousel block exists",
        "via.placeholder.com": "image placeholder: imagePlaceholderSrc is /static/favicon.svg",
        "www.facebook.com": "share links of the left-out social blocks (hrefs, not requests)",
        "twitter.com": "share links of the left-out social blocks (hrefs, not requests)",
        "www.linkedin.com": "share links of the left-out social blocks (hrefs, not requests)",
        "pinterest.com": "share links of the left-out social blocks (hrefs, not requests)",
        "plus.google.com": "share links of the left-out social blocks (hrefs, not requests)",
        "www.tumblr.com": "share links of the left-out social blocks (hrefs, not requests)",
        "www.xing.com": "share links of the left-out social blocks (hrefs, not requests)",
        "mjml.io": "a button href in the left-out hero block",
        "example.com": "an XMLHttpRequest feature probe: opened, never sent",
        "www.ibm.com": "a DTD id the bundled HTML parser compares for quirks mode",
    },
}


def test_the_visual_editor_files_hold_only_the_listed_outside_urls() -> None:
    from pathlib import Path

    vendor = Path(__file__).resolve().parents[2] / "tidings" / "web" / "static" / "vendor"
    for name, allowed in EDITOR_URL_HOSTS.items():
        text = (vendor / name).read_text(encoding="utf-8")
        hosts = set(re.findall(r"https?://([a-zA-Z0-9.-]+\.[a-z]{2,})", text)) - {"www.w3.org"}
        assert hosts == set(allowed), (name, sorted(hosts ^ set(allowed)))
