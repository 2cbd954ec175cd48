from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly, when the shop is quiet; a run that is not better than production is not promoted.
    "recommender-ranker-retrain": {
        "task": "apps.recommender.tasks.ranker_retrain_task",
        "schedule": crontab(hour=3, minute=15),
    },
    # Catalog imports whose task was lost (broker outage) or whose worker died.
    "recommender-rescue-catalog-imports": {
        "task": "apps.recommender.tasks.catalog_imports_rescue_task",
        "schedule": crontab(minute="4-59/10"),
    },
}
