"""Experiments: what may be created, that variants are fixed once started, which events count
for a variant, the report, and which experiments may be deleted (API, pages and the admin)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.recommender import selectors, services
from apps.recommender.models import Event, Experiment, Variant

from .helpers import api_as, record

pytestmark = pytest.mark.django_db


def _experiment(status: str = "draft") -> Experiment:
    experiment = services.experiment_create(
        name=f"exp-{uuid.uuid4().hex[:6]}",
        variants=[
            {"name": "a", "strategy": "ranker"},
            {"name": "b", "strategy": "text", "weight": 3, "diversity": 0.4},
        ],
    )
    if status != "draft":
        services.experiment_start(experiment_id=experiment.pk)
    if status == "stopped":
        services.experiment_stop(experiment_id=experiment.pk)
    if status == "shipped":
        services.experiment_ship(experiment_id=experiment.pk, variant="b")
    return experiment


def _variants(experiment: Experiment) -> list[tuple[Any, ...]]:
    return list(
        experiment.variants.order_by("pk").values_list("name", "strategy", "diversity", "weight")
    )


def _experiment_post(experiment: Experiment, rows: list[dict[str, Any]]) -> dict[str, Any]:
    stored = list(experiment.variants.order_by("pk"))
    data: dict[str, Any] = {
        "name": experiment.name,
        "description": "changed",
        "variants-TOTAL_FORMS": str(len(rows)),
        "variants-INITIAL_FORMS": str(len(stored)),
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for n, row in enumerate(rows):
        if n < len(stored):
            data[f"variants-{n}-id"] = str(stored[n].pk)
        data[f"variants-{n}-experiment"] = str(experiment.pk)
        for key, value in row.items():
            data[f"variants-{n}-{key}"] = "" if value is None else str(value)
    return data


def _shoppers_in(experiment: Experiment, wanted: str, n: int, prefix: str) -> list[str]:
    """Visitor ids the hash puts in variant `wanted`."""
    found = []
    for k in range(500):
        assigned = selectors.variant_assign(shopper_key=f"v{prefix}{k}")
        if assigned is not None and assigned.name == wanted:
            found.append(f"{prefix}{k}")
        if len(found) == n:
            return found
    raise AssertionError(f"no shopper hashed to {wanted}")


CHANGED_ROWS = [
    {"name": "a", "strategy": "popular", "diversity": None, "weight": 9},
    {"name": "renamed", "strategy": "text", "diversity": 0.4, "weight": 3},
    {"name": "c", "strategy": "collaborative", "diversity": None, "weight": 1},
]


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


@pytest.mark.parametrize(
    ("name", "variant"),
    [("x" * 121, "a"), ("fine name", "v" * 41), ("nul\x00name", "a")],
)
def test_the_experiments_page_refuses_names_the_database_cannot_hold(
    db, client, merchandiser, name, variant
):
    client.force_login(merchandiser)
    form = {"name": name, "v1_name": variant, "v2_name": "b", "v2_strategy": "text"}

    response = client.post("/shop/experiments/", form, follow=True)

    assert response.status_code == 200
    assert "at most" in response.content.decode()
    assert not Experiment.objects.exists()


def test_a_new_experiment_in_the_admin_needs_two_variants(admin_client):
    data = {
        "name": "lonely",
        "description": "",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-name": "a",
        "variants-0-strategy": "ranker",
        "variants-0-weight": "1",
    }

    response = admin_client.post("/admin/recommender/experiment/add/", data)

    assert response.status_code == 200 and "two to four variants" in response.content.decode()
    assert not Experiment.objects.filter(name="lonely").exists()


@pytest.mark.parametrize("status", ["running", "stopped", "shipped"])
def test_a_started_experiment_s_variants_cannot_be_changed_in_the_admin(admin_client, status):
    experiment = _experiment(status)
    before = _variants(experiment)
    url = f"/admin/recommender/experiment/{experiment.pk}/change/"

    page = admin_client.get(url).content.decode()
    response = admin_client.post(url, _experiment_post(experiment, CHANGED_ROWS))

    assert 'name="variants-0-weight"' not in page and 'name="variants-2-name"' not in page
    assert response.status_code == 302
    assert _variants(experiment) == before
    assert Experiment.objects.get(pk=experiment.pk).description == "changed"


def test_a_draft_s_variants_can_be_changed_in_the_admin(admin_client):
    experiment = _experiment()
    url = f"/admin/recommender/experiment/{experiment.pk}/change/"

    response = admin_client.post(url, _experiment_post(experiment, CHANGED_ROWS))

    assert response.status_code == 302
    assert _variants(experiment) == [
        ("a", "popular", None, 9),
        ("renamed", "text", 0.4, 3),
        ("c", "collaborative", None, 1),
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "a", "strategy": "ranker", "weight": 1}], "two to four variants"),
        (
            [
                {"name": "a", "strategy": "ranker", "weight": 0},
                {"name": "b", "strategy": "text", "weight": 1},
            ],
            "at least 1",
        ),
        (
            [
                {"name": "a", "strategy": "ranker", "weight": 1, "diversity": 3},
                {"name": "b", "strategy": "text", "weight": 1},
            ],
            "between 0 and 1",
        ),
    ],
)
def test_a_draft_edited_in_the_admin_is_checked_like_a_new_experiment(admin_client, rows, message):
    experiment = _experiment()
    before = _variants(experiment)
    data = _experiment_post(experiment, rows)
    for n in range(len(rows), 2):  # the stored rows left out are deleted
        data[f"variants-{n}-id"] = str(experiment.variants.order_by("pk")[n].pk)
        data[f"variants-{n}-experiment"] = str(experiment.pk)
        data[f"variants-{n}-DELETE"] = "on"
    data["variants-TOTAL_FORMS"] = str(max(len(rows), 2))

    response = admin_client.post(f"/admin/recommender/experiment/{experiment.pk}/change/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _variants(experiment) == before


def test_a_draft_whose_variants_no_longer_split_traffic_does_not_start(db):
    experiment = _experiment()
    Variant.objects.filter(experiment=experiment).update(weight=0)

    with pytest.raises(ValueError, match="at least 1"):
        services.experiment_start(experiment_id=experiment.pk)

    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.DRAFT


@pytest.mark.parametrize("method", ["put", "patch"])
def test_the_api_cannot_change_an_experiment(merchandiser, method):
    experiment = _experiment("running")
    before = _variants(experiment)
    body = {"name": experiment.name, "variants": [{"name": "a", "strategy": "popular"}] * 2}

    response = getattr(api_as(merchandiser), method)(
        f"/api/experiments/{experiment.pk}", body, format="json"
    )

    assert response.status_code == 405 and "not allowed" in response.json()["detail"]
    assert _variants(experiment) == before


def test_events_count_for_an_experiment_only_while_it_runs(catalog):
    experiment = _experiment("running")
    tent = catalog["TENT-1"]
    shopper = services.Shopper(visitor_id="late-visitor")
    own = selectors.variant_assign(shopper_key=shopper.key)
    assert own is not None
    tagged = {"experiment": experiment.pk, "variant": own.name, "from_recommendation": True}
    record(shopper, "impression", tent, "during", **tagged)
    services.experiment_stop(experiment_id=experiment.pk)

    record(shopper, "impression", tent, "after", **tagged)

    report = {r.name: r for r in selectors.experiment_report(experiment=experiment)}
    assert report[own.name].impressions == 1
    assert Event.objects.filter(kind="impression", experiment__isnull=True).count() == 1


def test_an_event_claiming_a_variant_the_shopper_is_not_in_is_stored_untagged(catalog):
    experiment = _experiment("running")
    tent = catalog["TENT-1"]
    in_a = services.Shopper(visitor_id=_shoppers_in(experiment, "a", 1, "ina-")[0])
    in_b = services.Shopper(visitor_id=_shoppers_in(experiment, "b", 1, "inb-")[0])

    for shopper in (in_a, in_b):  # both claim variant a
        record(shopper, "click", tent, "c", experiment=experiment.pk, variant="a")

    tags = dict(Event.objects.values_list("visitor_id", "variant"))
    assert tags == {in_a.visitor_id: "a", in_b.visitor_id: ""}


def test_a_shopper_who_signed_in_keeps_the_variant_they_were_shown(catalog, django_user_model):
    experiment = _experiment("running")
    visitor = _shoppers_in(experiment, "a", 1, "vis-")[0]
    user = None
    for k in range(200):  # an account the hash puts in the other variant
        candidate = django_user_model.objects.create_user(f"shopper5-{k}", password="pw")
        assigned = selectors.variant_assign(shopper_key=f"u{candidate.pk}")
        if assigned is not None and assigned.name == "b":
            user = candidate
            break
    assert user is not None
    services.visitor_merge(visitor_id=visitor, user_id=user.pk)

    record(
        services.Shopper(user_id=user.pk, visitor_id=visitor),
        "click",
        catalog["TENT-1"],
        "after-sign-in",
        experiment=experiment.pk,
        variant="a",
    )

    assert Event.objects.get().variant == "a"


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


def test_shipping_a_variant_name_with_a_nul_character_is_a_message(client, merchandiser):
    experiment = _experiment("running")
    client.force_login(merchandiser)

    response = client.post(
        f"/shop/experiments/{experiment.pk}/",
        {"action": "ship", "variant": "a\x00"},
        follow=True,
    )

    assert response.status_code == 200 and "has no variant" in response.content.decode()
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING


@pytest.mark.parametrize("status", ["running", "stopped", "shipped"])
def test_an_experiment_that_ran_cannot_be_deleted_in_the_admin(admin_client, catalog, status):
    experiment = _experiment(status)
    url = f"/admin/recommender/experiment/{experiment.pk}/delete/"

    page = admin_client.get(url)
    posted = admin_client.post(url, {"post": "yes"})
    listing = admin_client.get("/admin/recommender/experiment/").content.decode()

    assert (page.status_code, posted.status_code) == (403, 403)
    assert Experiment.objects.filter(pk=experiment.pk).exists()
    assert 'value="delete_selected"' not in listing


def test_a_draft_experiment_can_be_deleted_in_the_admin(admin_client):
    experiment = _experiment()

    admin_client.post(f"/admin/recommender/experiment/{experiment.pk}/delete/", {"post": "yes"})

    assert not Experiment.objects.filter(pk=experiment.pk).exists()


def test_impressions_of_deleted_accounts_without_a_visitor_id_are_no_shopper(
    catalog: Any, django_user_model: Any
) -> None:
    experiment = services.experiment_create(name="e", variants=[{"name": "a"}, {"name": "b"}])
    services.experiment_start(experiment_id=experiment.pk)
    accounts = [django_user_model.objects.create(username=f"gone-{i}") for i in range(2)]
    for i, account in enumerate(accounts):
        Event.objects.create(
            event_id=f"imported-{i}",
            kind=Event.Kind.IMPRESSION,
            source=Event.Source.IMPORT,
            item=catalog["TENT-1"],
            user=account,
            experiment=experiment,
            variant="a",
            created=timezone.now(),
        )
    assert sum(r.shoppers for r in selectors.experiment_report(experiment=experiment)) == 2

    for account in accounts:
        account.delete()

    rows = selectors.experiment_report(experiment=experiment)
    # Two strangers are not one shopper; their impressions still count.
    assert sum(r.shoppers for r in rows) == 0
    assert sum(r.impressions for r in rows) == 2
