"""Train the demo's models that have no production version yet, one recorded run each."""

from __future__ import annotations

import importlib
import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mlcore.config import resolve_device
from mlcore.embedder import Embedder

# The chat's intent model first (the chat is what a visitor tries first), then the sentiment
# model (the dashboard's scores wait for it), then the ranker (the shop works without it).
TRAIN_ORDER = ["apps.support", "apps.sentiment", "apps.recommender"]


class Command(BaseCommand):
    help = (
        "Train the demo models that are missing (after `demo_setup --no-train`): each is a "
        "training run the Models pages show live, followed by what waited for it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--max-steps",
            type=int,
            default=None,
            help="cap each fine-tuning at this many steps (a quick trial: tests, smoke checks)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # bin/demo stops the trainer with SIGTERM when the server stops: end like Ctrl-C, so
        # the run in progress is marked cancelled instead of left "running".
        signal.signal(signal.SIGTERM, _interrupt)
        started_all = time.monotonic()
        if resolve_device(settings.ML_DEVICE) == "cpu":
            self._embedder_forms()
        failed = []
        for module_name in TRAIN_ORDER:
            started = time.monotonic()
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {module_name}"))
            module = importlib.import_module(f"{module_name}.demo")
            try:
                module.demo_train(log=self.stdout.write, max_steps=options["max_steps"])
            except Exception as exc:  # one model failing must not keep the others untrained
                failed.append(module_name)
                self.stderr.write(f"   {module_name}: training failed: {exc}")
            self.stdout.write(f"   done in {time.monotonic() - started:.0f}s")
        self.stdout.write(f"demo models trained in {time.monotonic() - started_all:.0f}s")
        if failed:
            raise CommandError(f"training failed for {', '.join(failed)}; see the runs pages")

    def _embedder_forms(self) -> None:
        """The embedder's ONNX forms, which bin/demo leaves out of the first page's path: until
        they exist the web server embeds with fp32 torch, then switches to the fastest form."""
        started = time.monotonic()
        self.stdout.write(
            self.style.MIGRATE_HEADING("== embedder serving forms (20 to 90 s the first time)")
        )
        measures = Embedder(device="cpu", form="fp32").forms_export()
        rates = ", ".join(f"{m.form} {m.texts_per_s:.0f}/s" for m in measures)
        self.stdout.write(f"   {rates}; done in {time.monotonic() - started:.0f}s")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
