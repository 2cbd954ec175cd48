from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly, when the shop is quiet; a run that is not better than production is not promoted.
    "recommender-ranker-retrain": {
        "task": "apps.recommender.tasks.ranker_retrain_task",
        "schedule": crontab(hour=3, minute=15),
    },
}
