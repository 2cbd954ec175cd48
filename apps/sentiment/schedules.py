from celery.schedules import crontab
from django.conf import settings

# The daily digest's hour, in Celery's time zone (CELERY_TIMEZONE).
DIGEST_HOUR = 7

BEAT_SCHEDULE = {
    "sentiment-poll-due-sources": {
        "task": "apps.sentiment.tasks.sources_poll_due_task",
        "schedule": float(settings.SENTIMENT_POLL_DUE_S),
    },
    # Episodes end when a condition clears even if no new documents arrive to trigger a check.
    "sentiment-evaluate-alerts": {
        "task": "apps.sentiment.tasks.alerts_evaluate_task",
        "schedule": crontab(minute="*/5"),
    },
    # Claims a dead worker process left go back to pending within stale-after + this interval.
    "sentiment-rescue-stuck-documents": {
        "task": "apps.sentiment.tasks.documents_rescue_task",
        "schedule": float(settings.SENTIMENT_SCORE_SWEEP_S),
    },
    "sentiment-rescue-import-jobs": {
        "task": "apps.sentiment.tasks.import_jobs_rescue_task",
        "schedule": crontab(minute="2-59/10"),
    },
    "sentiment-daily-digest": {
        "task": "apps.sentiment.tasks.alerts_digest_send_task",
        "schedule": crontab(hour=DIGEST_HOUR, minute=0),
    },
    # Emails and digests whose task ran out of retries (SMTP down for hours) are sent late, once.
    "sentiment-send-pending-alerts": {
        "task": "apps.sentiment.tasks.alerts_send_pending_task",
        "schedule": crontab(minute="5-59/10"),
    },
    "sentiment-digest-catch-up": {
        "task": "apps.sentiment.tasks.alerts_digest_catch_up_task",
        "schedule": crontab(minute=30),
    },
}
