"""manage.py languages_backfill: fill the empty language of rows stored before language detection
(support articles, chunks and messages, sentiment documents, catalog items), in batches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.language_backfill import BackfillCount, language_targets, languages_backfill


class Command(BaseCommand):
    help = (
        "Detect and store the language of rows whose language is empty (stored before language "
        "detection existed), a batch at a time, with progress. Safe to run again: it touches only "
        "rows still empty; texts too short to tell stay empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            default="",
            help=f"comma-separated targets (default all): {', '.join(language_targets())}",
        )
        parser.add_argument("--batch", type=int, default=500, help="rows per batch (default 500)")

    def handle(self, *args: Any, **options: Any) -> None:
        labels = [label.strip() for label in options["only"].split(",") if label.strip()] or None

        def progress(count: BackfillCount) -> None:
            self.stdout.write(f"  {count.line()}")

        try:
            counts = languages_backfill(labels=labels, batch=options["batch"], progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for count in counts:
            if count.pending == 0:
                self.stdout.write(f"{count.label}: nothing to fill")
            else:
                self.stdout.write(self.style.SUCCESS(count.line()))
