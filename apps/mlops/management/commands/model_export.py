from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore.registry import RegistryError

from ...archives import model_version_export


class Command(BaseCommand):
    help = "Export one model version (files, checksums, metrics) to a .tar.gz for backup or moving."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument("file", help="target, e.g. sentiment-v3.tar.gz")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            target = model_version_export(
                name=options["name"], version=options["version"], target=Path(options["file"])
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"exported {options['name']} v{options['version']} "
                f"to {target} ({target.stat().st_size} bytes)"
            )
        )
