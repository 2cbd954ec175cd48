"""Celery entry points of the model lifecycle: they take ids, call one service each."""

from celery import shared_task

from apps.core.upload_jobs import jobs_requeue

from .aliases import production_aliases_reconcile
from .corpora import corpus_import_run
from .models import Corpus
from .services import (
    model_version_optimise,
    retrain_schedules_run_due,
    training_run_execute,
    training_run_fail_stale,
)


@shared_task(acks_late=True, queue="training", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 60)
def training_run_execute_task(run_id: int) -> str:
    return str(training_run_execute(run_id=run_id).status)


@shared_task(queue="inference")
def training_run_fail_stale_task() -> int:
    return training_run_fail_stale()


@shared_task(queue="inference")
def retrain_schedules_run_due_task() -> list[int]:
    return retrain_schedules_run_due()


@shared_task(acks_late=True, queue="training", soft_time_limit=1800, time_limit=1860)
def model_version_optimise_task(name: str, version: int) -> dict[str, object]:
    # Re-running it on redelivery just measures again and overwrites the same files and numbers.
    return model_version_optimise(name=name, version=version)


@shared_task(queue="inference")
def production_aliases_reconcile_task() -> dict[str, str]:
    return production_aliases_reconcile()


@shared_task(acks_late=True, queue="inference", soft_time_limit=1800, time_limit=1900)
def corpus_import_task(corpus_id: int) -> bool:
    """Import an uploaded corpus; idempotent (claimed; a finished one is left alone)."""
    return corpus_import_run(corpus_id=corpus_id)


@shared_task(acks_late=True, queue="inference")
def corpora_rescue_task() -> int:
    """Queue again the corpus imports nobody moved for a while (lost message, dead worker)."""
    return jobs_requeue(Corpus, corpus_import_task)
