"""Serving around the ranking: category and price filters on every list, and items a shopper
keeps ignoring suppressed until they engage with them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import QueryDict
from rest_framework.test import APIClient

from apps.recommender import selectors, services
from apps.recommender.models import Item

from .helpers import record

pytestmark = pytest.mark.django_db


def _ids(result):
    return [i.id for i in result.items]


def _prices(catalog):
    for n, item in enumerate(catalog.values()):
        Item.objects.filter(pk=item.pk).update(price=Decimal(10 * (n + 1)))
    services.catalog_changed()


def test_filters_keep_every_list_within_category_and_price(catalog):
    _prices(catalog)
    shopper = services.Shopper(visitor_id="filterer")
    record(shopper, "view", catalog["TENT-1"], 1)
    filters = selectors.filters_parse(
        QueryDict("category=Kitchen,Books&min_price=65&max_price=110")
    )

    for_you = selectors.recommendations_get(shopper=shopper, n=10, filters=filters)
    similar = selectors.recommendations_get(
        shopper=shopper,
        context=f"item:{catalog['KNIFE-1'].pk}",
        n=10,
        rail="similar",
        strategy="text",
        only_context=True,
        filters=filters,
    )

    for result in (for_you, similar):
        assert result.items
        for entry in result.items:
            assert entry.category in {"Kitchen", "Books"}
            assert Decimal("65") <= Decimal(entry.price) <= Decimal("110")


def test_the_api_filters_and_refuses_bad_filters_with_400(catalog):
    _prices(catalog)
    client = APIClient()

    ok = client.get("/api/recommendations", {"user": "v1", "category": "Books", "n": 5})
    bad_price = client.get("/api/recommendations", {"user": "v1", "min_price": "cheap"})
    negative = client.get("/api/recommendations", {"user": "v1", "max_price": "-3"})
    crossed = client.get("/api/recommendations", {"min_price": "80", "max_price": "20"})
    unknown = client.get("/api/recommendations", {"category": "Spaceships"})

    assert ok.status_code == 200
    assert {i["category"] for i in ok.json()["items"]} == {"Books"}
    assert bad_price.status_code == 400 and "min_price" in bad_price.json()
    assert negative.status_code == 400 and "max_price" in negative.json()
    assert crossed.status_code == 400 and "below min_price" in crossed.json()["max_price"][0]
    assert unknown.status_code == 400 and "Spaceships" in unknown.json()["category"][0]


def test_storefront_rails_follow_the_price_filter_and_explain_a_bad_one(catalog, client):
    _prices(catalog)

    page = client.get("/shop/", {"max_price": "30"})
    bad = client.get("/shop/", {"max_price": "lots"})

    assert page.status_code == 200
    rails = page.context["rails"]
    assert rails and all(Decimal(i.price) <= 30 for r in rails for i in r.items)
    assert bad.status_code == 400
    assert "max_price must be a number" in bad.content.decode()


def test_an_item_shown_n_times_without_a_click_is_suppressed_until_a_click(catalog, settings):
    settings.RECOMMENDER_SUPPRESS_AFTER = 3
    shopper = services.Shopper(visitor_id="ignorer")
    for n in range(6):
        record(services.Shopper(visitor_id=f"crowd{n}"), "purchase", catalog["GRIND-1"], n)
    first = selectors.recommendations_get(shopper=shopper, n=3)
    top = first.items[0].id
    for n in range(2):
        record(shopper, "impression", Item.objects.get(pk=top), f"imp{n}", source="tracker")
    still = selectors.recommendations_get(shopper=shopper, n=3)
    record(shopper, "impression", Item.objects.get(pk=top), "imp2", source="tracker")

    gone = selectors.recommendations_get(shopper=shopper, n=3)
    record(shopper, "click", Item.objects.get(pk=top), "click", source="tracker")
    back = selectors.suppressed_ids(shopper=shopper)

    assert top == catalog["GRIND-1"].pk
    assert top in _ids(still)
    assert top not in _ids(gone) and len(gone.items) == 3
    assert top not in back


def test_suppression_can_be_switched_off(catalog, settings):
    settings.RECOMMENDER_SUPPRESS_AFTER = 0
    shopper = services.Shopper(visitor_id="patient")
    for n in range(5):
        record(shopper, "impression", catalog["BOOK-1"], f"i{n}", source="tracker")

    assert selectors.suppressed_ids(shopper=shopper) == frozenset()
