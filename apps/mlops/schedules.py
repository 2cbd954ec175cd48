from celery.schedules import crontab
from django.conf import settings

BEAT_SCHEDULE = {
    "mlops-fail-stale-runs": {
        "task": "apps.mlops.tasks.training_run_fail_stale_task",
        "schedule": float(settings.ML_RUN_SWEEP_S),
    },
    "mlops-retrain-due-models": {
        "task": "apps.mlops.tasks.retrain_schedules_run_due_task",
        "schedule": crontab(minute="*"),
    },
    # A crash between a promotion's commit and its alias write is repaired within 5 minutes.
    "mlops-reconcile-production-aliases": {
        "task": "apps.mlops.tasks.production_aliases_reconcile_task",
        "schedule": crontab(minute="*/5"),
    },
    "mlops-rescue-corpus-imports": {
        "task": "apps.mlops.tasks.corpora_rescue_task",
        "schedule": crontab(minute="4-59/10"),
    },
}
