"""Registering, promoting, rolling back and loading model versions; training runs; schedules;
optimised serving forms. Export and import live in archives.py, the alias reconcile in
aliases.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlcore.registry import CorruptArtifact, UnknownVersion

from . import monitoring
from .aliases import production_alias_reconcile
from .evaluation import eval_rows, model_version_evaluate_here
from .kinds import ModelKind, TrainingContext, TrainOutcome, kind_get, kind_list
from .model_store import registry as registry  # re-exported: other apps use services.registry
from .models import (
    SCHEDULE_MAX_HOURS,
    ModelPolicy,
    ModelVersion,
    PromotionEvent,
    RetrainSchedule,
    TrainingRun,
)

log = logging.getLogger(__name__)

# A live run touches its heartbeat this often, and at least 4 times per ML_RUN_STALE_AFTER_S.
HEARTBEAT_SECONDS = 20
# After a failed load of a new production version, keep serving the old one this long before
# trying again (verifying checksums of a large model on every request would be a slowdown).
LOAD_RETRY_SECONDS = 30


# -- versions --------------------------------------------------------------------------------------
@transaction.atomic
def model_version_register(*, name: str, outcome: TrainOutcome) -> ModelVersion:
    """Copy a trained artifact into the registry and mirror it as a `ModelVersion` row."""
    kind = kind_get(name)
    info = registry().register(
        name,
        outcome.artifact_dir,
        metrics=outcome.metrics,
        params=outcome.params,
        data_hash=outcome.data_hash,
        base_model=outcome.base_model,
    )
    version = ModelVersion.objects.create(
        name=name,
        version=info.version,
        metrics=outcome.metrics,
        params=outcome.params,
        data_hash=outcome.data_hash,
        data_size=outcome.data_size,
        label_distribution=outcome.label_distribution,
        base_model=outcome.base_model,
        artifact_path=str(info.path),
        main_metric=kind.main_metric,
    )
    if outcome.after_register:
        outcome.after_register(info.version)
    return version


def model_tolerance(name: str) -> float:
    """The gate's tolerance for `name`: the staff's `ModelPolicy` if set, else the kind's."""
    policy = ModelPolicy.objects.filter(name=name).first()
    return policy.tolerance if policy else kind_get(name).tolerance


@transaction.atomic
def model_policy_set(
    *, name: str, tolerance: float, user: Any = None, note: str = ""
) -> ModelPolicy:
    kind_get(name)
    if not 0 <= tolerance <= 1:
        raise ValueError("the tolerance must be between 0 and 1")
    policy, _ = ModelPolicy.objects.update_or_create(
        name=name,
        defaults={"tolerance": tolerance, "note": note[:300], "updated_by": _user_or_none(user)},
    )
    return policy


def _is_acceptable(
    kind: ModelKind, tolerance: float, candidate: float | None, current: float | None
) -> bool:
    if current is None:
        return True
    if candidate is None:
        return False
    if kind.higher_is_better:
        return candidate >= current - tolerance
    return candidate <= current + tolerance


@dataclass(frozen=True)
class PromotionResult:
    promoted: bool
    kind: str
    message: str
    from_version: int | None
    to_version: int


def model_version_promote(
    *,
    name: str,
    version: int,
    user: Any = None,
    override: bool = False,
    reason: str = "",
    rollback: bool = False,
) -> PromotionResult:
    """Make `version` the production one if the gate allows it, or by recorded override/rollback.

    The gate: the main metric may not be worse than production's by more than the model's
    tolerance (`model_tolerance`). Artifacts are verified first; a corrupt version is refused
    whatever the override. An override needs a reason, which is recorded with the user.
    Raises `ModelVersion.DoesNotExist` for an unknown version.
    """
    kind = kind_get(name)
    candidate = ModelVersion.objects.get(name=name, version=version)
    current = ModelVersion.objects.filter(name=name, is_production=True).first()
    from_version = current.version if current else None
    user_id = getattr(user, "pk", None)
    tolerance = model_tolerance(name)

    def refuse(message: str) -> PromotionResult:
        PromotionEvent.objects.create(
            name=name,
            from_version=from_version,
            to_version=version,
            kind=PromotionEvent.Kind.REFUSED,
            reason=message,
            user_id=user_id,
        )
        return PromotionResult(False, PromotionEvent.Kind.REFUSED, message, from_version, version)

    if current and current.version == version:
        return PromotionResult(
            False, "noop", f"v{version} is already in production", from_version, version
        )
    try:
        registry().verify(name, version)
    except (CorruptArtifact, UnknownVersion) as exc:
        return refuse(f"artifact check failed: {exc}")
    unmeasured = False
    if candidate.origin and not rollback:
        # An imported version's own metrics came inside its archive: judge it on this server's
        # held-out data instead, as a version trained here is judged.
        model_version_evaluate_here(row=candidate)
        unmeasured = candidate.main_value is None
        if unmeasured and not override:
            return refuse(
                f"imported v{version} could not be evaluated on this server's held-out data "
                f"(no {kind.main_metric}); promote it by override with a reason if you trust it"
            )
    new_value, old_value = candidate.main_value, current.main_value if current else None
    if rollback:
        event_kind = PromotionEvent.Kind.ROLLBACK
    elif not unmeasured and _is_acceptable(kind, tolerance, new_value, old_value):
        event_kind = PromotionEvent.Kind.PROMOTE
    elif override:
        if not reason.strip():
            raise ValueError("an override needs a reason")
        event_kind = PromotionEvent.Kind.OVERRIDE
    else:
        return refuse(
            f"{kind.main_metric} {_fmt(new_value)} is worse than production v{from_version}'s "
            f"{_fmt(old_value)} by more than the tolerance {tolerance}"
        )
    message = reason or f"{kind.main_metric} {_fmt(new_value)} vs production {_fmt(old_value)}"
    with transaction.atomic():
        # Lock the model's rows so two promotions of the same model cannot interleave.
        list(ModelVersion.objects.select_for_update().filter(name=name).values_list("pk"))
        ModelVersion.objects.filter(name=name, is_production=True).update(is_production=False)
        ModelVersion.objects.filter(pk=candidate.pk).update(
            is_production=True, promoted_at=timezone.now()
        )
        PromotionEvent.objects.create(
            name=name,
            from_version=from_version,
            to_version=version,
            kind=event_kind,
            reason=message,
            user_id=user_id,
        )
        # The alias file is what every process reads; move it only once the rows are written,
        # to whatever the database then says (a later promotion may have committed meanwhile).
        # A crash before this runs is repaired by the reconcile at worker start and on beat.
        transaction.on_commit(lambda: production_alias_reconcile(name=name))
    return PromotionResult(True, event_kind, message, from_version, version)


def model_version_rollback(
    *, name: str, version: int, user: Any = None, reason: str = ""
) -> PromotionResult:
    """Put an earlier version (older than production, or once in production) back in one step.

    Rollback skips the metric gate (the point is to undo a promotion) but not the artifact check.
    """
    # An unknown version is "no such version", not "newer than production".
    ModelVersion.objects.get(name=name, version=version)
    current = ModelVersion.objects.filter(name=name, is_production=True).first()
    was_production = PromotionEvent.objects.filter(
        name=name,
        to_version=version,
        kind__in=[
            PromotionEvent.Kind.PROMOTE,
            PromotionEvent.Kind.OVERRIDE,
            PromotionEvent.Kind.ROLLBACK,
        ],
    ).exists()
    if current and version > current.version and not was_production:
        raise ValueError(
            f"v{version} is newer than production v{current.version} and was never in "
            "production: promote it through the gate instead"
        )
    return model_version_promote(
        name=name,
        version=version,
        user=user,
        rollback=True,
        reason=reason or f"rolled back to v{version}",
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "pk", None) else None


# -- loading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Served:
    version: int
    stamp: int
    obj: Any


_served: dict[str, _Served] = {}
_load_failed: dict[str, tuple[int, int, float]] = {}
_load_locks: dict[str, threading.Lock] = {}
_load_locks_guard = threading.Lock()


def _stamp(name: str, version: int) -> int:
    # meta.json is rewritten when a version's files change (int8 form, serving form), so its
    # mtime tells a process to reload the same version number.
    try:
        return (registry().root / name / f"v{version:04d}" / "meta.json").stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _load_lock(name: str) -> threading.Lock:
    with _load_locks_guard:
        return _load_locks.setdefault(name, threading.Lock())


def model_load(name: str) -> Any:
    """The production object of a model kind, loaded once per process; follows promotions.

    Every call reads the alias file, so a promotion made by any process is picked up on the next
    call. The new version is loaded (and its checksums verified) before it replaces the old one;
    while one thread loads it, other threads keep getting the old object, and a caller keeps the
    object it got for as long as it holds it, so no request fails during the switch. A version
    that fails to load is refused and the old one keeps serving (retried after a while).
    """
    kind = kind_get(name)
    version = registry().resolve(name)
    stamp = _stamp(name, version)
    current = _served.get(name)
    if current and (current.version, current.stamp) == (version, stamp):
        return current.obj
    failed = _load_failed.get(name)
    if (
        current
        and failed
        and failed[:2] == (version, stamp)
        and time.monotonic() - failed[2] < LOAD_RETRY_SECONDS
    ):
        return current.obj
    lock = _load_lock(name)
    if current is not None:
        if not lock.acquire(blocking=False):
            return current.obj
    else:
        lock.acquire()
    try:
        current = _served.get(name)
        if current and (current.version, current.stamp) == (version, stamp):
            return current.obj
        try:
            registry().verify(name, version)
            obj = kind.loader(registry().artifact_path(name, version))
        except Exception:
            _load_failed[name] = (version, stamp, time.monotonic())
            if current is None:
                raise
            log.exception(
                "could not load %s v%s; v%s keeps serving", name, version, current.version
            )
            return current.obj
        _served[name] = _Served(version, stamp, obj)
        _load_failed.pop(name, None)
        monitoring.serving_version_note(name, version)
        return obj
    finally:
        lock.release()


def model_load_versioned(name: str) -> tuple[Any, int | None]:
    """`model_load` and the version of the object it returned (None if swapped meanwhile)."""
    obj = model_load(name)
    served = _served.get(name)
    return obj, served.version if served is not None and served.obj is obj else None


def model_loaded_version(name: str) -> int | None:
    """The version this process serves right now (None before the first `model_load`)."""
    served = _served.get(name)
    return served.version if served else None


def models_forget() -> None:
    """Drop every loaded model of this process (tests, and after the model folder changes)."""
    _served.clear()
    _load_failed.clear()


def model_available(name: str) -> bool:
    try:
        registry().resolve(name)
    except UnknownVersion:
        return False
    return True


def models_warm() -> list[str]:
    """Load every production model once (called when a worker process starts)."""
    warmed = []
    for kind in kind_list():
        if kind.warm and model_available(kind.name):
            model_load(kind.name)
            warmed.append(kind.name)
    return warmed


# -- training runs ---------------------------------------------------------------------------------
@transaction.atomic
def training_run_start(
    *, model_name: str, params: dict[str, Any] | None = None, user: Any = None, promote: bool = True
) -> TrainingRun:
    """Record a run and queue it on the `training` queue once the record is committed."""
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
    from .tasks import training_run_execute_task

    run_id = run.pk
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
    from .realtime import training_run_broadcast

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
        from django.db import connection

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
    kind = kind_get(run.model_name)
    lines: list[str] = []
    last_write = [0.0]
    last_stop_check = [0.0, False]

    def write_log(message: str) -> None:
        lines.append(f"{timezone.now():%H:%M:%S} {message}")
        TrainingRun.objects.filter(pk=run_id).update(log="\n".join(lines[-500:]))

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
        from .realtime import training_run_broadcast

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
    from .realtime import training_run_broadcast

    training_run_broadcast(
        run_id=run_id,
        payload={
            "status": run.status,
            "error": run.error,
            "version": run.version.version if run.version else None,
            "promotion_result": run.promotion_result,
            "history": run.history,
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


# -- schedules -------------------------------------------------------------------------------------
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


# -- optimised serving forms -----------------------------------------------------------------------
def _is_classifier_artifact(path: Path) -> bool:
    return (path / "serving.json").exists()  # written by mlcore's TextClassifier.save


def _measure(classifier: Any, texts: list[str], labels: list[str], rounds: int) -> dict[str, Any]:
    from mlcore.metrics import classification_report

    classifier.predict(texts[:8])  # warm-up: first call pays for lazy initialisation
    best = float("inf")
    preds: list[str] = []
    for _ in range(rounds):
        started = time.perf_counter()
        preds = [p.label for p in classifier.predict(texts, batch_size=32)]
        best = min(best, time.perf_counter() - started)
    report = classification_report(labels, preds, classifier.labels)
    return {
        "seconds": round(best, 4),
        "texts_per_s": round(len(texts) / best, 1) if best > 0 else None,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro"]["f1"],
    }


def model_version_optimise(*, name: str, version: int, rounds: int = 3) -> dict[str, Any]:
    """Derive the dynamic-int8 serving form of a classifier version and measure it.

    Speed and accuracy of fp32 and int8 are measured on the version's held-out rows
    (`artifact/eval.jsonl`), on the CPU with the same texts, and stored on the version.
    """
    from mlcore.classifier import QUANTIZED_FILE, TextClassifier, int8_form_save

    row = ModelVersion.objects.get(name=name, version=version)
    registry().verify(name, version)
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier; it has no int8 form")
    rows = eval_rows(path / "eval.jsonl")
    if not rows:
        raise ValueError(f"{name} v{version} has no held-out rows (artifact/eval.jsonl)")
    int8_form_save(path)
    registry().add_files(name, version, {QUANTIZED_FILE: path / QUANTIZED_FILE})
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    # Short eval sets time badly; repeat them up to a batch worth measuring.
    repeat = max(1, -(-64 // len(texts)))
    texts_timed, labels_timed = texts * repeat, labels * repeat
    fp32 = _measure(
        TextClassifier.load(path, device="cpu", serving="fp32"), texts_timed, labels_timed, rounds
    )
    int8 = _measure(
        TextClassifier.load(path, device="cpu", serving="int8"), texts_timed, labels_timed, rounds
    )
    result = {
        "form": "int8",
        "eval_rows": len(rows),
        "timed_texts": len(texts_timed),
        "fp32": fp32,
        "int8": int8,
        "speedup": round(fp32["seconds"] / int8["seconds"], 3) if int8["seconds"] else None,
        "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
        "macro_f1_change": round(int8["macro_f1"] - fp32["macro_f1"], 4),
        "int8_bytes": json.loads((path / QUANTIZED_FILE).read_text()).get("int8_bytes"),
        "measured_at": timezone.now().isoformat(),
    }
    row.optimisation = result
    row.save(update_fields=["optimisation"])
    return result


# The int8 form is refused when it lost more accuracy than this on the held-out rows, unless
# forced: dynamic int8 costs MiniLM well under a point, but it wrecks some models (mpnet lost
# 27 points on PhraseBank, docs/sentiment.md).
INT8_MAX_ACCURACY_LOSS = 0.01


def model_version_serving_form_set(
    *, name: str, version: int, form: str, force: bool = False
) -> ModelVersion:
    """Choose the form ('fp32' or 'int8') a classifier version is served in.

    Processes serving this version reload it on their next call (its meta.json changes). The
    int8 form must have lost at most INT8_MAX_ACCURACY_LOSS on the held-out rows when it was
    measured, unless `force`.
    """
    from mlcore.classifier import QUANTIZED_FILE, SERVING_FILE, serving_form_set

    row = ModelVersion.objects.get(name=name, version=version)
    if form not in ("fp32", "int8"):
        raise ValueError("the serving form is 'fp32' or 'int8'")
    path = registry().artifact_path(name, version)
    if not _is_classifier_artifact(path):
        raise ValueError(f"{name} v{version} is not a text classifier")
    if form == "int8" and not (path / QUANTIZED_FILE).exists() and not row.optimisation:
        raise ValueError(f"{name} v{version} has no int8 form yet: optimise it first")
    change = (row.optimisation or {}).get("accuracy_change")
    if form == "int8" and not force and change is not None and change < -INT8_MAX_ACCURACY_LOSS:
        raise ValueError(
            f"the int8 form of {name} v{version} lost {-100 * change:.1f} points of accuracy on "
            f"the held-out rows (more than {100 * INT8_MAX_ACCURACY_LOSS:g}); keep fp32, or "
            "force it"
        )
    registry().verify(name, version)
    serving_form_set(path, form)
    registry().add_files(name, version, {SERVING_FILE: path / SERVING_FILE})
    row.serving_form = form
    row.save(update_fields=["serving_form"])
    return row
