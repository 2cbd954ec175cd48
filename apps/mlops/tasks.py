from celery import shared_task

from .services import training_run_execute, training_run_fail_stale


@shared_task(acks_late=True, queue="training", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 60)
def training_run_execute_task(run_id: int) -> str:
    return str(training_run_execute(run_id=run_id).status)


@shared_task(queue="inference")
def training_run_fail_stale_task() -> int:
    return training_run_fail_stale()
