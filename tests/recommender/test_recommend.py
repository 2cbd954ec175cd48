"""What shoppers get: personalised lists with reasons, cold start, rules, cache refresh."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.recommender import selectors, services
from apps.recommender.models import Item
from tests.recommender.factories import ItemFactory

from .helpers import record

pytestmark = pytest.mark.django_db


def _ids(result):
    return [i.id for i in result.items]


def test_a_new_item_reaches_interested_shoppers_through_its_text(catalog):
    shopper = services.Shopper(visitor_id="camper")
    for n, sku in enumerate(["TENT-1", "TENT-2", "BAG-1"]):
        record(shopper, "view", catalog[sku], n)
    new = ItemFactory(
        sku="TENT-NEW",
        title="Storm tent for camping",
        category="Outdoor",
        description="A tent camping shelter with a rain fly.",
        price=Decimal("199"),
        stock=3,
    )
    services.items_embed(item_ids=[new.pk])

    result = selectors.recommendations_get(shopper=shopper, n=5)

    assert new.pk in _ids(result)
    entry = next(i for i in result.items if i.id == new.pk)
    assert entry.source == "text" and "Because you viewed" in entry.reason


def test_a_new_shopper_gets_trending_items(catalog):
    for n in range(6):
        record(services.Shopper(visitor_id=f"crowd{n}"), "purchase", catalog["GRIND-1"], n)
    record(services.Shopper(visitor_id="crowd0"), "view", catalog["BOOK-2"], 99)

    result = selectors.recommendations_get(shopper=services.Shopper(visitor_id="brand-new"), n=3)

    assert result.items[0].id == catalog["GRIND-1"].pk
    assert result.items[0].reason == "Trending now"


def test_a_new_shopper_on_an_item_page_gets_similar_items(catalog):
    result = selectors.recommendations_get(
        shopper=services.Shopper(visitor_id="first-visit"),
        context=f"item:{catalog['KNIFE-1'].pk}",
        n=3,
        strategy="text",
        only_context=True,
    )

    assert catalog["KNIFE-1"].pk not in _ids(result)
    assert catalog["BOARD-1"].pk in _ids(result)
    assert all(i.category == "Kitchen" for i in result.items)


def test_out_of_stock_items_are_never_recommended(catalog):
    shopper = services.Shopper(visitor_id="camper")
    record(shopper, "view", catalog["TENT-1"], 1)
    Item.objects.filter(pk=catalog["TENT-2"].pk).update(stock=0)
    services.catalog_changed()

    result = selectors.recommendations_get(shopper=shopper, n=11)

    assert catalog["TENT-2"].pk not in _ids(result)
    assert len(result.items) == 10  # everything else still on offer


def test_bought_items_are_excluded_unless_the_merchandiser_allows_them(catalog):
    shopper = services.Shopper(visitor_id="buyer")
    record(shopper, "purchase", catalog["PAN-1"], 1)
    record(shopper, "view", catalog["KNIFE-1"], 2)

    before = selectors.recommendations_get(
        shopper=shopper, context="cart", n=12, cart=[catalog["BOARD-1"].pk]
    )
    services.settings_update(values={"exclude_purchased": False})
    after = selectors.recommendations_get(shopper=shopper, context="home", n=12)

    assert catalog["PAN-1"].pk not in _ids(before)
    assert catalog["BOARD-1"].pk not in _ids(before)  # already in the cart
    assert catalog["PAN-1"].pk in _ids(after)


def test_lists_are_cached_and_refreshed_by_new_events(catalog):
    shopper = services.Shopper(visitor_id="reader")
    first = selectors.recommendations_get(shopper=shopper, n=4)
    again = selectors.recommendations_get(shopper=shopper, n=4)
    record(shopper, "view", catalog["BOOK-1"], 1)

    fresh = selectors.recommendations_get(shopper=shopper, n=4)

    assert not first.cached and again.cached
    assert not fresh.cached
    assert catalog["BOOK-2"].pk in _ids(fresh)  # the other novel, by its text


def test_a_boost_lifts_an_item(catalog):
    shopper = services.Shopper(visitor_id="boosted")
    record(shopper, "view", catalog["KNIFE-1"], 1)
    Item.objects.filter(pk=catalog["BOOK-1"].pk).update(boost=50.0)
    services.catalog_changed()

    result = selectors.recommendations_get(shopper=shopper, n=3)

    assert result.items[0].id == catalog["BOOK-1"].pk
