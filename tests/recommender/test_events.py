"""Event ingestion: idempotent ids, per-event errors, anonymous history joining an account."""

from __future__ import annotations

import pytest

from apps.recommender import selectors, services
from apps.recommender.models import Event

pytestmark = pytest.mark.django_db


def test_resending_a_batch_stores_each_event_once(catalog, client):
    body = {
        "visitor_id": "visitor-a",
        "events": [
            {"event_id": "e1", "kind": "view", "item": catalog["TENT-1"].pk},
            {"event_id": "e2", "kind": "add_to_cart", "item": "BAG-1"},
        ],
    }

    first = client.post("/api/events/batch", body, content_type="application/json")
    second = client.post("/api/events/batch", body, content_type="application/json")

    assert first.status_code == 202 and first.json()["accepted"] == 2
    assert second.json() == {"accepted": 0, "duplicates": 2, "errors": []}
    assert Event.objects.count() == 2


def test_bad_events_are_reported_and_good_ones_kept(catalog, client):
    body = {
        "visitor_id": "visitor-b",
        "events": [
            {"event_id": "ok", "kind": "view", "item": catalog["TENT-1"].pk},
            {"event_id": "bad-kind", "kind": "teleport", "item": catalog["TENT-1"].pk},
            {"event_id": "bad-item", "kind": "view", "item": 999999},
            {"event_id": "bad-rating", "kind": "rating", "item": "BAG-1", "rating": 9},
        ],
    }

    response = client.post("/api/events/batch", body, content_type="application/json")

    assert response.status_code == 202
    data = response.json()
    assert data["accepted"] == 1
    assert {e["event_id"] for e in data["errors"]} == {"bad-kind", "bad-item", "bad-rating"}
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


def test_anonymous_batch_without_visitor_id_is_refused(catalog, client):
    response = client.post(
        "/api/events/batch",
        {"events": [{"event_id": "x", "kind": "view", "item": catalog["TENT-1"].pk}]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_naming_an_account_needs_a_merchandiser(catalog, client, django_user_model):
    shopper = django_user_model.objects.create_user("shopper", password="pw")

    response = client.post(
        "/api/events/batch",
        {"user": shopper.pk, "events": [{"event_id": "x", "kind": "view", "item": "BAG-1"}]},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert not Event.objects.filter(user=shopper).exists()


def test_signing_in_joins_the_visitor_history_to_the_account(catalog, client, django_user_model):
    user = django_user_model.objects.create_user("hiker", password="pw")
    client.cookies["tsv"] = "anon-123"
    client.post(
        "/api/events/batch",
        {
            "events": [
                {"event_id": "v1", "kind": "view", "item": catalog["TENT-1"].pk},
                {"event_id": "v2", "kind": "purchase", "item": catalog["BAG-1"].pk},
            ]
        },
        content_type="application/json",
    )

    client.post("/accounts/login/", {"username": "hiker", "password": "pw"})

    assert set(Event.objects.values_list("user_id", flat=True)) == {user.pk}
    history = selectors.history_get(
        shopper=services.Shopper(user_id=user.pk), weights={"view": 1, "purchase": 5}
    )
    assert {h.item_id for h in history} == {catalog["TENT-1"].pk, catalog["BAG-1"].pk}
    # Events the same browser sends after sign-in land on the account too.
    client.post(
        "/api/events/batch",
        {"events": [{"event_id": "v3", "kind": "view", "item": catalog["PAD-1"].pk}]},
        content_type="application/json",
    )
    assert Event.objects.get(event_id="v3").user_id == user.pk
