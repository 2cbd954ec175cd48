"""The Celery app, and the embedded worker used when no broker is configured."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading

from celery import Celery
from celery.beat import EmbeddedService
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_process_init,
    worker_ready,
)
from django.conf import settings
from django.db import connection

from apps.core.pii import PiiMaskingFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("textsuite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SCHEDULE_MODULES = ("apps.mlops", "apps.sentiment", "apps.support", "apps.recommender")


def beat_schedule() -> dict[str, dict[str, object]]:
    """Every app's periodic tasks (`BEAT_SCHEDULE` in its schedules.py), merged."""

    merged: dict[str, dict[str, object]] = {}
    for package in SCHEDULE_MODULES:
        try:
            module = importlib.import_module(f"{package}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.schedules":
                raise
            continue
        merged.update(module.BEAT_SCHEDULE)
    return merged


app.conf.beat_schedule = beat_schedule()

log = logging.getLogger(__name__)


@after_setup_logger.connect
@after_setup_task_logger.connect
def pii_masking_install(logger: logging.Logger, **_kwargs: object) -> None:
    """A worker replaces the root logger's handlers with its own: mask personal data in them
    too, as settings.LOGGING does for the web processes."""
    for handler in logger.handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())


_embedded_lock = threading.Lock()
_embedded_started = False


def _warm_models() -> None:
    # setup: Celery's app is created before Django's apps are loaded
    from apps.mlops.services import models_warm

    try:
        models_warm()
    except Exception:  # a missing model must not stop a worker from taking other work
        log.exception("model warm-up failed")


def _warm_models_in_background() -> threading.Thread:
    def run() -> None:

        try:
            _warm_models()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run, name="model-warm-up", daemon=True)
    thread.start()
    return thread


@worker_process_init.connect
def _on_worker_process_init(**_: object) -> None:
    # A prefork child must report up within worker_proc_alive_timeout (4 s) or the parent kills
    # it, and loading the models takes longer: a respawned child was then killed in a loop and
    # the pool never came back. So the child warms in a side thread and reports up at once; a
    # task that arrives first loads what it needs itself (model_load locks per model).
    _warm_models_in_background()


@worker_ready.connect
def _on_worker_ready(sender: object = None, **_: object) -> None:
    # Solo and thread pools run tasks in this process, so warm it. Prefork children warm after
    # the fork instead (above): torch must not start its thread pools before a fork.
    pool = getattr(sender, "pool", None)
    if pool is None or not type(pool).__module__.endswith("prefork"):
        _warm_models()


def embedded_worker_start() -> bool:
    """Start one in-process worker thread on the in-memory broker (embedded profile only)."""
    global _embedded_started

    if not settings.CELERY_EMBEDDED_WORKER:
        return False
    with _embedded_lock:
        if _embedded_started:
            return False
        _embedded_started = True
    # From now on tasks go to the worker thread instead of running inline.
    app.conf.task_always_eager = False

    def run() -> None:
        worker = app.Worker(
            pool="threads",
            concurrency=2,
            queues=["inference", "training"],
            loglevel="INFO",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname=f"embedded@{socket.gethostname()}",
            redirect_stdouts=False,
            quiet=True,
        )
        # install_signal_handlers only works in the main thread; this worker lives in another.
        worker.install_platform_tweaks = lambda *_a, **_k: None
        worker.start()

    threading.Thread(target=run, name="celery-embedded", daemon=True).start()

    EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler).start()
    log.info("embedded Celery worker started (in-memory broker)")
    return True


@worker_ready.connect
def _reconcile_production_aliases(**_: object) -> None:
    # A promotion whose process died between its commit and its alias write left the alias file
    # behind the database; repair it before this worker serves (beat repeats it every 5 min).
    # (setup: Celery's app is created before Django's apps are loaded)
    from apps.mlops.aliases import production_aliases_reconcile

    try:
        production_aliases_reconcile()
    except Exception:  # no database yet must not stop a worker from starting
        log.exception("reconciling the production aliases failed")
