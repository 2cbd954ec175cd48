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
    # Knowledge bases still on an older encoder than the production support-base (the
    # promotion's task was lost, or failed): embedded by it and switched. A no-op otherwise.
    "support-adapted-base-sync": {
        "task": "apps.support.tasks.knowledge_bases_adapted_base_task",
        "schedule": 900.0,
    },
}
