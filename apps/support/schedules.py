BEAT_SCHEDULE = {
    "support-assign-waiting": {
        "task": "apps.support.tasks.conversations_assign_task",
        "schedule": 30.0,
    },
    "support-training-candidates": {
        "task": "apps.support.tasks.training_candidates_collect_task",
        "schedule": 900.0,
    },
    "support-faq-drafts": {
        "task": "apps.support.tasks.faq_drafts_propose_task",
        "schedule": 86400.0,
    },
    # Web pages (URL imports, crawls, sitemaps) due for a conditional re-fetch.
    "support-web-pages-sync": {
        "task": "apps.support.tasks.web_pages_sync_due_task",
        "schedule": 600.0,
    },
}
