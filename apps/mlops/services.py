"""Registering, promoting, rolling back and loading model versions; training runs."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlcore.registry import PRODUCTION, CorruptArtifact, ModelRegistry, UnknownVersion

from .kinds import ModelKind, TrainingContext, TrainOutcome, kind_get, kind_list
from .models import ModelVersion, PromotionEvent, TrainingRun

log = logging.getLogger(__name__)
T = TypeVar("T")


@lru_cache(maxsize=1)
def registry() -> ModelRegistry:
    return ModelRegistry(settings.ML_MODEL_DIR)


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


def _is_acceptable(kind: ModelKind, candidate: float | None, current: float | None) -> bool:
    if current is None:
        return True
    if candidate is None:
        return False
    if kind.higher_is_better:
        return candidate >= current - kind.tolerance
    return candidate <= current + kind.tolerance


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

    The gate: the main metric may not be worse than production's by more than the kind's
    tolerance. Artifacts are verified first; a corrupt version is refused whatever the override.
    """
    kind = kind_get(name)
    candidate = ModelVersion.objects.get(name=name, version=version)
    current = ModelVersion.objects.filter(name=name, is_production=True).first()
    from_version = current.version if current else None
    user_id = getattr(user, "pk", None)

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
    except CorruptArtifact as exc:
        return refuse(f"artifact check failed: {exc}")
    new_value, old_value = candidate.main_value, current.main_value if current else None
    if rollback:
        event_kind = PromotionEvent.Kind.ROLLBACK
    elif _is_acceptable(kind, new_value, old_value):
        event_kind = PromotionEvent.Kind.PROMOTE
    elif override:
        event_kind = PromotionEvent.Kind.OVERRIDE
    else:
        return refuse(
            f"{kind.main_metric} {_fmt(new_value)} is worse than production v{from_version}'s "
            f"{_fmt(old_value)} by more than the tolerance {kind.tolerance}"
        )
    message = reason or (f"{kind.main_metric} {_fmt(new_value)} vs production {_fmt(old_value)}")
    with transaction.atomic():
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
        # The alias file is what every process reads; move it only once the rows are written.
        transaction.on_commit(lambda: registry().set_alias(name, PRODUCTION, version))
    return PromotionResult(True, event_kind, message, from_version, version)


def model_version_rollback(
    *, name: str, version: int, user: Any = None, reason: str = ""
) -> PromotionResult:
    return model_version_promote(
        name=name,
        version=version,
        user=user,
        rollback=True,
        reason=reason or f"rolled back to v{version}",
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


# -- loading ---------------------------------------------------------------------------------------
def model_load(name: str) -> Any:
    """The production object of a model kind, loaded once per process; follows promotions."""
    kind = kind_get(name)
    return registry().load(name, kind.loader)


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
    run = TrainingRun.objects.create(
        model_name=model_name,
        params=params or {},
        promote=promote,
        started_by=user if getattr(user, "pk", None) else None,
    )
    from .tasks import training_run_execute_task

    transaction.on_commit(lambda: training_run_execute_task.delay(run.pk))
    return run


def training_run_cancel(*, run_id: int) -> bool:
    """Ask a run to stop; a queued run is cancelled at once. Returns False if it already ended."""
    updated = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if updated:
        return True
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
            cancel_requested=True
        )
    )


def training_run_fail_stale(*, older_than_s: int = 300) -> int:
    """Mark running runs whose worker stopped reporting as failed (a worker died mid-run)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    return TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff
    ).update(
        status=TrainingRun.Status.FAILED,
        finished_at=timezone.now(),
        error="the worker stopped reporting (it died or was killed)",
    )


def training_run_execute(
    *, run_id: int, on_progress: Callable[[TrainingRun], None] | None = None
) -> TrainingRun:
    """Run a queued training run to its end: train, register, gate; idempotent on redelivery."""
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=socket.gethostname(),
    )
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:
        if run.status == TrainingRun.Status.RUNNING:
            # Redelivered after its worker died: the earlier attempt can no longer finish.
            TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
                status=TrainingRun.Status.FAILED,
                finished_at=timezone.now(),
                error="the worker running it was lost; start a new run",
            )
            run.refresh_from_db()
        return run
    kind = kind_get(run.model_name)
    assert kind.train is not None
    lines: list[str] = []

    def write_log(message: str) -> None:
        lines.append(f"{timezone.now():%H:%M:%S} {message}")
        TrainingRun.objects.filter(pk=run_id).update(log="\n".join(lines[-500:]))

    def progress(event: dict[str, Any]) -> None:
        fields: dict[str, Any] = {"progress": event, "heartbeat_at": timezone.now()}
        if event.get("phase") == "epoch":
            run.history.append(event)
            fields["history"] = run.history
        TrainingRun.objects.filter(pk=run_id).update(**fields)
        run.progress = event
        if on_progress:
            on_progress(run)
        from .realtime import training_run_broadcast

        training_run_broadcast(run_id=run_id, payload={"progress": event, "history": run.history})

    def should_stop() -> bool:
        return bool(TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists())

    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-"))
    try:
        write_log(f"training {run.model_name} with {run.params or 'default parameters'}")
        context = TrainingContext(
            run_id=run_id,
            params=run.params,
            workdir=workdir,
            progress=progress,
            should_stop=should_stop,
            log=write_log,
        )
        outcome = kind.train(context)
        if should_stop():
            raise _Cancelled()
        version = model_version_register(name=run.model_name, outcome=outcome)
        write_log(f"registered v{version.version}: {kind.main_metric}={_fmt(version.main_value)}")
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
            data_snapshot={
                "hash": outcome.data_hash,
                "size": outcome.data_size,
                "label_distribution": outcome.label_distribution,
            },
            history=outcome.history or run.history,
        )
    except Exception as exc:
        cancelled = isinstance(exc, _Cancelled) or type(exc).__name__ == "TrainingCancelled"
        if not cancelled:
            write_log("failed:\n" + traceback.format_exc())
        TrainingRun.objects.filter(pk=run_id).update(
            status=TrainingRun.Status.CANCELLED if cancelled else TrainingRun.Status.FAILED,
            finished_at=timezone.now(),
            error="" if cancelled else f"{type(exc).__name__}: {exc}",
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.refresh_from_db()
    from .realtime import training_run_broadcast

    training_run_broadcast(run_id=run_id, payload={"status": run.status})
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
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[ModelVersion, PromotionResult | None]:
    """Synchronous training for management commands: train, register, gate (or override)."""
    kind = kind_get(name)
    assert kind.train is not None
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        outcome = kind.train(
            TrainingContext(
                run_id=None,
                params=params,
                workdir=workdir,
                progress=progress or (lambda _e: None),
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
