"""The /api/mlops/ endpoints as an ML admin's script would use them."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.mlops.kinds import kind_get
from apps.mlops.models import ModelVersion, PromotionEvent, TrainingRun
from apps.mlops.params import ParamsInvalid, params_validate
from tests.mlops.factories import TrainingRunFactory

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


def test_start_run_and_follow_it_to_success(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/mlops/runs/",
            {"model_name": "test-lookup", "params": {"steps": 2}},
            format="json",
        )

    detail = api.get(f"/api/mlops/runs/{created.data['id']}/")

    assert created.status_code == 201 and created.data["status"] == "queued"
    assert detail.data["status"] == "succeeded" and detail.data["version"] == 1
    assert detail.data["percent"] == 100.0 and detail.data["history"]


def test_start_run_of_unknown_model_is_a_400(api):
    response = api.post("/api/mlops/runs/", {"model_name": "nope"}, format="json")

    assert response.status_code == 400 and "nope" in str(response.data)
    assert not TrainingRun.objects.exists()


def test_cancel_queued_run_then_cancel_again_conflicts(api):
    run = TrainingRunFactory()

    first = api.post(f"/api/mlops/runs/{run.pk}/cancel/")
    second = api.post(f"/api/mlops/runs/{run.pk}/cancel/")

    assert first.status_code == 202 and first.data["status"] == "cancelled"
    assert second.status_code == 409


def test_promote_worse_version_conflicts_and_override_needs_reason(
    api, two_versions, django_capture_on_commit_callbacks
):
    refused = api.post("/api/mlops/models/test-lookup/promote/", {"version": 2}, format="json")
    no_reason = api.post(
        "/api/mlops/models/test-lookup/promote/", {"version": 2, "override": True}, format="json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        forced = api.post(
            "/api/mlops/models/test-lookup/promote/",
            {"version": 2, "override": True, "reason": "customer asked"},
            format="json",
        )

    assert refused.status_code == 409 and refused.data["kind"] == "refused"
    assert no_reason.status_code == 400 and "reason" in no_reason.data
    assert forced.status_code == 200 and forced.data["kind"] == "override"
    assert ModelVersion.objects.get(is_production=True).version == 2


def test_rollback_via_api(api, two_versions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/mlops/models/test-lookup/promote/",
            {"version": 2, "override": True, "reason": "try it"},
            format="json",
        )
        response = api.post(
            "/api/mlops/models/test-lookup/rollback/", {"version": 1}, format="json"
        )

    events = api.get("/api/mlops/models/test-lookup/events/")
    assert response.status_code == 200 and response.data["kind"] == "rollback"
    assert [e["kind"] for e in events.data][:2] == ["rollback", "override"]


def test_promote_unknown_version_is_404(api, two_versions):
    response = api.post("/api/mlops/models/test-lookup/promote/", {"version": 99}, format="json")

    assert response.status_code == 404


def test_models_and_versions_listing(api, two_versions):
    models = api.get("/api/mlops/models/")
    versions = api.get("/api/mlops/models/test-lookup/versions/")

    lookup = next(m for m in models.data if m["name"] == "test-lookup")
    assert lookup["production"]["version"] == 1 and lookup["versions"] == 2
    assert [v["version"] for v in versions.data] == [2, 1]
    assert versions.data[1]["label_distribution"] == {"a": 20, "b": 10}


def test_policy_and_schedule_round_trip(api):
    bad = api.put("/api/mlops/models/test-lookup/policy/", {"tolerance": -1}, format="json")
    put = api.put("/api/mlops/models/test-lookup/policy/", {"tolerance": 0.2}, format="json")
    schedule = api.put(
        "/api/mlops/models/test-lookup/schedule/",
        {"every_hours": 12, "params": {"steps": 1}},
        format="json",
    )

    assert bad.status_code == 400
    assert put.status_code == 200
    assert api.get("/api/mlops/models/test-lookup/policy/").data["tolerance"] == 0.2
    assert schedule.status_code == 200 and schedule.data["every_hours"] == 12
    assert api.get("/api/mlops/models/test-lookup/schedule/").data["params"] == {"steps": 1}


def test_optimise_of_a_non_classifier_is_refused_as_a_failed_task(api, two_versions):
    # Eager tasks propagate: the service refuses a version that is not a text classifier.
    with pytest.raises(ValueError, match="not a text classifier"):
        from apps.mlops.services import model_version_optimise

        model_version_optimise(name="test-lookup", version=1)
    response = api.post(
        "/api/mlops/models/test-lookup/versions/1/serving-form/", {"form": "int8"}, format="json"
    )

    assert response.status_code == 400


def test_monitoring_endpoint(api):
    from apps.mlops.monitoring import inference_observe

    inference_observe(model="test-lookup", seconds=0.01, predictions=[("a", 0.9)])

    response = api.get("/api/mlops/models/test-lookup/monitoring/?minutes=5")

    assert response.status_code == 200 and response.data["requests"] == 1
    assert api.get("/api/mlops/models/test-lookup/monitoring/?minutes=x").status_code == 400


def test_other_roles_are_refused(analyst):
    client = APIClient()
    client.force_authenticate(analyst)

    assert client.get("/api/mlops/models/").status_code == 403
    assert client.post("/api/mlops/runs/", {"model_name": "test-lookup"}).status_code == 403
    assert APIClient().get("/api/mlops/models/").status_code in (401, 403)


def test_schema_documents_the_lifecycle_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    paths = schema["paths"]
    assert "/api/mlops/runs/" in paths and "/api/mlops/models/{name}/promote/" in paths
    promote = paths["/api/mlops/models/{name}/promote/"]["post"]
    assert "requestBody" in promote and "409" in promote["responses"]
    assert PromotionEvent.objects.count() == 0


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/mlops/models/a%00b/versions/"),
        ("get", "/api/mlops/models/a%00b/versions/1/"),
        ("get", "/api/mlops/models/a%00b/events/"),
        ("get", "/api/mlops/models/a%00b/policy/"),
        ("get", "/api/mlops/models/a%00b/monitoring/"),
        ("post", "/api/mlops/models/a%00b/promote/"),
        ("post", "/api/mlops/models/a%00b/versions/1/serving-form/"),
        ("get", "/api/mlops/runs/?model=a%00b"),
    ],
)
def test_a_model_name_with_a_nul_character_in_the_address_is_a_client_error(api, method, url):
    data = {"version": 1, "form": "fp32"} if method == "post" else None

    response = getattr(api, method)(url, data, format="json")

    assert response.status_code in (400, 404) or response.data == []


def test_rolling_back_to_a_version_that_does_not_exist_is_a_404(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    response = api.post("/api/mlops/models/test-lookup/rollback/", {"version": 99}, format="json")

    assert response.status_code == 404 and "no version 99" in str(response.data)
    assert not PromotionEvent.objects.filter(to_version=99).exists()


def test_a_promotion_without_a_user_is_listed_with_user_null(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    events = api.get("/api/mlops/models/test-lookup/events/").data

    assert events[0]["user"] is None


def test_events_and_runs_without_a_user_are_documented_as_nullable():
    # A gate promotion by a command or a scheduled run has no user; the API answers null.
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    assert schemas["PromotionEvent"]["properties"]["user"].get("nullable") is True
    assert schemas["TrainingRun"]["properties"]["started_by"].get("nullable") is True


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("sentiment", {"data": "/etc/passwd"}),
        ("sentiment", {"unlabelled": "news.txt,../../outside.txt"}),
        ("support-intent", {"data": "/etc/hostname"}),
        ("sentiment-base", {"corpus": "/proc/self/environ"}),
    ],
)
def test_a_run_from_the_api_reads_no_file_outside_the_training_files_folder(
    api, settings, tmp_path, name, files
):
    settings.ML_TRAINING_FILES_DIR = tmp_path / "training-files"
    settings.ML_TRAINING_FILES_DIR.mkdir()
    (settings.ML_TRAINING_FILES_DIR / "news.txt").write_text("Shares rose.\n")
    (tmp_path / "outside.txt").write_text("not for training runs\n")

    response = api.post("/api/mlops/runs/", {"model_name": name, "params": files}, format="json")

    assert response.status_code == 400
    (param,) = files
    assert "training files folder" in str(response.data["params"][param])
    assert not TrainingRun.objects.exists()


def test_files_in_the_training_files_folder_are_taken_by_name(settings, tmp_path):
    settings.ML_TRAINING_FILES_DIR = tmp_path / "training-files"
    settings.ML_TRAINING_FILES_DIR.mkdir()
    for name in ("a.txt", "b.txt"):
        (settings.ML_TRAINING_FILES_DIR / name).write_text("Shares rose.\n")

    clean = params_validate(kind_get("sentiment"), {"unlabelled": "a.txt, b.txt"})

    root = settings.ML_TRAINING_FILES_DIR.resolve()
    assert clean["unlabelled"] == f"{root / 'a.txt'},{root / 'b.txt'}"
    with pytest.raises(ParamsInvalid, match=r"no file 'c\.txt'"):
        params_validate(kind_get("sentiment"), {"unlabelled": "c.txt"})
