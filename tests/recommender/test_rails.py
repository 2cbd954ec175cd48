"""Rails that differ: bought together from co-purchases and complementary categories (never a
substitute), no item on two rails of one page, and labels true to each rail's source."""

from __future__ import annotations

import pytest

from apps.recommender import selectors, services

from .helpers import record

pytestmark = pytest.mark.django_db


def _buy(catalog, who, *skus):
    shopper = services.Shopper(visitor_id=who)
    for n, sku in enumerate(skus):
        record(shopper, "purchase", catalog[sku], f"{who}-{n}")


def _together(catalog, sku, shopper="browser"):
    return selectors.recommendations_get(
        shopper=services.Shopper(visitor_id=shopper),
        context=f"item:{catalog[sku].pk}",
        n=6,
        rail="together",
        only_context=True,
    )


def test_bought_together_comes_from_co_purchases_of_other_categories(catalog):
    _buy(catalog, "a", "TENT-1", "PAN-1", "TENT-2", "BOOK-1")
    _buy(catalog, "b", "TENT-1", "PAN-1")
    _buy(catalog, "c", "TENT-1", "BAG-1")

    result = _together(catalog, "TENT-1")

    ids = [i.id for i in result.items]
    assert result.label == "Often bought together"
    assert ids[0] == catalog["PAN-1"].pk  # two shoppers bought both
    assert catalog["BOOK-1"].pk in ids
    assert all(i.category != "Outdoor" for i in result.items)  # no second tent, no sleeping bag
    first = result.items[0]
    assert first.source == "co-purchase"
    assert first.reason == f"Often bought with {catalog['TENT-1'].title}"


def test_without_co_purchases_it_goes_well_with_complementary_categories(catalog):
    # Nobody bought the knife with anything, but Kitchen buyers also buy Books.
    _buy(catalog, "reader", "PAN-1", "BOOK-2")
    _buy(catalog, "cook", "KNIFE-1")

    result = _together(catalog, "KNIFE-1")

    assert result.label == "Goes well with"
    assert result.items and {i.category for i in result.items} == {"Books"}
    assert all(i.source == "complementary" for i in result.items)
    assert result.items[0].reason == f"Goes well with {catalog['KNIFE-1'].title}"


def test_without_any_purchase_data_the_rail_stays_empty_rather_than_guess(catalog):
    result = _together(catalog, "LAMP-1")

    assert result.items == []


def test_rails_on_an_item_page_never_repeat_an_item(catalog):
    _buy(catalog, "a", "TENT-1", "PAN-1", "KNIFE-1", "BOOK-1")
    _buy(catalog, "b", "TENT-1", "BOARD-1")
    shopper = services.Shopper(visitor_id="looker")
    record(shopper, "view", catalog["BAG-1"], 1)

    rails = selectors.item_rails(shopper=shopper, item_id=catalog["TENT-1"].pk, n=3)

    names = [r.rail for r in rails]
    shown = [i.id for r in rails for i in r.items]
    assert names == ["together", "similar", "for_you"]
    assert all(r.items for r in rails)
    assert len(shown) == len(set(shown))
    assert catalog["TENT-1"].pk not in shown
    assert all(i.source == "text" for i in rails[1].items)  # similar means similar


def test_the_home_page_shows_one_trending_rail_to_a_shopper_with_no_history(catalog):
    _buy(catalog, "crowd", "GRIND-1", "PAN-1")

    rails = selectors.home_rails(shopper=services.Shopper(visitor_id="new"))

    assert [r.rail for r in rails] == ["trending"]
    assert rails[0].label == "Trending now"


def test_a_shopper_with_history_gets_a_personal_rail_labelled_as_such(catalog):
    _buy(catalog, "crowd", "GRIND-1", "PAN-1")
    shopper = services.Shopper(visitor_id="camper")
    record(shopper, "view", catalog["TENT-1"], 1)

    rails = selectors.home_rails(shopper=shopper)

    assert [r.rail for r in rails] == ["for_you", "trending"]
    assert rails[0].label == "Recommended for you"
    assert any(i.reason.startswith("Because you viewed") for i in rails[0].items)
    shown = [i.id for r in rails for i in r.items]
    assert len(shown) == len(set(shown))


def test_the_item_page_labels_its_rails_by_source(catalog, client):
    _buy(catalog, "a", "TENT-1", "PAN-1")

    html = client.get(f"/shop/item/{catalog['TENT-1'].pk}/").content.decode()

    assert "Often bought together" in html and "Similar items" in html
    assert 'data-rec-source="co-purchase"' in html
    assert f"Often bought with {catalog['TENT-1'].title}" in html


@pytest.mark.slow
def test_demo_shop_item_page_rails_with_the_real_embedder(
    embedder, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.recommender.demo import demo_load
    from apps.recommender.models import Item

    monkeypatch.setattr("apps.mlops.vectors.texts_embed", lambda texts: embedder.embed(list(texts)))
    with django_capture_on_commit_callbacks(execute=True):
        demo_load(log=lambda _m: None, train=False)
    tent = Item.objects.get(sku="TH-0000")

    together, similar, for_you = selectors.item_rails(
        shopper=services.Shopper(visitor_id="real"), item_id=tent.pk
    )

    shown = [i.id for r in (together, similar, for_you) for i in r.items]
    assert together.label == "Often bought together"
    assert together.items and all(i.category != tent.category for i in together.items)
    assert len(similar.items) >= 3 and all(i.source == "text" for i in similar.items)
    assert len(shown) == len(set(shown)) and tent.pk not in shown


def test_the_api_serves_each_rail_with_its_label(catalog):
    from rest_framework.test import APIClient

    _buy(catalog, "a", "TENT-1", "PAN-1")
    services.pin_set(item_id=catalog["TENT-2"].pk, rail="together", position=1)
    api = APIClient()
    tent = f"item:{catalog['TENT-1'].pk}"

    together = api.get("/api/recommendations", {"rail": "together", "context": tent}).json()
    similar = api.get("/api/recommendations", {"rail": "similar", "context": tent}).json()
    no_item = api.get("/api/recommendations", {"rail": "together"})
    bad_rail = api.get("/api/recommendations", {"rail": "sideways"})

    assert (together["rail"], together["label"]) == ("together", "Often bought together")
    ids = [i["id"] for i in together["items"]]
    assert ids[0] == catalog["PAN-1"].pk and together["items"][0]["placement"] == ""
    assert catalog["TENT-2"].pk not in ids  # a pinned tent beside a tent: refused
    assert {i["category"] for i in together["items"]} == {"Kitchen"}
    assert similar["label"] == "Similar items" and similar["items"]
    assert no_item.status_code == 400 and "item:<id>" in no_item.json()["context"][0]
    assert bad_rail.status_code == 400 and "rail" in bad_rail.json()
