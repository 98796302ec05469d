"""Real browser clients in Chromium: the vendored ``@segment/analytics-next`` (analytics.js) and
Tidings' own ``/t.js`` snippet, on a page served from a second loopback origin, pointed at a live
Tidings. identify, page and track arrive, and the anonymous history is merged on identify."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.e2e.test_browser_tracking_http import contact_of_anonymous_id, events_count
from tests.e2e.test_browser_web import CHROMIUM, browser  # noqa: F401  (the Chromium fixture)
from tests.e2e.test_recipes_e2e import DAY, Live, in_tmp, live  # noqa: F401  (the live-stack fixtures)
from tests.e2e.test_tracking_clients import contact_by, events_of
from tidings.application.access.keys import create_key
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

VENDOR = Path(__file__).parent / "vendor"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]

ANALYTICS_PAGE = """<!doctype html><html><head><title>Shop</title>
<script src="/vendor/analytics-next/analytics-next.umd.js"></script>
<script>
  const KEY = "{key}";
  const analytics = AnalyticsNext.AnalyticsBrowser.load(
    {{writeKey: KEY, cdnURL: location.origin,
      cdnSettings: {{integrations: {{"Segment.io": {{apiKey: KEY, apiHost: "{api_host}/v1", protocol: "http"}}}}}}}},
    {{disableClientPersistence: false}});
  window.runCalls = async (user) => {{
    await analytics.page("Docs", "Pricing", {{plan: "pro"}});
    await analytics.track("Product Viewed", {{sku: "A-1", price: 10}});
    await analytics.identify(user, {{email: "Ann@Example.com", firstName: "Ann"}});
    await analytics.track("Order Completed", {{order_id: "o-1", revenue: 99.5}});
    return (await analytics.user()).anonymousId();
  }};
</script></head><body>shop</body></html>"""

SNIPPET_PAGE = """<!doctype html><html><head><title>Snippet shop</title>
<script src="{api}/t.js" data-key="{key}"></script></head><body>shop</body></html>"""


class Site:
    """A second real HTTP origin on loopback: serves the test pages and the vendored bundles."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path in site.pages:
                    body = site.pages[self.path].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), partial(Handler, directory=str(VENDOR.parent)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_page(browser: Any, url: str, outside: list[str]) -> Any:  # noqa: F811
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1:") else None)
    page.goto(url)
    assert errors == []
    return page


def anonymous_count(engine: sa.Engine) -> int:
    c = schema.contacts
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(c).where(c.c.anonymous.is_(True))).scalar_one())


def test_real_analytics_js_identify_page_track(
    browser: Any, site: Site, live_server: Any, container: Any, engine: sa.Engine  # noqa: F811
) -> None:
    key = create_key(SqlUnitOfWork(engine), "site", ["browser"], container.clock.now(), [site.origin])[1]
    site.pages["/shop.html"] = ANALYTICS_PAGE.format(key=key, api_host=f"127.0.0.1:{live_server.port}")
    outside: list[str] = []
    page = open_page(browser, f"{site.origin}/shop.html", outside)
    anon = page.evaluate("runCalls('ajs-user-1')")
    assert anon
    user = wait_for(lambda: contact_by(engine, external_id="ajs-user-1"), "the identified contact")
    # the SDK may deliver the anonymous calls after the identify: they then resolve through the alias
    wanted = {"page.viewed", "product.viewed", "order.completed"}
    names = wait_for(
        lambda: (n := [x for x, _ in events_of(engine, user["id"])]) and wanted <= set(n) and n,
        "the events of the contact",
    )
    assert user["email"] == "ann@example.com" and user["first_name"] == "Ann"
    assert contact_of_anonymous_id(engine, anon) == user["id"]
    # the anonymous page view and product view were merged onto the identified contact
    assert wanted <= set(names)
    props = dict(events_of(engine, user["id"]))
    assert props["page.viewed"]["name"] == "Pricing" and props["page.viewed"]["category"] == "Docs"
    assert anonymous_count(engine) == 0
    assert outside == []  # no CDN: every request stayed on loopback
    page.close()


def test_analytics_js_from_a_foreign_origin_stores_nothing(
    browser: Any, site: Site, live_server: Any, container: Any, engine: sa.Engine  # noqa: F811
) -> None:
    key = create_key(SqlUnitOfWork(engine), "site", ["browser"], container.clock.now(), ["https://shop.example"])[1]
    site.pages["/shop.html"] = ANALYTICS_PAGE.format(key=key, api_host=f"127.0.0.1:{live_server.port}")
    page = open_page(browser, f"{site.origin}/shop.html", [])
    done: list[str] = []
    for event in ("requestfinished", "requestfailed"):
        page.on(event, lambda r: done.append(r.url) if "/v1/" in r.url else None)
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', headers: {'Content-Type': 'text/plain'},
             body: JSON.stringify({writeKey: KEY, anonymousId: 'x', event: 'Evil'})}).catch(e => 'blocked'))""",
        f"{live_server.url}/v1/t",
    )
    assert status == "blocked"  # 403 without a CORS grant: the page cannot even read the answer
    page.evaluate("runCalls('evil-user')")
    wait_for(lambda: len(done) >= 5, "the refused calls to come back")
    assert contact_by(engine, external_id="evil-user") is None
    assert events_count(engine) == 0
    page.close()


def test_first_party_snippet(
    browser: Any, site: Site, live_server: Any, container: Any, engine: sa.Engine  # noqa: F811
) -> None:
    key = create_key(SqlUnitOfWork(engine), "site", ["browser"], container.clock.now(), [site.origin])[1]
    site.pages["/snippet.html"] = SNIPPET_PAGE.format(api=live_server.url, key=key)
    page = open_page(browser, f"{site.origin}/snippet.html", [])
    anon = page.evaluate("tidings.anonymousId()")
    assert anon in page.evaluate("document.cookie")  # the first-party anonymous-id cookie
    wait_for(lambda: contact_of_anonymous_id(engine, anon), "the anonymous page view")
    page.evaluate("tidings.track('Product Viewed', {sku: 'B-2'})")
    page.evaluate("tidings.identify('snip-user-1', {email: 'bo@example.com'})")
    user = wait_for(lambda: contact_by(engine, external_id="snip-user-1"), "the identified contact")
    names = wait_for(
        lambda: (n := [x for x, _ in events_of(engine, user["id"])]) and "product.viewed" in n and n,
        "the merged history",
    )
    assert names[0] == "page.viewed"
    assert user["email"] == "bo@example.com"
    page.close()


RECIPE_PAGE = """<!doctype html><html><head><title>Shop</title>
<script src="/vendor/analytics-next/analytics-next.umd.js"></script>
<script>
  const analytics = AnalyticsNext.AnalyticsBrowser.load(
    {{writeKey: "{key}", cdnURL: location.origin,
      cdnSettings: {{integrations: {{"Segment.io":
        {{apiKey: "{key}", apiHost: "{api_host}/v1", protocol: "http"}}}}}}}});
  window.buy = async (at) => {{
    const when = {{timestamp: new Date(at)}};
    await analytics.identify("gus-1", {{email: "gus@example.com"}}, when);
    await analytics.track("Order Completed", {{order_id: "o-9", category: "espresso-machine", total: 499}}, when);
  }};
</script></head><body>shop</body></html>"""


def test_spec_named_order_from_analytics_js_starts_a_recipe(browser: Any, site: Site, live: Live) -> None:  # noqa: F811
    """``Order Completed`` from the real analytics.js starts post-purchase-education, whose trigger
    is ``order.completed``: one vocabulary."""
    live.install("post-purchase-education")
    contact_id = live.contact("gus@example.com")
    now = live.stack.container.clock.now()
    key = create_key(SqlUnitOfWork(live.engine), "site", ["browser"], now, [site.origin])[1]
    site.pages["/buy.html"] = RECIPE_PAGE.format(key=key, api_host=f"127.0.0.1:{live.stack.port}")
    page = open_page(browser, f"{site.origin}/buy.html", [])
    page.evaluate("(at) => buy(at)", live.stack.container.clock.now().isoformat())
    wait_for(lambda: "order.completed" in [n for n, _ in events_of(live.engine, contact_id)], "the order event")
    live.advance(DAY)
    assert live.subjects("gus@example.com") == ["Your first perfect espresso in five steps"]
    page.close()
