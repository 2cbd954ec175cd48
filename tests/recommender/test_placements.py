"""Merchandising after ranking: pins hold an item at a rail position, boosts lift an item until
they expire; both respect the shopper's filters; managed from the page and the API; the
manage page shows every item's reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.http import QueryDict
from django.utils import timezone

from apps.recommender import selectors, services
from apps.recommender.models import Boost, Item, Pin

from .helpers import api_as, record

pytestmark = pytest.mark.django_db


def _ids(result):
    return [i.id for i in result.items]


@pytest.fixture
def crowd(catalog):
    """A clear trending order: GRIND-1, PAN-1, KETTLE-1, BOOK-1, then the rest."""
    for rank, sku in enumerate(["GRIND-1", "PAN-1", "KETTLE-1", "BOOK-1"]):
        for n in range(8 - 2 * rank):
            record(services.Shopper(visitor_id=f"c{sku}{n}"), "purchase", catalog[sku], n)
    return catalog


def test_a_pin_takes_its_position_and_respects_filters(crowd):
    shopper = services.Shopper(visitor_id="viewer")
    services.pin_set(item_id=crowd["LAMP-1"].pk, rail="trending", position=2)

    pinned = selectors.recommendations_get(
        shopper=shopper, n=4, rail="trending", strategy="popular"
    )
    kitchen = selectors.recommendations_get(
        shopper=shopper,
        n=4,
        rail="trending",
        strategy="popular",
        filters=selectors.filters_parse(QueryDict("category=Kitchen")),
    )
    other_rail = selectors.recommendations_get(shopper=shopper, n=4)

    assert _ids(pinned)[:3] == [crowd["GRIND-1"].pk, crowd["LAMP-1"].pk, crowd["PAN-1"].pk]
    entry = pinned.items[1]
    assert (entry.placement, entry.source, entry.reason) == (
        "pinned",
        "pinned",
        "Featured by the shop",
    )
    assert len(pinned.items) == 4
    assert crowd["LAMP-1"].pk not in _ids(kitchen)  # an Outdoor item stays out of a Kitchen list
    assert crowd["LAMP-1"].pk not in _ids(other_rail)


def test_a_boost_lifts_an_item_until_it_expires(crowd):
    shopper = services.Shopper(visitor_id="viewer")
    before = _ids(
        selectors.recommendations_get(shopper=shopper, n=4, rail="trending", strategy="popular")
    )
    boost = services.boost_set(item_id=crowd["BOOK-1"].pk, factor=5, days=1)

    boosted = selectors.recommendations_get(
        shopper=shopper, n=4, rail="trending", strategy="popular"
    )
    Boost.objects.filter(pk=boost.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = _ids(
        selectors.recommendations_get(shopper=shopper, n=4, rail="trending", strategy="popular")
    )

    assert before.index(crowd["BOOK-1"].pk) == 3
    assert _ids(boosted)[0] == crowd["BOOK-1"].pk  # rank 4 / 5 = 0.8, ahead of rank 1
    assert boosted.items[0].placement == "boosted x5"
    assert expired == before


def test_a_boosted_item_outside_the_price_filter_stays_out(crowd):
    Item.objects.filter(pk=crowd["BOOK-1"].pk).update(price=Decimal("500"))
    services.catalog_changed()
    services.boost_set(item_id=crowd["BOOK-1"].pk, factor=10, days=1)

    result = selectors.recommendations_get(
        shopper=services.Shopper(visitor_id="v"),
        n=6,
        filters=selectors.filters_parse(QueryDict("max_price=100")),
    )

    assert result.items and crowd["BOOK-1"].pk not in _ids(result)


def test_bad_pins_and_boosts_are_refused_and_store_nothing(crowd):
    with pytest.raises(services.PlacementError) as pin:
        services.pin_set(item_id=999999, rail="sideways", position=0)
    with pytest.raises(services.PlacementError) as boost:
        services.boost_set(item_id=crowd["PAN-1"].pk, factor="inf", days=-1)

    assert set(pin.value.errors) == {"item", "rail", "position"}
    assert set(boost.value.errors) == {"factor", "days"}
    assert not Pin.objects.exists() and not Boost.objects.exists()


def test_the_api_manages_pins_and_boosts_for_merchandisers_only(crowd, merchandiser, client):
    api = api_as(merchandiser)

    pin = api.post(
        "/api/recommender/pins", {"item": crowd["PAN-1"].pk, "rail": "similar", "position": 1}
    )
    bad = api.post(
        "/api/recommender/pins", {"item": crowd["PAN-1"].pk, "rail": "similar", "position": 99}
    )
    boost = api.post("/api/recommender/boosts", {"item": crowd["PAN-1"].pk, "factor": 2, "days": 3})
    no_end = api.post("/api/recommender/boosts", {"item": crowd["PAN-1"].pk, "factor": 2})
    listed = api.get("/api/recommender/boosts").json()
    anonymous = client.post(
        "/api/recommender/pins", {"item": crowd["PAN-1"].pk, "rail": "trending", "position": 1}
    )
    removed = api.delete(f"/api/recommender/pins/{pin.json()['id']}")
    again = api.delete(f"/api/recommender/pins/{pin.json()['id']}")

    assert pin.status_code == 201 and pin.json()["rail"] == "similar"
    assert bad.status_code == 400 and "position" in bad.json()
    assert boost.status_code == 201 and [b["factor"] for b in listed] == [2.0]
    assert no_end.status_code == 400
    assert anonymous.status_code in (401, 403)
    assert removed.status_code == 204 and again.status_code == 404
    assert not Pin.objects.exists()


def test_the_manage_page_pins_by_sku_and_shows_reasons(crowd, merchandiser, client):
    client.force_login(merchandiser)
    shopper = services.Shopper(visitor_id="seen")
    record(shopper, "view", crowd["TENT-1"], 1)

    client.post(
        "/shop/manage/placements/",
        {"action": "pin", "item": "LAMP-1", "rail": "for_you", "position": "1"},
    )
    refused = client.post(
        "/shop/manage/placements/",
        {"action": "boost", "item": "LAMP-1", "factor": "0", "days": "2"},
        follow=True,
    )
    page = client.get("/shop/manage/placements/", {"shopper": "seen"}).content.decode()

    assert Pin.objects.get().item_id == crowd["LAMP-1"].pk
    assert "Not saved: factor" in refused.content.decode()
    assert "Featured by the shop" in page and ">pinned<" in page
    assert "Because you viewed" in page
    assert "Recommended for you" in page
