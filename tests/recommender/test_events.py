"""Event ingestion: idempotent ids, per-event errors, anonymous history joining an account, and
purchases that count only when the checkout recorded them."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from apps.recommender import selectors, services, training
from apps.recommender.models import Event
from tests.recommender.factories import EventFactory

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
                {"event_id": "v2", "kind": "add_to_cart", "item": catalog["BAG-1"].pk},
            ]
        },
        content_type="application/json",
    )

    client.post("/accounts/login/", {"username": "hiker", "password": "pw"})

    assert set(Event.objects.values_list("user_id", flat=True)) == {user.pk}
    history = selectors.history_get(
        shopper=services.Shopper(user_id=user.pk), weights={"view": 1, "add_to_cart": 3}
    )
    assert {h.item_id for h in history} == {catalog["TENT-1"].pk, catalog["BAG-1"].pk}
    # Events the same browser sends after sign-in land on the account too.
    client.post(
        "/api/events/batch",
        {"events": [{"event_id": "v3", "kind": "view", "item": catalog["PAD-1"].pk}]},
        content_type="application/json",
    )
    assert Event.objects.get(event_id="v3").user_id == user.pk


# -- purchases count only from the checkout ------------------------------------------------------
def _exposed(catalog, experiment, visitor: str) -> None:  # type: ignore[no-untyped-def]
    variant = selectors.variant_assign(shopper_key=services.Shopper(visitor_id=visitor).key)
    assert variant is not None and variant.experiment_id == experiment.pk
    services.events_record(
        shopper=services.Shopper(visitor_id=visitor),
        events=[
            {
                "event_id": f"imp-{visitor}",
                "kind": "impression",
                "item": catalog["TENT-1"].pk,
                "experiment": experiment.pk,
                "variant": variant.name,
            }
        ],
    )


def _figures(experiment) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    report = selectors.experiment_report(experiment=experiment)
    weights = selectors.settings_get().weights()
    return (
        [(r.name, r.shoppers, r.converted) for r in report],
        training.training_sequences(weights),
        selectors.trending_scores(half_life_days=3, weights=weights),
        selectors.purchased_ids(shopper=services.Shopper(visitor_id="forger")),
    )


@pytest.fixture
def experiment(catalog):  # type: ignore[no-untyped-def]
    running = services.experiment_create(name="ab", variants=[{"name": "a"}, {"name": "b"}])
    services.experiment_start(experiment_id=running.pk)
    return running


def test_an_anonymous_client_cannot_claim_a_purchase(catalog, experiment, client):
    _exposed(catalog, experiment, "forger")
    stored = Event.objects.count()
    before = _figures(experiment)
    variant = selectors.variant_assign(shopper_key="vforger")
    assert variant is not None
    body = {
        "visitor_id": "forger",
        "events": [
            {"event_id": "look", "kind": "view", "item": catalog["PAN-1"].pk},
            {
                "event_id": "fake-buy",
                "kind": "purchase",
                "item": catalog["PAN-1"].pk,
                "experiment": experiment.pk,
                "variant": variant.name,
            },
        ],
    }

    response = client.post("/api/events/batch", body, content_type="application/json")

    assert response.status_code == 400
    assert "purchases are recorded by the checkout" in response.json()["events"][0]
    assert Event.objects.count() == stored  # nothing of the batch, not even the view
    assert _figures(experiment) == before


def test_a_tracker_purchase_is_refused_by_the_service_and_old_ones_weigh_nothing(
    catalog, experiment
):
    _exposed(catalog, experiment, "forger")
    before = _figures(experiment)
    # One stored before the tracker refused purchases (the migration marks such rows "tracker").
    EventFactory(
        event_id="old-claim",
        kind="purchase",
        source=Event.Source.TRACKER,
        item=catalog["PAN-1"],
        visitor_id="forger",
        experiment=experiment,
        variant=selectors.variant_assign(shopper_key="vforger").name,  # type: ignore[union-attr]
        created=timezone.now() + timedelta(seconds=1),
    )

    result = services.events_record(
        shopper=services.Shopper(visitor_id="forger"),
        events=[{"event_id": "new-claim", "kind": "purchase", "item": catalog["PAN-1"].pk}],
    )

    assert result.accepted == 0
    assert result.errors[0]["error"] == services.TRACKER_PURCHASE_REFUSED
    assert not Event.objects.filter(event_id="new-claim").exists()
    assert _figures(experiment) == before


def test_the_checkout_records_the_purchase_and_it_converts(catalog, experiment, client):
    client.cookies["tsv"] = "buyer"
    _exposed(catalog, experiment, "buyer")
    pan = catalog["PAN-1"]

    client.post(f"/shop/cart/add/{pan.pk}/")
    client.post("/shop/checkout/")

    bought = Event.objects.get(kind="purchase")
    assert (bought.visitor_id, bought.item_id, bought.source) == ("buyer", pan.pk, "storefront")
    assert bought.experiment_id == experiment.pk
    assert sum(r.converted for r in selectors.experiment_report(experiment=experiment)) == 1
    sequences = training.training_sequences(selectors.settings_get().weights())
    assert (pan.pk, "purchase") in [(i, k) for _, i, k, _ in sequences["vbuyer"]]


def test_a_merchandiser_may_import_purchases_but_they_are_no_conversions(
    catalog, experiment, client, merchandiser
):
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=merchandiser)
    _exposed(catalog, experiment, "history")
    body = {
        "visitor_id": "history",
        "events": [{"event_id": "order-1", "kind": "purchase", "item": catalog["PAN-1"].pk}],
    }

    response = client.post(
        "/api/events/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )

    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert Event.objects.get(event_id="order-1").source == "import"
    assert sum(r.converted for r in selectors.experiment_report(experiment=experiment)) == 0


def test_the_migration_marks_old_events_by_who_most_likely_recorded_them(catalog):
    migration = importlib.import_module("apps.recommender.migrations.0002_event_source")
    now = timezone.now()
    rows = {
        "0123456789abcdef0123456789abcdef": now,  # the storefront's uuid4().hex
        "demo-shopper-0001-4": now,
        "backdated-by-a-merchandiser": now - timedelta(days=30),
        "5b2f3c1e-8d6a-4f7e-9c1b-2a3d4e5f6a7b": now,  # the tracker's randomUUID()
    }
    for event_id, created in rows.items():
        EventFactory(event_id=event_id, kind="purchase", item=catalog["PAN-1"], created=created)

    migration.sources_guess(django_apps, None)

    assert dict(Event.objects.values_list("event_id", "source")) == {
        "0123456789abcdef0123456789abcdef": "storefront",
        "demo-shopper-0001-4": "import",
        "backdated-by-a-merchandiser": "import",
        "5b2f3c1e-8d6a-4f7e-9c1b-2a3d4e5f6a7b": "tracker",
    }


def _token(user):  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return f"Token {token.key}"


def test_views_tracked_after_sign_in_with_a_new_cookie_join_the_account(
    catalog, client, django_user_model
):
    user = django_user_model.objects.create_user("shopper", password="pw")
    client.login(username="shopper", password="pw")  # no shop cookie yet at sign-in
    client.get("/shop/")
    visitor = client.cookies["tsv"].value

    response = client.post(
        "/api/events/batch",
        {
            "visitor_id": visitor,
            "events": [{"event_id": "v1", "kind": "view", "item": catalog["TENT-1"].pk}],
        },
        content_type="application/json",
    )
    history = selectors.history_get(shopper=services.Shopper(user_id=user.pk), weights={})

    assert response.status_code == 202
    assert Event.objects.get(event_id="v1").user_id == user.pk
    assert [h.item_id for h in history] == [catalog["TENT-1"].pk]


def test_events_naming_an_unknown_account_are_refused(catalog, client, merchandiser):
    response = client.post(
        "/api/events/batch",
        {"user": 987654, "events": [{"event_id": "e1", "kind": "view", "item": "TENT-1"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=_token(merchandiser),
    )

    assert response.status_code == 400
    assert "987654" in response.json()["user"][0]
    assert not Event.objects.exists()


def test_odd_item_and_experiment_references_are_per_event_errors(catalog, client):
    response = client.post(
        "/api/events/batch",
        {
            "visitor_id": "v-odd",
            "events": [
                {"event_id": "e1", "kind": "view", "item": "²"},
                {"event_id": "e2", "kind": "view", "item": "9" * 30},
                {"event_id": "e3", "kind": "view", "item": "TENT-1", "experiment": "²"},
            ],
        },
        content_type="application/json",
    )
    context = client.get("/api/recommendations", {"context": "item:" + "9" * 30})

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1 and [e["index"] for e in body["errors"]] == [0, 1]
    assert context.status_code == 400


def test_trusted_event_times_in_the_future_or_unreadable_are_reported(
    catalog, client, merchandiser
):
    events = [
        {"event_id": "f1", "kind": "view", "item": "TENT-1", "created": "2999-01-01T00:00:00Z"},
        {"event_id": "f2", "kind": "view", "item": "TENT-1", "created": "yesterday"},
        {"event_id": "f3", "kind": "view", "item": "TENT-1", "created": "2024-02-30T10:00:00"},
        {"event_id": "f4", "kind": "view", "item": "TENT-1", "created": "2024-01-05T10:00:00Z"},
    ]

    response = client.post(
        "/api/events/batch",
        {"visitor_id": "v-import", "events": events},
        content_type="application/json",
        HTTP_AUTHORIZATION=_token(merchandiser),
    )

    body = response.json()
    assert body["accepted"] == 1
    assert [(e["event_id"], e["error"]) for e in body["errors"]] == [
        ("f1", "created is in the future"),
        ("f2", "created must be an ISO 8601 time"),
        ("f3", "created must be an ISO 8601 time"),
    ]
    assert Event.objects.get().created.year == 2024


def test_nul_characters_in_events_are_dropped_or_refused_per_event(catalog, client):
    tent = catalog["TENT-1"]
    events = [
        {"event_id": "nul-1", "kind": "rating", "item": tent.pk, "rating": 4, "text": "go\x00od"},
        {"event_id": "nul\x00-2", "kind": "view", "item": tent.pk},
    ]

    response = client.post(
        "/api/events/batch",
        {"visitor_id": "nul-visitor", "events": events},
        content_type="application/json",
    )

    assert response.status_code == 202
    assert response.json()["accepted"] == 1 and response.json()["errors"][0]["index"] == 1
    assert Event.objects.get(event_id="nul-1").text == "good"


def test_from_recommendation_false_as_text_is_false(catalog, client):
    event = {"event_id": "f-1", "kind": "click", "item": catalog["PAN-1"].pk}

    client.post(
        "/api/events/batch",
        {"visitor_id": "v-f", "events": [event | {"from_recommendation": "false"}]},
        content_type="application/json",
    )

    assert Event.objects.get(event_id="f-1").from_recommendation is False
