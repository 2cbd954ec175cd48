"""Audit of the model lifecycle (6), mostly from API fuzzing on PostgreSQL: a schedule without a
period or with one too long for a date, names with a NUL character, rollback to a version that
does not exist, null users in the schema, and the gate's note kept when the tolerance is saved."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.mlops import selectors, services
from apps.mlops.models import PromotionEvent, RetrainSchedule

from .conftest import lookup_version

pytestmark = pytest.mark.django_db

SCHEDULE = "/api/mlops/models/test-lookup/schedule/"


def test_a_schedule_put_without_every_hours_takes_the_default_period(api):
    response = api.put(SCHEDULE, {"params": {"steps": 1}}, format="json")

    assert response.status_code == 200
    assert response.data["every_hours"] == 24
    assert RetrainSchedule.objects.get(name="test-lookup").every_hours == 24


@pytest.mark.parametrize("hours", [100_000_000, 2_147_483_647])
def test_a_schedule_period_too_long_for_a_date_is_a_400_and_saves_nothing(api, hours):
    api.put(SCHEDULE, {"every_hours": 12}, format="json")

    response = api.put(SCHEDULE, {"every_hours": hours}, format="json")

    assert response.status_code == 400 and "every_hours" in response.data
    assert RetrainSchedule.objects.get(name="test-lookup").every_hours == 12


def test_the_schedule_form_refuses_a_period_longer_than_a_year(admin_client):
    response = admin_client.post(
        "/mlops/models/test-lookup/schedule/", {"enabled": "on", "every_hours": "100000000"}
    )

    assert response.status_code == 400
    assert "at least once a year" in response.content.decode()
    assert not RetrainSchedule.objects.exists()


def test_model_reads_by_a_name_with_a_nul_character_find_nothing():
    # PostgreSQL refuses a NUL even in a lookup; every API view and page reads through these.
    lookup_version(0.8)

    assert selectors.model_versions("test-lookup\x00") == []
    assert selectors.version_get("test-lookup\x00", 1) is None
    assert selectors.promotion_events("test-lookup\x00") == []
    assert selectors.training_runs("test-lookup\x00") == []


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


def test_the_version_page_of_a_name_with_a_nul_character_is_a_client_error(admin_client):
    assert admin_client.get("/mlops/models/a%00b/v1/").status_code in (400, 404)


def test_rolling_back_to_a_version_that_does_not_exist_is_a_404(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    response = api.post("/api/mlops/models/test-lookup/rollback/", {"version": 99}, format="json")

    assert response.status_code == 404 and "no version 99" in str(response.data)
    assert not PromotionEvent.objects.filter(to_version=99).exists()


def test_the_rollback_page_says_a_missing_version_does_not_exist(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    response = admin_client.post(
        "/mlops/models/test-lookup/rollback/", {"version": "99"}, follow=True
    )

    assert "test-lookup has no version 99" in response.content.decode()


def test_events_and_runs_without_a_user_are_documented_as_nullable():
    # A gate promotion by a command or a scheduled run has no user; the API answers null.
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    assert schemas["PromotionEvent"]["properties"]["user"].get("nullable") is True
    assert schemas["TrainingRun"]["properties"]["started_by"].get("nullable") is True


def test_a_promotion_without_a_user_is_listed_with_user_null(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    events = api.get("/api/mlops/models/test-lookup/events/").data

    assert events[0]["user"] is None


def test_the_gate_form_shows_the_recorded_note_so_saving_keeps_it(admin_client):
    services.model_policy_set(name="test-lookup", tolerance=0.02, note="noisy eval set")

    page = admin_client.get("/mlops/models/test-lookup/").content.decode()

    assert 'name="note" maxlength="300" value="noisy eval set"' in page
