"""Retrain schedules: the period, its default and its upper bound, through the API and the page."""

from __future__ import annotations

import pytest

from apps.mlops.models import RetrainSchedule

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
