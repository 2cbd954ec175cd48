"""Recommender settings: the admin, the API and the manage page check them alike, a refused
form shows what was typed, and saved settings reach lists already cached."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.recommender import selectors, services
from apps.recommender.models import RecommenderSettings

from .helpers import api_as

pytestmark = pytest.mark.django_db
SETTINGS_URL = "/admin/recommender/recommendersettings/1/change/"


def _settings_post(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "feedback_weights": json.dumps({"purchase": 5}),
        "exclude_purchased": "on",
        "diversity": "0.2",
        "category_cap": "0",
        "trending_half_life_days": "3",
        "default_strategy": "ranker",
        "embedding_model": "minilm",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("diversity", "5"),
        ("category_cap", "-1"),
        ("category_cap", "51"),
        ("trending_half_life_days", "0"),
        ("trending_half_life_days", "10000000000"),
        ("feedback_weights", json.dumps({"purchase": -1})),
        ("feedback_weights", json.dumps({"wishlist": 2})),
        ("feedback_weights", json.dumps({"view": 1e300})),
        ("feedback_weights", json.dumps(["view"])),
        ("default_strategy", "magic"),
        ("embedding_model", "word2vec"),
    ],
)
def test_the_admin_refuses_bad_settings_next_to_the_field(admin_client, field, value):
    before = selectors.settings_get()
    before_values = {name: getattr(before, name) for name in services.SETTINGS_FIELDS}

    response = admin_client.post(SETTINGS_URL, _settings_post(**{field: value}))

    assert response.status_code == 200  # the form again, not a redirect to the list
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    after = RecommenderSettings.objects.get(pk=1)
    assert {name: getattr(after, name) for name in services.SETTINGS_FIELDS} == before_values


def test_the_admin_and_the_api_give_the_same_message(admin_client, merchandiser):
    selectors.settings_get()

    page = admin_client.post(SETTINGS_URL, _settings_post(diversity="1.5"))
    api = api_as(merchandiser).patch("/api/recommender/settings", {"diversity": 1.5}, format="json")

    assert api.status_code == 400
    assert api.json() == {"diversity": page.context["adminform"].form.errors["diversity"]}


def test_settings_saved_in_the_admin_reach_cached_lists(catalog, admin_client):
    shopper = services.Shopper(visitor_id="cap-visitor")
    before = selectors.recommendations_get(shopper=shopper, n=8)
    selectors.recommendations_get(shopper=shopper, n=8)  # cached now

    response = admin_client.post(SETTINGS_URL, _settings_post(category_cap="1"))
    after = selectors.recommendations_get(shopper=shopper, n=8)

    assert response.status_code == 302
    assert RecommenderSettings.objects.get(pk=1).category_cap == 1
    categories = [i.category for i in after.items]
    assert len([i.category for i in before.items]) > len(set(categories))
    assert len(categories) == len(set(categories))  # one per category, as just set


def test_the_admin_keeps_one_settings_row(admin_client):
    selectors.settings_get()

    add = admin_client.get("/admin/recommender/recommendersettings/add/")
    delete = admin_client.post("/admin/recommender/recommendersettings/1/delete/", {"post": "yes"})

    assert add.status_code == 403 and delete.status_code == 403
    assert RecommenderSettings.objects.count() == 1


def test_a_half_life_too_long_for_a_date_is_a_400_and_the_shop_keeps_working(
    catalog, merchandiser, client
):
    response = api_as(merchandiser).patch(
        "/api/recommender/settings", {"trending_half_life_days": 1e10}, format="json"
    )

    assert response.status_code == 400 and list(response.json()) == ["trending_half_life_days"]
    assert client.get("/api/recommendations").status_code == 200


def test_the_manage_page_refuses_a_negative_category_cap_with_a_message(
    catalog, client, merchandiser
):
    client.force_login(merchandiser)

    response = client.post(
        "/shop/manage/",
        {"action": "settings", "category_cap": "-1", "diversity": "0.2", "half_life": "3"},
    )

    assert response.status_code == 200
    assert "the category cap must be a whole number from 0" in response.content.decode()
    assert RecommenderSettings.objects.get(pk=1).category_cap == 0


def test_the_manage_page_names_a_field_that_is_not_a_number(catalog, client, merchandiser):
    client.force_login(merchandiser)

    response = client.post(
        "/shop/manage/",
        {"action": "settings", "category_cap": "2", "diversity": "lots", "half_life": "3"},
    )

    html = response.content.decode()
    assert "diversity must be a number" in html and "could not convert" not in html
    assert RecommenderSettings.objects.get(pk=1).category_cap == 0


def test_a_refused_settings_form_shows_what_was_typed(catalog, client, merchandiser):
    client.force_login(merchandiser)

    response = client.post(
        "/shop/manage/",
        {
            "action": "settings",
            "w_purchase": "9",
            "category_cap": "4",
            "diversity": "lots",
            "half_life": "7.5",
            "default_strategy": "text",
        },
    )

    html = response.content.decode()
    assert 'name="w_purchase" value="9"' in html
    assert 'name="category_cap" type="number" min="0" max="50" value="4"' in html
    assert 'max="1" value="lots"' in html
    assert 'max="365" value="7.5"' in html
    assert '<option value="text" selected>' in html
    stored = RecommenderSettings.objects.get(pk=1)
    assert (stored.category_cap, stored.default_strategy) == (0, "ranker")
