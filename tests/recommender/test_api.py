"""The REST API on a real database: recommendations, catalog writes and import, experiments."""

from __future__ import annotations

import uuid

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.recommender import services
from apps.recommender.api.catalog import ItemSerializer
from apps.recommender.models import Event, Experiment, Item

from .helpers import api_as, record

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_gets_recommendations_with_reasons(catalog, client):
    from apps.recommender.services import Shopper

    record(Shopper(visitor_id="visitor-9"), "view", catalog["TENT-1"], 1)

    response = client.get("/api/recommendations", {"user": "visitor-9", "n": 3})

    assert response.status_code == 200
    data = response.json()
    assert len(data["items"]) == 3
    assert catalog["TENT-1"].pk not in [i["id"] for i in data["items"]]
    assert data["items"][0]["id"] == catalog["TENT-2"].pk
    assert all(i["reason"] for i in data["items"])


def test_item_context_and_validation(catalog, client):
    ok = client.get("/api/recommendations", {"context": f"item:{catalog['PAN-1'].pk}", "n": 2})
    unknown = client.get("/api/recommendations", {"context": "item:987654"})
    malformed = client.get("/api/recommendations", {"context": "basket", "n": 500})

    assert ok.status_code == 200
    assert catalog["PAN-1"].pk not in [i["id"] for i in ok.json()["items"]]
    assert unknown.status_code == 400
    assert malformed.status_code == 400 and {"context", "n"} <= set(malformed.json())


def test_another_account_s_recommendations_are_private(catalog, client, django_user_model):
    owner = django_user_model.objects.create_user("owner", password="pw")
    django_user_model.objects.create_user("nosy", password="pw")
    client.login(username="nosy", password="pw")

    response = client.get("/api/recommendations", {"user": str(owner.pk)})

    assert response.status_code == 403


def test_catalog_writes_need_the_merchandiser_role(
    catalog, client, merchandiser, django_capture_on_commit_callbacks
):
    payload = {
        "sku": "NEW-1",
        "title": "Enamel mug",
        "category": "Kitchen",
        "price": "12.50",
        "stock": 4,
        "description": "A camping enamel mug for coffee.",
    }
    anonymous = client.post("/api/items", payload, content_type="application/json")
    client.force_login(merchandiser)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/items", payload, content_type="application/json")

    assert anonymous.status_code == 403
    assert created.status_code == 201
    from apps.mlops.vectors import named_index

    assert created.json()["id"] in named_index("recommender-items").current()
    listed = client.get("/api/items").json()
    assert "NEW-1" in [i["sku"] for i in listed["results"]]


def test_import_reports_bad_rows_and_keeps_existing_items(catalog, client, merchandiser):
    client.force_login(merchandiser)
    content = (
        "sku,title,category,price,stock,description\n"
        "TENT-1,Ridgeline tent (2025),Outdoor,279.00,7,Updated copy\n"
        "NEW-2,Camp stove,Outdoor,49.99,3,A compact gas stove\n"
        ",No sku,Outdoor,10,1,x\n"
        "NEW-3,Bad price,Outdoor,cheap,1,x\n"
    )

    response = client.post(
        "/api/items/import", {"content": content, "format": "csv"}, content_type="application/json"
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["updated"]) == (1, 1)
    assert [(e["line"], e["error"]) for e in data["errors"]] == [
        (4, "sku is required"),
        (5, "price 'cheap' is not a number"),
    ]
    assert Item.objects.get(sku="TENT-1").title == "Ridgeline tent (2025)"
    assert Item.objects.filter(sku="BAG-1").exists()
    assert not Item.objects.filter(sku="NEW-3").exists()


def test_import_with_a_broken_header_is_refused(client, merchandiser, db):
    client.force_login(merchandiser)

    response = client.post(
        "/api/items/import", {"content": "name,cost\nx,1\n"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "sku" in response.json()["file"][0]


def test_experiment_lifecycle_and_report(catalog, client, merchandiser):
    client.force_login(merchandiser)
    created = client.post(
        "/api/experiments",
        {
            "name": "text vs together",
            "variants": [{"name": "a", "strategy": "text"}, {"name": "b", "strategy": "popular"}],
        },
        content_type="application/json",
    )
    exp_id = created.json()["id"]
    started = client.post(f"/api/experiments/{exp_id}/start")
    client.logout()
    shown = client.get("/api/recommendations", {"user": "exp-visitor", "n": 2}).json()
    variant = shown["variant"]
    client.post(
        "/api/events/batch",
        {
            "visitor_id": "exp-visitor",
            "events": [
                {
                    "event_id": "i1",
                    "kind": "impression",
                    "item": shown["items"][0]["id"],
                    "experiment": exp_id,
                    "variant": variant,
                    "from_recommendation": True,
                },
                {
                    "event_id": "i2",
                    "kind": "impression",
                    "item": shown["items"][1]["id"],
                    "experiment": exp_id,
                    "variant": variant,
                    "from_recommendation": True,
                },
                {
                    "event_id": "c1",
                    "kind": "click",
                    "item": shown["items"][0]["id"],
                    "experiment": exp_id,
                    "variant": variant,
                    "from_recommendation": True,
                },
            ],
        },
        content_type="application/json",
    )
    client.force_login(merchandiser)

    report = client.get(f"/api/experiments/{exp_id}/report").json()
    shipped = client.post(
        f"/api/experiments/{exp_id}/ship", {"variant": "b"}, content_type="application/json"
    )

    assert created.status_code == 201 and started.json()["status"] == "running"
    assert shown["experiment"] == exp_id and variant in ("a", "b")
    row = next(r for r in report if r["name"] == variant)
    assert (row["impressions"], row["clicks"], row["shoppers"]) == (2, 1, 1)
    assert row["ctr"] == 0.5 and row["ctr_low"] < 0.5 < row["ctr_high"]
    assert shipped.json()["status"] == "shipped"
    assert client.get("/api/recommender/settings").json()["default_strategy"] == "popular"
    assert Experiment.objects.get(pk=exp_id).shipped_variant == "b"
    assert Event.objects.filter(experiment_id=exp_id).count() == 3


def test_the_split_is_stable_and_uses_every_variant(catalog, merchandiser):
    from apps.recommender import selectors, services

    experiment = services.experiment_create(
        name="split",
        variants=[
            {"name": "a", "strategy": "ranker"},
            {"name": "b", "strategy": "text", "weight": 3},
        ],
    )
    services.experiment_start(experiment_id=experiment.pk)

    first = [selectors.variant_assign(shopper_key=f"v{n}").name for n in range(400)]
    second = [selectors.variant_assign(shopper_key=f"v{n}").name for n in range(400)]

    assert first == second
    assert 0.15 < first.count("a") / 400 < 0.35  # weight 1 of 4


def test_one_experiment_runs_at_a_time(db):
    from apps.recommender import services

    variants = [{"name": "a"}, {"name": "b", "strategy": "popular"}]
    one = services.experiment_create(name="one", variants=variants)
    two = services.experiment_create(name="two", variants=variants)
    services.experiment_start(experiment_id=one.pk)

    with pytest.raises(ValueError, match="one experiment runs at a time"):
        services.experiment_start(experiment_id=two.pk)


def test_wilson_interval_matches_the_textbook():
    from apps.recommender.selectors import wilson

    rate, low, high = wilson(10, 100)

    assert rate == 0.1
    assert round(low, 4) == 0.0552 and round(high, 4) == 0.1744


def test_schema_lists_the_recommender_endpoints(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    for path in (
        "/api/recommendations",
        "/api/events/batch",
        "/api/items",
        "/api/items/import",
        "/api/experiments/{id}/report",
        "/api/recommender/settings",
    ):
        assert path in schema["paths"], path


def test_non_numeric_ids_in_api_urls_are_404(catalog, client, merchandiser):
    client.force_login(merchandiser)

    put = client.put("/api/items/abc", {"sku": "X"}, content_type="application/json")
    patch = client.patch("/api/items/abc", {"stock": 1}, content_type="application/json")
    report = client.get("/api/experiments/abc/report")

    assert (put.status_code, patch.status_code, report.status_code) == (404, 404, 404)


NEW_ITEM = {"sku": "NEW-1", "title": "New lamp", "category": "Outdoor", "price": "12.00"}


@pytest.mark.parametrize("path", ["/api/items/0", "/api/items/00"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_changing_item_0_is_a_404_and_creates_nothing(catalog, merchandiser, path, method):
    before = Item.objects.count()

    response = getattr(api_as(merchandiser), method)(path, NEW_ITEM, format="json")

    assert response.status_code == 404
    assert Item.objects.count() == before and not Item.objects.filter(sku="NEW-1").exists()


def test_callers_without_an_identity_get_only_the_non_personal_list(catalog):
    kitchen_fan = services.Shopper(visitor_id="kitchen-fan")
    for n, sku in enumerate(("KNIFE-1", "BOARD-1", "PAN-1")):
        record(kitchen_fan, "purchase", catalog[sku], n)
    anyone = APIClient()  # no cookie, no account, no user parameter

    personal = anyone.get("/api/recommendations", {"user": "kitchen-fan", "n": 5}).json()
    first = APIClient().get("/api/recommendations", {"n": 5}).json()
    second = APIClient().get("/api/recommendations", {"n": 5}).json()
    stranger = APIClient().get("/api/recommendations", {"user": uuid.uuid4().hex, "n": 5}).json()

    ids = [[i["id"] for i in r["items"]] for r in (personal, first, second, stranger)]
    assert ids[1] == ids[2] == ids[3]  # what any shopper with no history gets
    assert ids[0] != ids[1]
    assert second["cached"] and not first["cached"]


def test_a_signed_in_caller_s_list_is_not_shared_with_anonymous_callers(
    catalog, client, django_user_model
):
    owner = django_user_model.objects.create_user("owner5", password="pw")
    for n, sku in enumerate(("KNIFE-1", "BOARD-1", "PAN-1")):
        record(services.Shopper(user_id=owner.pk), "purchase", catalog[sku], n)
    client.force_login(owner)

    mine = client.get("/api/recommendations", {"n": 5}).json()
    anonymous = APIClient().get("/api/recommendations", {"n": 5}).json()

    assert mine["shopper"] == f"u{owner.pk}" and anonymous["shopper"] == "v"
    assert [i["id"] for i in mine["items"]] != [i["id"] for i in anonymous["items"]]
    assert not anonymous["cached"]


@pytest.mark.parametrize("account", ["0", "987654321"])
def test_a_merchandiser_asking_for_an_account_that_does_not_exist_gets_a_400(
    catalog, merchandiser, account
):
    client = APIClient()
    client.force_authenticate(merchandiser)

    response = client.get("/api/recommendations", {"user": account, "n": 3})

    assert response.status_code == 400
    assert response.json() == {"user": [f"no account has id {account}"]}


def test_a_merchandiser_still_gets_an_existing_account_s_list(catalog, merchandiser):
    client = APIClient()
    client.force_authenticate(merchandiser)

    response = client.get("/api/recommendations", {"user": str(merchandiser.pk), "n": 3})

    assert response.status_code == 200 and response.json()["items"]


def test_a_merchandiser_naming_an_account_id_longer_than_any_key_gets_a_400(catalog, merchandiser):
    response = api_as(merchandiser).get("/api/recommendations", {"user": "9" * 23})

    assert response.status_code == 400 and "no account has id" in str(response.data["user"])


def test_a_shopper_naming_someone_else_s_long_id_is_still_refused(catalog, django_user_model):
    shopper = django_user_model.objects.create_user("shopper", password="pw-123456")

    response = api_as(shopper).get("/api/recommendations", {"user": "9" * 23})

    assert response.status_code == 403


def test_the_report_is_documented_as_the_plain_list_it_is(catalog, merchandiser):
    experiment = services.experiment_create(
        name="Report shape", variants=[{"name": "A"}, {"name": "B", "strategy": "popular"}]
    )
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/experiments/{id}/report"]["get"]
    documented = operation["responses"]["200"]["content"]["application/json"]["schema"]

    body = api_as(merchandiser).get(f"/api/experiments/{experiment.pk}/report").json()

    assert documented["type"] == "array" and isinstance(body, list)
    assert [row["name"] for row in body] == ["A", "B"]


def test_the_item_api_writes_the_fields_the_catalog_service_checks():
    writable = {name for name, field in ItemSerializer().fields.items() if not field.read_only}

    assert writable == set(services.ITEM_FIELDS)
