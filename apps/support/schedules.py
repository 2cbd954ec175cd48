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
}
