from celery.schedules import crontab

BEAT_SCHEDULE = {
    "mlops-fail-stale-runs": {
        "task": "apps.mlops.tasks.training_run_fail_stale_task",
        "schedule": crontab(minute="*/5"),
    },
}
