"""A shopper in a real browser: the storefront shows recommendations from the trained model,
and a click on one reaches the database through the tracker (PostgreSQL, daphne, Chromium)."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _click_events(database_url: str, item_id: int) -> list[tuple[str, bool]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT kind, from_recommendation FROM recommender_event "
            "WHERE item_id = %s AND kind = 'click' AND visitor_id NOT LIKE 'demo-%%'",
            (item_id,),
        ).fetchall()


def test_storefront_shows_recommendations_and_records_a_click(running, chromium):
    setup = running.manage("demo_setup", "--only", "recommender", timeout=600)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    # The demo trained the ranker (its line gives the held-out NDCG and the promotion).
    assert "ranker: ndcg@10=" in setup.stdout, setup.stdout
    base = running.start_web()
    page = chromium.new_page()

    page.goto(f"{base}/shop/")
    trending = page.locator('[data-rec-list="trending"] [data-rec-item]')
    trending.first.wait_for(timeout=30_000)
    count = trending.count()
    first = trending.first
    item_id = int(first.get_attribute("data-rec-item"))
    reason = first.locator(".reason").inner_text()
    first.click()
    page.wait_for_url(f"**/shop/item/{item_id}/", timeout=30_000)
    similar = page.locator('[data-rec-list="similar"] [data-rec-item]')
    similar.first.wait_for(timeout=30_000)

    clicks: list[tuple[str, bool]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not clicks:
        clicks = _click_events(running.database_url, item_id)
        time.sleep(0.3)

    assert count >= 4
    assert reason in ("Trending now", "New arrival")
    assert similar.count() >= 3
    assert clicks and clicks[0] == ("click", True)
    # The item page's own view reached the API too, under the same visitor.
    import httpx

    visitor = next(c["value"] for c in page.context.cookies() if c["name"] == "tsv")
    recs = httpx.get(f"{base}/api/recommendations", params={"user": visitor, "n": 5}).json()
    assert recs["model_version"] == 1
    assert item_id not in [i["id"] for i in recs["items"]]
    page.close()
