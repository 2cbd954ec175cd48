"""Checkout for a signed-in shopper in a real browser (daphne, PostgreSQL, Chromium): views the
tracker sends after sign-in join the account, and a checkout keeps the line it could not sell in
the cart.

No worker and no model: the pages run on trending and the rows the setup made.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.conftest import Stack, db_query, sign_in

pytestmark = [pytest.mark.integration]

SETUP = """
from decimal import Decimal
from apps.accounts.services import user_create
from apps.recommender.models import Item
user = user_create(username="audit4-shopper", password="audit4-shopper-pw", roles=[])
ids = []
for sku, title, stock in (("A4-LAMP", "Audit lantern", 1), ("A4-MUG", "Audit enamel mug", 5)):
    item, _ = Item.objects.update_or_create(
        sku=sku,
        defaults=dict(title=title, category="Outdoor", price=Decimal("9.50"), stock=stock,
                      description="A test item."),
    )
    ids.append(item.pk)
print("setup", user.pk, *ids)
"""


def test_a_signed_in_shopper_s_views_and_cart_survive(running: Stack, chromium: Any) -> None:
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "setup" in setup.stdout, setup.stdout + setup.stderr
    user_id, lamp, mug = (int(v) for v in setup.stdout.split("setup")[-1].split())
    base = running.start_web()
    page = chromium.new_page()
    # No shop cookie before signing in.
    sign_in(page, base, "audit4-shopper", "audit4-shopper-pw", "/shop/")
    page.wait_for_url("**/shop/", timeout=30_000)

    page.goto(f"{base}/shop/item/{lamp}/")
    views: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not views:
        views = db_query(
            running.database_url,
            "SELECT user_id FROM recommender_event WHERE item_id = %s AND kind = 'view'",
            lamp,
        )
        time.sleep(0.3)
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/shop/cart/", timeout=30_000)
    page.goto(f"{base}/shop/item/{mug}/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/shop/cart/", timeout=30_000)
    db_query(running.database_url, "UPDATE recommender_item SET stock = 0 WHERE id = %s", lamp)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    bought = db_query(
        running.database_url,
        "SELECT item_id, user_id FROM recommender_event WHERE kind = 'purchase' "
        "AND item_id IN (%s, %s)",
        lamp,
        mug,
    )

    assert views == [(user_id,)]
    assert "stays in your cart" in page.content()
    assert page.locator("table a", has_text="Audit lantern").count() == 1
    assert page.locator("table a", has_text="Audit enamel mug").count() == 0
    assert bought == [(mug, user_id)]
    page.close()
