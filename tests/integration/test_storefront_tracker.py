"""The storefront tracker in a real browser (daphne, PostgreSQL, Chromium) when sending fails:
a failed batch is retried with its own event ids and stored once, a refused one is not resent,
the queue is bounded, and events a lost beacon carried are resent by the next page.

No worker and no model: the pages run on trending and the rows the setup made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.conftest import Stack, db_query

pytestmark = [pytest.mark.integration]

BATCH_URL = "**/api/events/batch"
SETUP = """
from decimal import Decimal
from apps.recommender.models import Item
ids = []
for sku, title in (("A5-LAMP", "Audit5 lantern"), ("A5-MUG", "Audit5 mug")):
    item, _ = Item.objects.update_or_create(
        sku=sku,
        defaults=dict(title=title, category="Outdoor", price=Decimal("9.50"), stock=5,
                      description="A test item."),
    )
    ids.append(item.pk)
print("setup", *ids)
"""


def _setup(running: Stack) -> tuple[int, int]:
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "setup" in setup.stdout, setup.stdout + setup.stderr
    lamp, mug = (int(v) for v in setup.stdout.split("setup")[-1].split())
    return lamp, mug


def _wait(page: Any, done: Callable[[], bool], seconds: float = 30) -> None:
    # page.wait_for_timeout, not time.sleep: route handlers run only inside Playwright calls.
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        page.wait_for_timeout(200)


def _visitor(page: Any) -> str:
    return str(next(c["value"] for c in page.context.cookies() if c["name"] == "tsv"))


def _ids(body: dict[str, Any]) -> list[str]:
    return [e["event_id"] for e in body["events"]]


def test_a_failed_batch_is_retried_and_stored_once(running: Stack, chromium: Any) -> None:
    lamp, _ = _setup(running)
    base = running.start_web()
    page = chromium.new_page()
    bodies: list[dict[str, Any]] = []

    def flaky(route: Any) -> None:
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.abort("connectionrefused")  # the network is down
        elif len(bodies) == 2:
            route.fetch()  # stored by the server, but the answer never reaches the browser
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route(BATCH_URL, flaky)
    page.goto(f"{base}/shop/item/{lamp}/")

    def views() -> list[tuple[Any, ...]]:
        return db_query(
            running.database_url,
            "SELECT event_id FROM recommender_event WHERE item_id = %s AND kind = 'view' "
            "AND visitor_id = %s",
            lamp,
            _visitor(page),
        )

    _wait(page, lambda: len(bodies) >= 3)
    page.wait_for_timeout(500)  # the third answer is in
    stored = views()

    refused: list[dict[str, Any]] = []

    def invalid(route: Any) -> None:
        refused.append(json.loads(route.request.post_data))
        route.fulfill(status=400, content_type="application/json", body='{"events": ["bad"]}')

    page.unroute(BATCH_URL)
    page.route(BATCH_URL, invalid)
    page.evaluate(
        f"window.textsuiteTracker.track('share', {lamp}); window.textsuiteTracker.flush()"
    )
    page.wait_for_timeout(3500)  # a retry would come after about a second

    assert len(bodies) == 3
    assert _ids(bodies[0]) == _ids(bodies[1]) == _ids(bodies[2])
    assert len(stored) == 1 and stored[0][0] in _ids(bodies[0])
    assert len(refused) == 1 and [e["kind"] for e in refused[0]["events"]] == ["share"]
    page.close()


def test_the_queue_keeps_the_newest_events_while_sending_fails(
    running: Stack, chromium: Any
) -> None:
    lamp, _ = _setup(running)
    base = running.start_web()
    page = chromium.new_page()
    state = {"failing": True, "failed": 0}

    def outage(route: Any) -> None:
        if state["failing"]:
            state["failed"] += 1
            route.fulfill(status=503, body="down")
        else:
            route.continue_()

    page.route(BATCH_URL, outage)
    page.goto(f"{base}/shop/item/{lamp}/")
    page.evaluate(
        f"for (let i = 0; i < 1500; i++) "
        f"window.textsuiteTracker.track('impression', {lamp}, {{context: 'bulk-' + i}})"
    )
    _wait(page, lambda: state["failed"] >= 2)
    state["failing"] = False

    def bulk() -> set[str]:
        rows = db_query(
            running.database_url,
            "SELECT context FROM recommender_event WHERE context LIKE 'bulk-%%' "
            "AND visitor_id = %s",
            _visitor(page),
        )
        return {r[0] for r in rows}

    _wait(page, lambda: len(bulk()) >= 1000)
    page.wait_for_timeout(1500)  # nothing more arrives

    assert state["failed"] >= 2
    assert bulk() == {f"bulk-{i}" for i in range(500, 1500)}
    page.close()


def test_events_of_a_lost_beacon_are_sent_by_the_next_page(running: Stack, chromium: Any) -> None:
    lamp, mug = _setup(running)
    base = running.start_web()
    context = chromium.new_context()
    # The beacon at page exit is "queued" but never arrives (as when the server is down).
    context.add_init_script("navigator.sendBeacon = function () { return true; };")
    page = context.new_page()
    state = {"failing": True, "calls": 0}

    def outage(route: Any) -> None:
        state["calls"] += 1
        if state["failing"]:
            route.fulfill(status=502, body="bad gateway")
        else:
            route.continue_()

    page.route(BATCH_URL, outage)
    page.goto(f"{base}/shop/item/{lamp}/")
    _wait(page, lambda: state["calls"] >= 1)
    page.goto(f"{base}/shop/item/{mug}/")  # leaves the lamp's page while sending fails
    state["failing"] = False

    def views(item: int) -> int:
        rows = db_query(
            running.database_url,
            "SELECT count(*) FROM recommender_event WHERE item_id = %s AND kind = 'view' "
            "AND visitor_id = %s",
            item,
            _visitor(page),
        )
        return int(rows[0][0])

    _wait(page, lambda: views(lamp) >= 1 and views(mug) >= 1)
    page.wait_for_timeout(1500)

    assert (views(lamp), views(mug)) == (1, 1)
    context.close()
