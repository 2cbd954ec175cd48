"""Load the demo: users for every role, then each app's demo data and demo models."""

from __future__ import annotations

import importlib
import time
from typing import Any

from django.core.management.base import BaseCommand

from apps.accounts.models import Role
from apps.accounts.services import user_create

DEMO_USERS = [
    ("admin", [r.value for r in Role], True),
    ("agent", [Role.SUPPORT_AGENT.value], False),
    ("analyst", [Role.ANALYST.value], False),
    ("merchandiser", [Role.MERCHANDISER.value], False),
    ("mladmin", [Role.ML_ADMIN.value], False),
]
DEMO_APPS = ["apps.sentiment", "apps.support", "apps.recommender"]


class Command(BaseCommand):
    help = "Create demo users and load every app's demo data; train demo models unless present."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-train", action="store_true", help="load data, skip training")
        parser.add_argument("--only", choices=[a.split(".")[1] for a in DEMO_APPS], nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        for username, roles, superuser in DEMO_USERS:
            user_create(
                username=username,
                password=username,
                email=f"{username}@example.com",
                roles=roles,
                is_superuser=superuser,
                is_staff=superuser,
            )
        self.stdout.write(
            "demo users: " + ", ".join(u for u, _, _ in DEMO_USERS) + " (password = username)"
        )
        for module_name in DEMO_APPS:
            if options["only"] and module_name.split(".")[1] not in options["only"]:
                continue
            started = time.monotonic()
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {module_name}"))
            module = importlib.import_module(f"{module_name}.demo")
            module.demo_load(log=self.stdout.write, train=not options["no_train"])
            self.stdout.write(f"   done in {time.monotonic() - started:.0f}s")
