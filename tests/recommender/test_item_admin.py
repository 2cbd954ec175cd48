"""The item admin: its form checks fields like the API, and a deleted item leaves the index
and the recommendation lists."""

from __future__ import annotations

import json

import pytest

from apps.recommender import selectors, services
from apps.recommender.models import Item

pytestmark = pytest.mark.django_db


def test_bad_tags_in_the_item_admin_are_a_field_error(catalog, admin_client):
    tent = catalog["TENT-1"]
    data = {
        "sku": tent.sku,
        "title": tent.title,
        "description": tent.description,
        "tags": json.dumps({"not": "a list"}),
        "category": tent.category,
        "price": "50.00",
        "stock": "10",
        "image_url": "",
        "active": "on",
        "boost": "0",
    }

    response = admin_client.post(f"/admin/recommender/item/{tent.pk}/change/", data)

    assert response.status_code == 200
    assert "tags" in response.context["adminform"].form.errors
    assert Item.objects.get(pk=tent.pk).tags == tent.tags


def test_an_item_deleted_in_the_admin_leaves_the_index_and_the_lists(
    catalog, admin_client, django_capture_on_commit_callbacks
):
    from apps.mlops.vectors import named_index

    tent = catalog["TENT-2"]
    shopper = services.Shopper(visitor_id="v-del")
    services.events_record(
        shopper=shopper, events=[{"event_id": "d1", "kind": "view", "item": "TENT-1"}]
    )
    before = selectors.recommendations_get(shopper=shopper, n=3)
    assert tent.pk in [i.id for i in before.items]

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/recommender/item/{tent.pk}/delete/", {"post": "yes"}, follow=True
        )

    after = selectors.recommendations_get(shopper=shopper, n=3)
    assert not Item.objects.filter(pk=tent.pk).exists()
    assert tent.pk not in named_index("recommender-items").current()
    assert tent.pk not in [i.id for i in after.items]
