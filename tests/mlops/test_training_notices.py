"""Pages say which models are still being trained for the first time, and when they are ready."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.mlops import selectors
from apps.mlops.models import TrainingRun
from tests.mlops.factories import ModelVersionFactory, TrainingRunFactory

pytestmark = pytest.mark.django_db


def _training(**progress: float) -> TrainingRun:
    return TrainingRunFactory(status=TrainingRun.Status.RUNNING, progress=progress)


def test_a_first_training_is_listed_with_its_progress_and_minutes_left():
    run = _training(step=3, total_steps=10, eta_s=90)

    [notice] = selectors.models_in_training()

    assert notice["run_id"] == run.pk and notice["percent"] == 30.0
    assert notice["minutes"] == 2  # 90 s left plus registering, rounded up


def test_no_notice_once_the_model_serves_or_when_nothing_trains():
    assert selectors.models_in_training() == []

    _training(step=1, total_steps=10, eta_s=600)
    ModelVersionFactory(is_production=True)

    assert selectors.models_in_training() == []


def test_signed_in_pages_say_a_model_is_being_trained_and_customers_see_nothing(ml_admin):
    run = _training(step=5, total_steps=10, eta_s=200)
    staff = Client()
    staff.force_login(ml_admin)

    page = staff.get("/").content.decode()
    public = Client().get("/").content.decode()

    assert "the model is being trained (50% done): ready in about 4 minutes" in page
    assert f"/mlops/runs/{run.pk}/" in page
    assert "being trained" not in public
