"""Train and register a support-intent model from a CSV (text,category); promote if it passes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.mlops.services import version_train_and_register
from apps.support.intent import INTENT_MODEL, TrainingDataError, rows_from_csv
from apps.support.services import intent_calibration_refresh


class Command(BaseCommand):
    help = "Fine-tune the support intent model on FILE.csv (columns text,category)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", required=True, help="CSV with columns text,category")
        parser.add_argument(
            "--promote", action="store_true", help="promote even if worse (recorded as an override)"
        )
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--max-steps", type=int, dest="max_steps")
        parser.add_argument("--learning-rate", type=float, dest="learning_rate")
        parser.add_argument(
            "--ensemble",
            type=int,
            help="members trained with different seeds and served as one model (default: 2 "
            "from 3,000 rows, else 1; each member adds its training time and inference cost)",
        )
        parser.add_argument(
            "--neighbours",
            type=int,
            dest="neighbours_k",
            help="k of the nearest-neighbour vote mixed in where validation says it helps "
            "(default 10; 0 turns it off)",
        )
        parser.add_argument(
            "--base-model",
            dest="base_model",
            help="auto (default: multilingual for a Chinese or mixed training set, else minilm), "
            "minilm, multilingual or mpnet",
        )
        parser.add_argument(
            "--no-calibrate",
            action="store_true",
            help="do not wait here for the confidence calibration (a worker still recalibrates "
            "after the promotion)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = rows_from_csv(options["data"])
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{len(rows)} rows, {len({r[1] for r in rows})} intents")
        params = {"data": options["data"]}
        for key in (
            "epochs",
            "max_steps",
            "learning_rate",
            "ensemble",
            "neighbours_k",
            "base_model",
        ):
            if options.get(key) is not None:
                params[key] = options[key]
        try:
            version, result = version_train_and_register(
                name=INTENT_MODEL,
                params=params,
                promote=True,
                override=options["promote"],
                log=self.stdout.write,
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"registered {INTENT_MODEL} v{version.version}: accuracy "
            f"{version.metrics.get('accuracy', 0):.4f}, macro F1 {version.metrics['macro_f1']:.4f}"
        )
        if result is not None:
            style = self.style.SUCCESS if result.promoted else self.style.WARNING
            self.stdout.write(style(f"{result.kind}: {result.message}"))
        if result is not None and result.promoted and not options["no_calibrate"]:
            # The promotion queued a recalibration already (the kind's on_production hook); it
            # is done here too, so the command ends calibrated even with no worker running, and
            # whichever comes second finds the table fitted for this version and keeps it.
            table = intent_calibration_refresh(version=version.version)
            if table is not None:
                self.stdout.write(f"calibrated confidence on {table['n']} held-out rows")
