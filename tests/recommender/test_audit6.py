"""Audit of the recommender (6), from API fuzzing on PostgreSQL: item id 0, the experiment
report's schema, and account ids longer than any key."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.recommender import services
from apps.recommender.models import Item

pytestmark = pytest.mark.django_db

NEW_ITEM = {"sku": "NEW-1", "title": "New lamp", "category": "Outdoor", "price": "12.00"}


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("path", ["/api/items/0", "/api/items/00"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_changing_item_0_is_a_404_and_creates_nothing(catalog, merchandiser, path, method):
    before = Item.objects.count()

    response = getattr(_api(merchandiser), method)(path, NEW_ITEM, format="json")

    assert response.status_code == 404
    assert Item.objects.count() == before and not Item.objects.filter(sku="NEW-1").exists()


def test_the_report_is_documented_as_the_plain_list_it_is(catalog, merchandiser):
    experiment = services.experiment_create(
        name="Report shape", variants=[{"name": "A"}, {"name": "B", "strategy": "popular"}]
    )
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/experiments/{id}/report"]["get"]
    documented = operation["responses"]["200"]["content"]["application/json"]["schema"]

    body = _api(merchandiser).get(f"/api/experiments/{experiment.pk}/report").json()

    assert documented["type"] == "array" and isinstance(body, list)
    assert [row["name"] for row in body] == ["A", "B"]


def test_a_merchandiser_naming_an_account_id_longer_than_any_key_gets_a_400(catalog, merchandiser):
    response = _api(merchandiser).get("/api/recommendations", {"user": "9" * 23})

    assert response.status_code == 400 and "no account has id" in str(response.data["user"])


def test_a_shopper_naming_someone_else_s_long_id_is_still_refused(catalog, django_user_model):
    shopper = django_user_model.objects.create_user("shopper", password="pw-123456")

    response = _api(shopper).get("/api/recommendations", {"user": "9" * 23})

    assert response.status_code == 403
