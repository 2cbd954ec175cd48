"""Training runs: end to end, cancellation, dead workers, schedules, terminal progress."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.mlops import services
from apps.mlops.models import ModelVersion, RetrainSchedule, TrainingRun
from apps.mlops.progress import TerminalProgress
from apps.mlops.services import training
from tests.mlops.factories import TrainingRunFactory

pytestmark = pytest.mark.django_db


def test_run_trains_registers_gates_and_records_everything(
    ml_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            model_name="test-lookup", params={"quality": 0.8, "steps": 3}, user=ml_admin
        )

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.version and run.version.version == 1 and run.version.is_production
    assert run.data_snapshot["size"] == 30
    assert run.data_snapshot["label_distribution"] == {"a": 20, "b": 10}
    assert len(run.data_snapshot["hash"]) == 64
    assert run.history and run.history[-1]["phase"] == "epoch"
    assert run.metrics["accuracy"] == 0.8 and run.started_by == ml_admin
    assert "registered v1" in run.log and run.promotion_result.startswith("promote")


def test_run_without_promotion_leaves_production_alone(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_start(model_name="test-lookup", params={"answer": "a"})
        run = services.training_run_start(
            model_name="test-lookup", params={"answer": "b", "quality": 0.99}, promote=False
        )

    run.refresh_from_db()
    assert run.status == "succeeded" and "not promoted" in run.promotion_result
    assert ModelVersion.objects.get(is_production=True).version == 1


def test_cancelling_a_running_run_stops_it_and_registers_nothing():
    run = TrainingRunFactory(params={"steps": 50, "step_seconds": 0.05})

    def cancel_at_first_step(current: TrainingRun) -> None:
        services.training_run_cancel(run_id=current.pk)

    finished = services.training_run_execute(run_id=run.pk, on_progress=cancel_at_first_step)

    assert finished.status == TrainingRun.Status.CANCELLED
    assert finished.progress["step"] < 50
    assert not ModelVersion.objects.exists()
    assert "cancelled" in finished.log


def test_cancelling_a_queued_run_means_it_never_starts():
    run = TrainingRunFactory()

    assert services.training_run_cancel(run_id=run.pk)
    finished = services.training_run_execute(run_id=run.pk)

    assert finished.status == TrainingRun.Status.CANCELLED
    assert not ModelVersion.objects.exists()


def test_cancelling_a_finished_run_is_refused():
    run = TrainingRunFactory(status="succeeded")

    assert services.training_run_cancel(run_id=run.pk) is False


def test_a_failing_train_marks_the_run_failed_with_the_error():
    run = TrainingRunFactory(params={"steps": "many"})

    finished = services.training_run_execute(run_id=run.pk)

    assert finished.status == TrainingRun.Status.FAILED
    assert "ValueError" in finished.error and "Traceback" in finished.log


def test_stale_running_run_is_marked_failed_and_a_live_one_is_not():
    long_ago = timezone.now() - timedelta(minutes=30)
    dead = TrainingRunFactory(status="running", heartbeat_at=long_ago)
    alive = TrainingRunFactory(status="running", heartbeat_at=timezone.now())

    failed = services.training_run_fail_stale()

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert failed == 1
    assert dead.status == "failed" and "stopped reporting" in dead.error
    assert alive.status == "running"


def test_the_stale_limit_for_a_silent_run_is_a_setting(settings):
    settings.ML_RUN_STALE_AFTER_S = 20
    quiet = TrainingRunFactory(
        status="running",
        heartbeat_at=timezone.now() - timedelta(seconds=30),
    )

    failed = services.training_run_fail_stale()

    quiet.refresh_from_db()
    assert failed == 1 and quiet.status == "failed"


def test_a_live_run_heartbeats_several_times_within_a_short_stale_limit(settings):
    settings.ML_RUN_STALE_AFTER_S = 8

    assert training._heartbeat_s() <= 2


def test_the_stale_run_sweeper_runs_at_the_configured_interval(settings):
    import importlib

    from apps.mlops import schedules

    configured = settings.ML_RUN_SWEEP_S
    settings.ML_RUN_SWEEP_S = 5
    try:
        entry = importlib.reload(schedules).BEAT_SCHEDULE["mlops-fail-stale-runs"]
    finally:
        settings.ML_RUN_SWEEP_S = configured
        importlib.reload(schedules)

    assert entry["schedule"] == 5.0


def test_redelivered_task_of_a_dead_worker_fails_the_run_but_not_a_live_one():
    dead = TrainingRunFactory(
        status="running",
        heartbeat_at=timezone.now() - timedelta(minutes=30),
    )
    alive = TrainingRunFactory(status="running", heartbeat_at=timezone.now())

    assert services.training_run_execute(run_id=dead.pk).status == "failed"
    assert services.training_run_execute(run_id=alive.pk).status == "running"


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_keeps_a_quiet_run_alive(monkeypatch):
    monkeypatch.setattr(training, "HEARTBEAT_SECONDS", 0.05)
    run = TrainingRunFactory(
        status="running",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )

    with training._Heartbeat(run.pk):
        import time

        time.sleep(0.3)

    run.refresh_from_db()
    assert run.heartbeat_at > timezone.now() - timedelta(seconds=10)


def test_due_schedule_starts_exactly_one_run(ml_admin, django_capture_on_commit_callbacks):
    schedule = services.retrain_schedule_set(
        name="test-lookup", every_hours=6, params={"quality": 0.7}, user=ml_admin
    )
    later = schedule.next_run_at + timedelta(minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.retrain_schedules_run_due(now=later)
        second = services.retrain_schedules_run_due(now=later)

    schedule.refresh_from_db()
    assert len(first) == 1 and second == []
    run = TrainingRun.objects.get(pk=first[0])
    assert run.status == "succeeded" and run.params == {"quality": 0.7}
    assert schedule.last_run_id == run.pk
    assert schedule.next_run_at == later + timedelta(hours=6)


def test_paused_schedule_starts_nothing():
    schedule = services.retrain_schedule_set(name="test-lookup", every_hours=1, enabled=False)

    started = services.retrain_schedules_run_due(now=schedule.next_run_at + timedelta(hours=2))

    assert started == [] and RetrainSchedule.objects.get().enabled is False


def test_schedule_rejects_unknown_models_and_bad_periods():
    with pytest.raises(KeyError):
        services.retrain_schedule_set(name="nope", every_hours=2)
    with pytest.raises(ValueError):
        services.retrain_schedule_set(name="test-lookup", every_hours=0)


def test_terminal_progress_prints_bar_epoch_step_and_eta():
    out = io.StringIO()
    printer = TerminalProgress(stream=out)

    services.version_train_and_register(
        name="test-lookup", params={"steps": 4}, promote=False, progress=printer, log=lambda _: None
    )

    text = out.getvalue()
    assert "epoch 1/1" in text and "step 4/4" in text and "ETA" in text
    assert "[" + "#" * 28 + "]" in text and "val F1 0.8000" in text


def test_the_run_page_gets_the_start_the_log_as_it_grows_and_the_snapshot_and_times_at_the_end(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[dict] = []
    monkeypatch.setattr(
        training, "training_run_broadcast", lambda *, run_id, payload: sent.append(payload)
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_start(model_name="test-lookup", params={"steps": 3})

    logs = [p["log"] for p in sent if "log" in p and "status" not in p]
    final = sent[-1]
    # First the start with its time, so a page opened while the run was queued counts from it.
    assert sent[0]["status"] == "running" and sent[0]["started_at"] and not sent[0]["finished_at"]
    assert len(logs) >= 2 and "training test-lookup" in logs[0]
    assert all(a in b for a, b in itertools.pairwise(logs))  # each one the earlier log, grown
    assert final["status"] == "succeeded" and final["data_snapshot"]["size"] == 30
    assert final["elapsed_s"] is not None and final["finished_at"]
    assert "registered v1" in final["log"]
