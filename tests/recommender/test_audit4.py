"""Audit of the recommender: defects a shopper, merchandiser or analyst would have met."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.recommender import catalog_import, selectors, services
from apps.recommender.models import Event, Item

pytestmark = pytest.mark.django_db


def _token(user):  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return f"Token {token.key}"


def test_a_price_only_import_keeps_the_columns_it_leaves_out(catalog):
    before = Item.objects.get(sku="TENT-1")
    content = "sku,title,category,price\nTENT-1,Ridgeline tent,Outdoor,99.00\n"

    result = catalog_import.items_import(content=content, fmt="csv", embed=False)

    after = Item.objects.get(sku="TENT-1")
    assert (result.updated, result.errors) == (1, [])
    assert after.price == 99 and after.title == "Ridgeline tent"
    assert (after.stock, after.description, after.tags) == (
        before.stock,
        before.description,
        before.tags,
    )
    assert after.active and after.in_stock


def test_a_jsonl_update_naming_only_the_stock_keeps_the_rest(catalog):
    before = Item.objects.get(sku="PAN-1")

    catalog_import.items_import(content='{"sku": "PAN-1", "stock": 3}\n', fmt="jsonl", embed=False)

    after = Item.objects.get(sku="PAN-1")
    assert after.stock == 3
    assert (after.title, after.price, after.category) == (
        before.title,
        before.price,
        before.category,
    )


def test_a_blank_active_cell_does_not_take_an_item_off_sale(db):
    content = (
        "sku,title,category,price,active\nMUG-1,Enamel mug,Kitchen,5,\nMUG-2,Old mug,Kitchen,5,no\n"
    )

    catalog_import.items_import(content=content, fmt="csv", embed=False)

    assert Item.objects.get(sku="MUG-1").active
    assert not Item.objects.get(sku="MUG-2").active


def test_checkout_keeps_a_line_it_could_not_sell_in_the_cart(catalog, client):
    pan, knife = catalog["PAN-1"], catalog["KNIFE-1"]
    client.post(f"/shop/cart/add/{pan.pk}/")
    client.post(f"/shop/cart/add/{knife.pk}/")
    Item.objects.filter(pk=pan.pk).update(stock=0)  # someone else bought the last one

    response = client.post("/shop/checkout/", follow=True)

    assert client.session["cart"] == {str(pan.pk): 1}
    assert Event.objects.filter(kind="purchase", item=knife).count() == 1
    assert not Event.objects.filter(kind="purchase", item=pan).exists()
    assert "stays in your cart" in response.content.decode()


def test_a_withdrawn_item_leaves_the_cart_with_a_message(catalog, client):
    pan = catalog["PAN-1"]
    client.post(f"/shop/cart/add/{pan.pk}/")
    Item.objects.filter(pk=pan.pk).update(active=False)

    response = client.post("/shop/checkout/", follow=True)

    assert client.session["cart"] == {}
    assert "no longer sold" in response.content.decode()


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


def test_non_numeric_ids_in_api_urls_are_404(catalog, client, merchandiser):
    client.force_login(merchandiser)

    put = client.put("/api/items/abc", {"sku": "X"}, content_type="application/json")
    patch = client.patch("/api/items/abc", {"stock": 1}, content_type="application/json")
    report = client.get("/api/experiments/abc/report")

    assert (put.status_code, patch.status_code, report.status_code) == (404, 404, 404)


@pytest.mark.parametrize(
    "variants, message",
    [
        ([{"name": "a", "diversity": 5}, {"name": "b"}], "between 0 and 1"),
        ([{"name": "a", "diversity": -0.5}, {"name": "b"}], "between 0 and 1"),
        ([{"name": n} for n in "abcde"], "two to four"),
    ],
)
def test_experiments_that_could_never_ship_are_refused(client, merchandiser, variants, message):
    client.force_login(merchandiser)

    response = client.post(
        "/api/experiments", {"name": "x", "variants": variants}, content_type="application/json"
    )

    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_the_experiments_page_explains_a_bad_weight(client, merchandiser):
    client.force_login(merchandiser)

    response = client.post(
        "/shop/experiments/",
        {"name": "x", "v1_name": "a", "v1_weight": "lots", "v2_name": "b"},
        follow=True,
    )

    assert response.status_code == 200
    assert "weight must be a whole number" in response.content.decode()


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


def test_a_purchase_before_the_first_exposure_is_not_a_conversion(catalog):
    experiment = services.experiment_create(name="e", variants=[{"name": "a"}, {"name": "b"}])
    services.experiment_start(experiment_id=experiment.pk)
    early, late = services.Shopper(visitor_id="early"), services.Shopper(visitor_id="late")
    for shopper in (early, late):
        services.event_record(shopper=shopper, kind="purchase", item_id=catalog["PAN-1"].pk)
    Event.objects.filter(visitor_id="early").update(created=timezone.now() - timedelta(hours=1))
    for shopper in (early, late):
        variant = selectors.variant_assign(shopper_key=shopper.key)
        assert variant is not None
        services.events_record(
            shopper=shopper,
            events=[
                {
                    "event_id": f"imp-{shopper.key}",
                    "kind": "impression",
                    "item": catalog["TENT-1"].pk,
                    "experiment": experiment.pk,
                    "variant": variant.name,
                }
            ],
        )
    Event.objects.filter(visitor_id="late", kind="purchase").update(
        created=timezone.now() + timedelta(minutes=1)
    )

    rows = selectors.experiment_report(experiment=experiment)

    assert sum(r.shoppers for r in rows) == 2
    assert sum(r.converted for r in rows) == 1


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
