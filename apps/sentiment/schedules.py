from celery.schedules import crontab

BEAT_SCHEDULE = {
    "sentiment-poll-due-sources": {
        "task": "apps.sentiment.tasks.sources_poll_due_task",
        "schedule": 60.0,
    },
    # Episodes end when a condition clears even if no new documents arrive to trigger a check.
    "sentiment-evaluate-alerts": {
        "task": "apps.sentiment.tasks.alerts_evaluate_task",
        "schedule": crontab(minute="*/5"),
    },
    "sentiment-rescue-stuck-documents": {
        "task": "apps.sentiment.tasks.documents_rescue_task",
        "schedule": crontab(minute="*/10"),
    },
    "sentiment-daily-digest": {
        "task": "apps.sentiment.tasks.alerts_digest_send_task",
        "schedule": crontab(hour=7, minute=0),
    },
}
