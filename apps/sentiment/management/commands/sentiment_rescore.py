"""Score texts again with the production sentiment model (after a promotion)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.mlops.services import registry
from apps.sentiment import services
from apps.sentiment.models import Score
from apps.sentiment.training import MODEL_NAME
from mlcore.registry import UnknownVersion


def production_version() -> str | None:
    """The production sentiment model's version label ("v7"), None when there is none."""
    try:
        return f"v{registry().resolve(MODEL_NAME)}"
    except UnknownVersion:
        return None


def _moment(value: str, option: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (naive means UTC)."""
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise CommandError(f"{option} {value!r} is not a date (use YYYY-MM-DD or ISO 8601)")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Score scored texts again with the production sentiment model: those published in the "
        "last N days or since a date, those scored by an older model version, or all of them. "
        "Their old scores are taken out of the hourly aggregates and they are queued for scoring."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the model version to rescore here, not Django's own version.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--days", type=int, help="texts published in the last N days")
        when.add_argument("--since", help="texts published since DATE (YYYY-MM-DD or ISO 8601)")
        parser.add_argument("--until", help="texts published before DATE (with --since)")
        parser.add_argument(
            "--version", dest="model_version", help="texts scored by this model version (v3)"
        )
        parser.add_argument("--all", action="store_true", help="every scored text")
        parser.add_argument(
            "--dry-run", action="store_true", help="only say how many texts would be rescored"
        )
        parser.add_argument("--batch-size", type=int, default=services.DOCUMENT_WRITE_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        days, since_text, until_text = options["days"], options["since"], options["until"]
        version = (options["model_version"] or "").strip()
        if options["all"] and (days is not None or since_text or until_text or version):
            raise CommandError("--all rescores every scored text; leave out the other filters")
        if not options["all"] and days is None and not since_text and not version:
            raise CommandError(
                "say what to rescore: --days N, --since DATE, --version vN, or --all"
            )
        if until_text and not since_text:
            raise CommandError("--until needs --since")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        since = until = None
        if days is not None:
            if days < 1:
                raise CommandError(f"--days must be at least 1, not {days}")
            since = now - timedelta(days=days)
        if since_text:
            since = _moment(since_text, "--since")
            if since > now:
                raise CommandError(f"--since {since_text} is in the future")
        if until_text:
            until = _moment(until_text, "--until")
            if since is not None and until <= since:
                raise CommandError("--until must be after --since")
        if version:
            if re.fullmatch(r"\d+", version):
                version = f"v{version}"
            in_use = dict(
                Score.objects.values_list("model_version")
                .annotate(n=Count("pk"))
                .values_list("model_version", "n")
            )
            if version not in in_use:
                known = ", ".join(sorted(in_use)) or "none"
                raise CommandError(
                    f"no text was scored by model version {version} (versions in use: {known})"
                )

        production = production_version()
        if production is None and not options["dry_run"]:
            raise CommandError(
                "there is no production sentiment model to score with; promote one first "
                "(nothing was changed)"
            )
        if version and version == production:
            self.stderr.write(
                f"note: {version} is the production model; its texts get the same scores "
                "(only new watchlist companies and topic rules change their tags)"
            )

        scope = self._scope(since=since, until=until, version=version)
        if options["dry_run"]:
            count = services.documents_rescore_count(
                since=since, until=until, model_version=version or None, scored_before=now
            )
            self.stdout.write(f"Would rescore {count} texts ({scope}); nothing was changed.")
            return
        result = services.documents_rescore(
            since=since,
            until=until,
            model_version=version or None,
            scored_before=now,
            batch_size=options["batch_size"],
        )
        batches = f"{result.batches} batch{'es' if result.batches != 1 else ''}"
        self.stdout.write(
            f"Rescoring {result.rescored} texts ({scope}) with the production model "
            f"{production}, in {batches}: their old scores left the hourly aggregates and they "
            "are queued for scoring. Alerts already opened stay as they are."
        )

    @staticmethod
    def _scope(*, since: datetime | None, until: datetime | None, version: str) -> str:
        parts = []
        if since is not None:
            parts.append(f"published since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        if until is not None:
            parts.append(f"before {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        if version:
            parts.append(f"scored by {version}")
        return ", ".join(parts) or "every scored text"
