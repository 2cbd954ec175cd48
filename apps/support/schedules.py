BEAT_SCHEDULE = {
    "support-assign-waiting": {
        "task": "apps.support.tasks.conversations_assign_task",
        "schedule": 30.0,
    },
}
