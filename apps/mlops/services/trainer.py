"""Training in this process as a recorded run: the demo's background trainer trains its models
this way after the pages are up, so the Models and run pages show each run like any other."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from ..models import TrainingRun
from .training import training_run_execute, training_run_fail_stale, training_run_start

# How often a run trained or awaited here is reported to the caller's log.
REPORT_EVERY_S = 15.0


class TrainingFailed(RuntimeError):
    """The run ended without a version (failed or cancelled)."""


def _report(log: Callable[[str], None], name: str, run: TrainingRun) -> None:
    event: dict[str, Any] = run.progress or {}
    step, total = event.get("step"), event.get("total_steps")
    if not total:
        log(f"   {name}: run #{run.pk} {run.status}, preparing")
        return
    eta = event.get("eta_s")
    log(
        f"   {name}: step {step}/{total} ({100 * (step or 0) / total:.0f}%)"
        + (f", about {float(eta):.0f} s left" if isinstance(eta, int | float) else "")
    )


def model_train_here(
    *,
    name: str,
    params: dict[str, Any],
    log: Callable[[str], None] = print,
    promote: bool = True,
    poll_s: float = 2.0,
) -> TrainingRun:
    """Train `name` as a run executed in this process, and return the finished run.

    A run of it that another process is training right now (its heartbeat is fresh) is waited
    for instead of trained twice; runs whose process died are failed first by the stale sweep.
    Raises TrainingFailed when the run ends without a version."""
    training_run_fail_stale()
    running = TrainingRun.objects.filter(model_name=name, status=TrainingRun.Status.RUNNING).first()
    if running is not None:
        log(f"   {name}: run #{running.pk} is already training in another process; waiting")
        last = time.monotonic()
        while running.is_active:
            time.sleep(poll_s)
            training_run_fail_stale()
            running.refresh_from_db()
            if time.monotonic() - last >= REPORT_EVERY_S:
                last = time.monotonic()
                _report(log, name, running)
        if running.status == TrainingRun.Status.SUCCEEDED:
            return running
    run = training_run_start(model_name=name, params=params, promote=promote, enqueue=False)
    log(f"   {name}: training as run #{run.pk} (live on the Models page, /mlops/runs/{run.pk}/)")
    last_report = [time.monotonic()]

    def on_progress(current: TrainingRun) -> None:
        if time.monotonic() - last_report[0] >= REPORT_EVERY_S:
            last_report[0] = time.monotonic()
            _report(log, name, current)

    try:
        run = training_run_execute(run_id=run.pk, on_progress=on_progress)
    except BaseException:
        # Stopped mid-run (Ctrl-C, or bin/demo's SIGTERM on exit): no worker will finish this
        # run, so it ends now rather than when the stale sweep notices its silent heartbeat.
        TrainingRun.objects.filter(
            pk=run.pk, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        ).update(
            status=TrainingRun.Status.CANCELLED,
            cancel_requested=True,
            finished_at=timezone.now(),
            # Stopped after registering (in the serving-form export), its version stays.
            error="the process training it was stopped (a version it registered stays)",
        )
        raise
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise TrainingFailed(f"run #{run.pk} of {name} ended {run.status}: {run.error}")
    version = run.version.version if run.version else None
    log(f"   {name}: v{version} registered; {run.promotion_result}")
    return run
