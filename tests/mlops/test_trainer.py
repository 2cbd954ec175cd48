"""Training in this process as a recorded run (the demo's background trainer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.mlops import services
from apps.mlops.models import ModelVersion, TrainingRun
from tests.mlops.factories import TrainingRunFactory

pytestmark = pytest.mark.django_db


def test_trains_as_a_recorded_run_and_promotes_the_first_version(
    django_capture_on_commit_callbacks,
):
    lines: list[str] = []

    with django_capture_on_commit_callbacks(execute=True):
        run = services.model_train_here(name="test-lookup", params={"steps": 3}, log=lines.append)

    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.version is not None and run.version.is_production
    assert services.model_available("test-lookup")
    assert any(f"training as run #{run.pk}" in line for line in lines)
    assert "registered v1" in run.log


def test_a_failed_training_raises_with_the_run_and_its_error():
    with pytest.raises(services.TrainingFailed, match="ended failed"):
        services.model_train_here(name="test-lookup", params={"steps": "many"}, log=print)

    assert TrainingRun.objects.get().status == TrainingRun.Status.FAILED
    assert not ModelVersion.objects.exists()


def test_a_run_whose_process_died_is_failed_and_trained_again():
    dead = TrainingRunFactory(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )

    run = services.model_train_here(name="test-lookup", params={}, log=print)

    dead.refresh_from_db()
    assert dead.status == TrainingRun.Status.FAILED
    assert run.pk != dead.pk and run.status == TrainingRun.Status.SUCCEEDED


def test_a_trainer_stopped_mid_run_cancels_its_run(monkeypatch):
    def stopped(*, run_id, on_progress):  # type: ignore[no-untyped-def]
        TrainingRun.objects.filter(pk=run_id).update(status=TrainingRun.Status.RUNNING)
        raise KeyboardInterrupt

    monkeypatch.setattr("apps.mlops.services.trainer.training_run_execute", stopped)

    with pytest.raises(KeyboardInterrupt):
        services.model_train_here(name="test-lookup", params={}, log=print)

    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.CANCELLED and run.finished_at is not None
