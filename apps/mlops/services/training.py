"""Training runs (start, cancel, execute with heartbeats, stale sweep) and retrain schedules."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..kinds import TrainingContext, kind_get
from ..models import (
    SCHEDULE_MAX_HOURS,
    ModelVersion,
    RetrainSchedule,
    TrainingRun,
)
from ..realtime import training_run_broadcast
from ..selectors import run_times
from .versions import (
    PromotionResult,
    _fmt,
    _user_or_none,
    model_version_promote,
    model_version_register,
)

log = logging.getLogger(__name__)


# A live run touches its heartbeat this often, and at least 4 times per ML_RUN_STALE_AFTER_S.
HEARTBEAT_SECONDS = 20


@transaction.atomic
def training_run_start(
    *,
    model_name: str,
    params: dict[str, Any] | None = None,
    user: Any = None,
    promote: bool = True,
    enqueue: bool = True,
) -> TrainingRun:
    """Record a run and queue it on the `training` queue once the record is committed.

    With `enqueue=False` the caller runs it itself (`training_run_execute`), as the demo's
    background trainer does: a process of its own, whatever the broker."""
    kind = kind_get(model_name)
    if kind.train is None:
        raise ValueError(f"{model_name} cannot be trained from here")
    if params is not None and not isinstance(params, dict):
        raise ValueError("params must be a JSON object")
    run = TrainingRun.objects.create(
        model_name=model_name,
        params=params or {},
        promote=promote,
        started_by=_user_or_none(user),
    )
    # cycle: the tasks module imports this one
    from ..tasks import training_run_execute_task

    run_id = run.pk
    if enqueue:
        transaction.on_commit(lambda: training_run_execute_task.delay(run_id))
    return run


def training_run_cancel(*, run_id: int) -> bool:
    """Ask a run to stop; a queued run is cancelled at once. Returns False if it already ended.

    A running run stops at its next step (the trainer polls `cancel_requested`).
    """
    updated = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if updated:
        _broadcast_status(run_id)
        return True
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
            cancel_requested=True
        )
    )


def _heartbeat_s() -> float:
    stale_after_s: float = settings.ML_RUN_STALE_AFTER_S
    return min(float(HEARTBEAT_SECONDS), stale_after_s / 4)


def training_run_fail_stale(*, older_than_s: int | None = None) -> int:
    """Mark running runs whose worker stopped reporting as failed (a worker died mid-run).

    A live run's worker touches `heartbeat_at` a few times per ML_RUN_STALE_AFTER_S from a side
    thread, even in long phases without progress events, so only a dead worker goes quiet this
    long. The beat runs this every ML_RUN_SWEEP_S.
    """
    if older_than_s is None:
        older_than_s = settings.ML_RUN_STALE_AFTER_S
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stale = list(
        TrainingRun.objects.filter(
            status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    failed = 0
    for run_id in stale:
        failed += TrainingRun.objects.filter(
            pk=run_id, status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff
        ).update(
            status=TrainingRun.Status.FAILED,
            finished_at=timezone.now(),
            error="the worker stopped reporting (it died or was killed); start a new run",
        )
        _broadcast_status(run_id)
    return failed


def _broadcast_status(run_id: int) -> None:

    run = TrainingRun.objects.filter(pk=run_id).values("status", "error").first()
    if run:
        training_run_broadcast(run_id=run_id, payload=dict(run))


def _event_dict(event: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        return dataclasses.asdict(event)
    return dict(event)


class _Heartbeat:
    """Touches a run's heartbeat from a side thread while the run is alive."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, name=f"run-{run_id}-heartbeat", daemon=True
        )

    def _beat(self) -> None:

        try:
            while not self.stop.wait(_heartbeat_s()):
                TrainingRun.objects.filter(
                    pk=self.run_id, status=TrainingRun.Status.RUNNING
                ).update(heartbeat_at=timezone.now())
        except Exception:
            log.warning("heartbeat of run %s stopped", self.run_id, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def training_run_execute(
    *, run_id: int, on_progress: Callable[[TrainingRun], None] | None = None
) -> TrainingRun:
    """Run a queued training run to its end: train, register, gate; idempotent on redelivery."""
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=f"{socket.gethostname()}"[:200],
    )
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:
        fresh = run.heartbeat_at and run.heartbeat_at > timezone.now() - timedelta(
            seconds=settings.ML_RUN_STALE_AFTER_S
        )
        if run.status == TrainingRun.Status.RUNNING and not fresh:
            # Redelivered after its worker died: the earlier attempt can no longer finish.
            TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
                status=TrainingRun.Status.FAILED,
                finished_at=timezone.now(),
                error="the worker running it was lost; start a new run",
            )
            run.refresh_from_db()
            _broadcast_status(run_id)
        return run
    # A page opened while the run was queued learns that it started, and counts time from then.
    training_run_broadcast(run_id=run_id, payload={"status": run.status, **run_times(run)})
    kind = kind_get(run.model_name)
    lines: list[str] = []
    last_write = [0.0]
    last_stop_check = [0.0, False]

    def write_log(message: str) -> None:
        lines.append(f"{timezone.now():%H:%M:%S} {message}")
        log = "\n".join(lines[-500:])
        TrainingRun.objects.filter(pk=run_id).update(log=log)
        # The page shows the log as it grows, not only when the run ends.
        training_run_broadcast(run_id=run_id, payload={"log": log[-20000:]})

    def progress(raw: Any) -> None:
        event = _event_dict(raw)
        is_epoch = event.get("phase") == "epoch"
        now = time.monotonic()
        # Step events can come many times a second; the record and the page need a few.
        if not is_epoch and now - last_write[0] < 0.5:
            return
        last_write[0] = now
        fields: dict[str, Any] = {"progress": event, "heartbeat_at": timezone.now()}
        if is_epoch:
            run.history.append(event)
            fields["history"] = run.history
        TrainingRun.objects.filter(pk=run_id).update(**fields)
        run.progress = event
        if on_progress:
            on_progress(run)

        training_run_broadcast(
            run_id=run_id,
            payload={"status": "running", "progress": event, "history": run.history},
        )

    def should_stop() -> bool:
        now = time.monotonic()
        if now - float(last_stop_check[0]) >= 1.0:
            last_stop_check[0] = now
            last_stop_check[1] = TrainingRun.objects.filter(
                pk=run_id, cancel_requested=True
            ).exists()
        return bool(last_stop_check[1])

    def stop_now() -> bool:
        last_stop_check[0] = 0.0
        return should_stop()

    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-"))
    try:
        with _Heartbeat(run_id):
            if kind.train is None:
                raise ValueError(f"{run.model_name} cannot be trained from here")
            write_log(f"training {run.model_name} with {run.params or 'default parameters'}")
            outcome = kind.train(
                TrainingContext(
                    run_id=run_id,
                    params=run.params,
                    workdir=workdir,
                    progress=progress,
                    should_stop=should_stop,
                    log=write_log,
                )
            )
            if stop_now():
                raise _Cancelled()
            TrainingRun.objects.filter(pk=run_id).update(
                data_snapshot={
                    "hash": outcome.data_hash,
                    "size": outcome.data_size,
                    "label_distribution": outcome.label_distribution,
                },
            )
            version = model_version_register(name=run.model_name, outcome=outcome)
            write_log(
                f"registered v{version.version}: {kind.main_metric}={_fmt(version.main_value)}"
            )
            result_text = "not promoted (promotion not requested)"
            if run.promote:
                result = model_version_promote(
                    name=run.model_name, version=version.version, user=run.started_by
                )
                result_text = f"{result.kind}: {result.message}"
                write_log(result_text)
        TrainingRun.objects.filter(pk=run_id).update(
            status=TrainingRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            version=version,
            metrics=outcome.metrics,
            promotion_result=result_text[:200],
            history=run.history or outcome.history,
        )
    except Exception as exc:
        cancelled = isinstance(exc, _Cancelled) or type(exc).__name__ == "TrainingCancelled"
        write_log("cancelled by request" if cancelled else "failed:\n" + traceback.format_exc())
        TrainingRun.objects.filter(pk=run_id).update(
            status=TrainingRun.Status.CANCELLED if cancelled else TrainingRun.Status.FAILED,
            finished_at=timezone.now(),
            error="" if cancelled else f"{type(exc).__name__}: {exc}"[:2000],
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.refresh_from_db()

    training_run_broadcast(
        run_id=run_id,
        payload={
            "status": run.status,
            "error": run.error,
            "version": run.version.version if run.version else None,
            "promotion_result": run.promotion_result,
            "history": run.history,
            "data_snapshot": run.data_snapshot,
            "log": run.log[-20000:],
            **run_times(run),
        },
    )
    return run


class _Cancelled(Exception):
    pass


def version_train_and_register(
    *,
    name: str,
    params: dict[str, Any],
    promote: bool,
    override: bool = False,
    user: Any = None,
    log: Callable[[str], None] = print,
    progress: Callable[[Any], None] | None = None,
) -> tuple[ModelVersion, PromotionResult | None]:
    """Synchronous training for management commands: train, register, gate (or override).

    `progress` gets each progress event (a dict); pass `apps.mlops.progress.TerminalProgress()`
    for a live progress bar in the terminal.
    """
    kind = kind_get(name)
    if kind.train is None:
        raise ValueError(f"{name} cannot be trained from here")
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    report = progress or (lambda _e: None)
    try:
        outcome = kind.train(
            TrainingContext(
                run_id=None,
                params=params,
                workdir=workdir,
                progress=lambda event: report(_event_dict(event)),
                log=log,
            )
        )
        version = model_version_register(name=name, outcome=outcome)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = None
    if promote or override:
        result = model_version_promote(
            name=name,
            version=version.version,
            user=user,
            override=override,
            reason="forced with --promote" if override else "",
        )
    return version, result


@transaction.atomic
def retrain_schedule_set(
    *,
    name: str,
    every_hours: int,
    enabled: bool = True,
    params: dict[str, Any] | None = None,
    promote: bool = True,
    user: Any = None,
) -> RetrainSchedule:
    """Create or change the retraining schedule of a model; the first run is one period away."""
    kind = kind_get(name)
    if kind.train is None:
        raise ValueError(f"{name} cannot be trained from here")
    if every_hours < 1:
        raise ValueError("retrain at most once an hour")
    if every_hours > SCHEDULE_MAX_HOURS:
        raise ValueError(f"retrain at least once a year (at most {SCHEDULE_MAX_HOURS} hours)")
    if params is not None and not isinstance(params, dict):
        raise ValueError("params must be a JSON object")
    schedule = RetrainSchedule.objects.filter(name=name).first()
    next_run_at = timezone.now() + timedelta(hours=every_hours)
    if schedule is None:
        schedule = RetrainSchedule(name=name, next_run_at=next_run_at)
    elif schedule.every_hours != every_hours or not schedule.enabled:
        schedule.next_run_at = next_run_at
    schedule.every_hours = every_hours
    schedule.enabled = enabled
    schedule.params = params or {}
    schedule.promote = promote
    schedule.updated_by = _user_or_none(user)
    schedule.save()
    return schedule


def retrain_schedules_run_due(*, now: Any = None) -> list[int]:
    """Start a run for every enabled schedule that is due; returns the new runs' ids.

    The due time is claimed with a conditional update, so two beat ticks (or two beat
    processes) never start the same run twice. A model with a run still active is skipped.
    """
    now = now or timezone.now()
    started = []
    for schedule in RetrainSchedule.objects.filter(enabled=True, next_run_at__lte=now):
        claimed = RetrainSchedule.objects.filter(
            pk=schedule.pk, next_run_at=schedule.next_run_at
        ).update(next_run_at=now + timedelta(hours=schedule.every_hours))
        if not claimed:
            continue
        if TrainingRun.objects.filter(
            model_name=schedule.name,
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING],
        ).exists():
            log.info("scheduled retraining of %s skipped: a run is active", schedule.name)
            continue
        try:
            run = training_run_start(
                model_name=schedule.name, params=schedule.params, promote=schedule.promote
            )
        except (KeyError, ValueError):
            log.exception("scheduled retraining of %s could not start", schedule.name)
            continue
        RetrainSchedule.objects.filter(pk=schedule.pk).update(last_run=run)
        started.append(run.pk)
    return started
