"""Real browser: an analyst watches the dashboard while texts are pushed, scored and alerted on.

Push API (daphne) -> Redis -> Celery worker scores with a tiny trained model -> channels-redis ->
the dashboard's websocket. The feed's polling is cut off once the socket is live, so the new
headline can only arrive over the socket, and the page is never reloaded.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import Stack, sentiment_model_ready, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from rest_framework.authtoken.models import Token
from apps.accounts.services import user_create
from apps.sentiment import services
from apps.sentiment.models import AlertRule, Source
analyst = user_create(username="{user}", password="{user}-pw", roles=["analyst"])
osprey = services.entity_upsert(name="Osprey Freight", ticker="OSPF")
heron = services.entity_upsert(name="Heron Shipping", ticker="HRNS")
watched = {"Osprey chatter": osprey, "Heron chatter": heron}.get("{rule}")
if watched:
    rule = AlertRule.objects.create(owner=analyst, name="{rule}", metric="volume",
                                    mode="threshold", threshold=2, min_volume=2, window_hours=6,
                                    delivery="none")
    rule.entities.set([watched])
wire_a = services.source_get_or_create(name="Live wire A", kind=Source.Kind.API)
wire_b = services.source_get_or_create(name="Live wire B", kind=Source.Kind.API)
token = Token.objects.create(user=analyst).key
print("setup", osprey.pk, wire_a.pk, wire_b.pk, token)
"""
SHOWN = "Osprey Freight warns of <img src=x onerror=alert(1)> heavy loss"
OTHER_SOURCE = "Osprey Freight halts northern routes"
OTHER_COMPANY = "Vantage Retail opens 40 stores"


def _post(base: str, token: str, path: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _push(base: str, token: str, source: str, titles: list[str]) -> None:
    body = {"source": source, "documents": [{"title": t} for t in titles]}
    assert _post(base, token, "/api/sentiment/ingest/", body) == 201


def _arrange(stack: Stack, tmp_path: Path, user: str, rule: str = "") -> list[str]:
    """Analyst, sources (and an alert rule on Osprey or Heron); a model; a worker and the web."""
    code = SETUP.replace("{user}", user).replace("{rule}", rule)
    setup = stack.manage("shell", "-c", code, timeout=300)
    assert "setup" in setup.stdout, setup.stdout + setup.stderr
    ids = setup.stdout.split("setup")[-1].split()
    sentiment_model_ready(stack, tmp_path)  # or the one a test before trained
    stack.start_worker()
    return [stack.start_web(), *ids]


def test_new_headlines_and_alerts_appear_live_and_alerts_can_be_acknowledged(
    running: Stack, chromium, tmp_path: Path
) -> None:
    base, entity_id, wire_a, _wire_b, token = _arrange(
        running, tmp_path, "live-analyst", "Osprey chatter"
    )
    page = chromium.new_page()
    sign_in(page, base, "live-analyst", "live-analyst-pw", "/sentiment/")
    page.locator("#feed-mode[data-mode=live]").wait_for(timeout=30000)
    page.select_option("#feed-filters select[name=entity]", entity_id)
    filtered = f"/sentiment/feed/?entity={entity_id}&topic=&label=&source={wire_a}"
    with page.expect_response(lambda response: filtered in response.url):
        page.select_option("#feed-filters select[name=source]", wire_a)
    page.evaluate("window.notReloaded = true")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/sentiment/feed/" in r.url else None)
    page.route("**/sentiment/feed/**", lambda route: route.abort())  # from now on: socket only

    _push(base, token, "Live wire B", [OTHER_SOURCE])
    _push(base, token, "Live wire A", [OTHER_COMPANY, SHOWN, "Osprey Freight cancels contracts"])
    headline = page.locator("#feed tr", has_text=SHOWN)
    headline.wait_for(timeout=180000)
    alert = page.locator("#alerts tr", has_text="Osprey Freight")
    alert.wait_for(timeout=60000)
    alert.get_by_role("button", name="Acknowledge").click()
    page.locator("#alerts tr", has_text="Acknowledged").wait_for(timeout=30000)

    feed = page.locator("#feed").inner_text()
    assert page.evaluate("window.notReloaded") is True
    assert polls == []  # the 5 s polling pauses while the socket is live
    assert "fresh" in (headline.get_attribute("class") or "")  # put there by the socket's event
    assert headline.locator("a").inner_text() == SHOWN  # shown as text, not parsed as HTML
    assert page.locator("#feed img").count() == 0
    assert "Osprey Freight cancels contracts" in feed
    assert OTHER_SOURCE not in feed and OTHER_COMPANY not in feed  # the page's filters hold
    assert page.locator("#alerts-empty").is_hidden()
    with psycopg.connect(running.database_url) as conn:
        statuses = conn.execute(
            "select a.status from sentiment_alert a join sentiment_alertrule r on r.id = a.rule_id"
            " where r.name = 'Osprey chatter'"
        ).fetchall()
    assert statuses == [("acknowledged",)]
    page.close()


def test_without_the_socket_the_feed_and_the_alerts_still_refresh_by_polling(
    running: Stack, chromium, tmp_path: Path
) -> None:
    base, _entity_id, _wire_a, _wire_b, token = _arrange(
        running, tmp_path, "poll-analyst", "Heron chatter"
    )
    page = chromium.new_page()
    page.route_web_socket("**/ws/sentiment/feed/", lambda ws: ws.close())  # a proxy without ws
    sign_in(page, base, "poll-analyst", "poll-analyst-pw", "/sentiment/")
    page.locator("#feed").wait_for()
    page.evaluate("window.notReloaded = true")
    alert = page.locator("#alerts tr", has_text="Heron Shipping")
    listed_at_load = alert.count()

    _push(
        base,
        token,
        "Live wire A",
        ["Heron Shipping opens a new route to Lisbon", "Heron Shipping orders two vessels"],
    )
    headline = page.locator("#feed tr", has_text="Heron Shipping opens a new route to Lisbon")
    headline.wait_for(timeout=180000)
    alert.wait_for(timeout=60000)  # opened after the page loaded: only the alert poll shows it
    alert_id = (alert.get_attribute("id") or "").removeprefix("alert-")
    resolved = _post(base, token, f"/api/sentiment/alerts/{alert_id}/resolve/", {})
    page.locator("#alerts tr", has_text="Heron Shipping").filter(has_text="Resolved").wait_for(
        timeout=30000
    )

    assert listed_at_load == 0
    assert page.evaluate("window.notReloaded") is True
    assert page.get_by_test_id("feed-mode").inner_text() == "refreshes every 5 s"
    assert "fresh" not in (headline.get_attribute("class") or "")  # a polled, server-made row
    assert "fresh" in (alert.get_attribute("class") or "")  # put there by dashboard.js
    assert resolved == 200
    assert alert.get_by_role("button").count() == 0  # resolved elsewhere: no buttons left
    page.close()
