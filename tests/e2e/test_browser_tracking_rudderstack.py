"""The real RudderStack JS SDK (``@rudderstack/analytics-js`` 3.34.1, the bundled v3 build,
vendored) in Chromium, on a page of a second loopback origin, pointed at a live Tidings as its
data plane: identify, page and track arrive, and the anonymous history is merged on identify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.test_browser_tracking_clients import Site, anonymous_count, open_page, site, wait_for  # noqa: F401
from tests.e2e.test_browser_tracking_http import contact_of_anonymous_id
from tests.e2e.test_browser_web import CHROMIUM, browser  # noqa: F401  (the Chromium fixture)
from tests.e2e.test_tracking_clients import contact_by, events_of
from tidings.application.access.keys import create_key
from tidings.store.sql_uow import SqlUnitOfWork

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]

RUDDER_PAGE = """<!doctype html><html><head><title>Shop</title>
<script src="/vendor/rudderstack/rudderstack-analytics.umd.js"></script>
<script>
  const KEY = "{key}";
  window.rudder = new rudderanalytics.RudderAnalytics();
  window.loaded = new Promise((resolve) => rudder.load(KEY, "{data_plane}", {{
    // no control plane, no CDN: the source configuration is given, without destinations
    getSourceConfig: () => ({{source: {{id: "tidings-test", name: "shop", writeKey: KEY, enabled: true,
                                        workspaceId: "w", config: {{}}, destinations: []}}}}),
    destSDKBaseURL: location.origin + "/vendor/rudderstack",
    pluginsSDKBaseURL: location.origin + "/vendor/rudderstack",
    polyfillIfRequired: false,
    onLoaded: () => resolve(true),
  }}));
  window.runCalls = async (user) => {{
    await loaded;
    rudder.page("Docs", "Pricing", {{plan: "pro"}});
    rudder.track("Product Viewed", {{sku: "A-1", price: 10}});
    rudder.identify(user, {{email: "Rae@Example.com", firstName: "Rae"}});
    rudder.track("Order Completed", {{order_id: "r-1", revenue: 42.5}});
    return rudder.getAnonymousId();
  }};
</script></head><body>shop</body></html>"""


def test_real_rudderstack_sdk_identify_page_track(
    browser: Any, site: Site, live_server: Any, container: Any, engine: sa.Engine  # noqa: F811
) -> None:
    key = create_key(SqlUnitOfWork(engine), "site", ["browser"], container.clock.now(), [site.origin])[1]
    site.pages["/rudder.html"] = RUDDER_PAGE.format(key=key, data_plane=live_server.url)
    outside: list[str] = []
    page = open_page(browser, f"{site.origin}/rudder.html", outside)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.method} {r.url} {r.failure}"))
    refused: list[str] = []
    tidings = live_server.url
    page.on("response", lambda r: refused.append(r.url) if r.url.startswith(tidings) and r.status >= 400 else None)
    anon = page.evaluate("runCalls('rs-user-1')")
    assert anon
    # the SDK's queue sends the calls concurrently: wait for the identify to have landed too
    user = wait_for(lambda: (u := contact_by(engine, external_id="rs-user-1")) and u["email"] and u,
                    "the identified contact with its traits")
    # ... and so may the anonymous calls, after the merge: they then resolve through the alias
    wanted = {"page.viewed", "product.viewed", "order.completed"}
    names = wait_for(
        lambda: (n := [x for x, _ in events_of(engine, user["id"])]) and wanted <= set(n) and n,
        "the events of the contact",
    )
    assert user["email"] == "rae@example.com" and user["first_name"] == "Rae"
    assert contact_of_anonymous_id(engine, anon) == user["id"]
    assert wanted <= set(names)
    props = dict(events_of(engine, user["id"]))
    assert props["page.viewed"]["name"] == "Pricing" and props["order.completed"]["revenue"] == 42.5
    assert anonymous_count(engine) == 0
    assert refused == [] and failed == []
    assert outside == []  # no CDN, no control plane: every request stayed on loopback
    page.close()
