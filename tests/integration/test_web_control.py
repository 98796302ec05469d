"""Web app: the Control page (kill switch, alerts, send policy) and the dashboard's alert banner."""

from __future__ import annotations

from tests.integration.test_control_loops import _runaway
from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store.control import paused_channels


def test_dashboard_banner_shows_a_stopped_loop_and_an_admin_acknowledges_it(
    container: Container, clock: ManualClock
) -> None:
    _runaway(container, clock)
    with web_client(container, "admin") as (client, token):
        html = client.get("/").text
        assert 'id="alert-banner-1"' in html and "ping -&gt; pong -&gt; ping" in html and "Acknowledge" in html
        r = client.post("/control/alerts/1/acknowledge", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert 'id="alert-banner-1"' not in client.get("/").text
        assert "acknowledged by" in client.get("/control?show=all").text
        assert client.post("/control/alerts/99/acknowledge", data={"csrf_token": token}).status_code == 404


def test_admin_pauses_and_resumes_sending_and_saves_the_policy(container: Container) -> None:
    with web_client(container, "admin") as (client, token):
        page = client.get("/control").text
        assert "Sending is running" in page and 'id="pause-sending"' in page and 'data-nav="control"' in page
        client.post("/control/sending/pause", data={"csrf_token": token, "channel": "email"})
        with container.engine.connect() as conn:
            assert paused_channels(conn) == (False, ["email"])
        assert 'id="sending-paused-banner"' in client.get("/").text
        done = client.post("/control/sending/resume", data={"csrf_token": token}).text
        assert "Sending resumed" in done and "0 held message(s)" in done
        bad = client.post("/control/policy", data={"csrf_token": token, "source": "caps: [{channel: email, max: 0}]"})
        assert "can never be met" in bad.text
        ok = client.post(
            "/control/policy", data={"csrf_token": token, "source": "caps: [{channel: email, max: 2, per: day}]"}
        )
        assert "Send policy saved." in ok.text and "max: 2" in ok.text


def test_a_viewer_looks_but_cannot_act(container: Container) -> None:
    with web_client(container, "viewer") as (client, token):
        page = client.get("/control").text
        assert 'id="pause-sending"' not in page and "Only an admin" in page
        assert client.post("/control/sending/pause", data={"csrf_token": token}).status_code == 403
