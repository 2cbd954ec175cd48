from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore.registry import RegistryError

from ...services import model_version_import, model_version_promote


class Command(BaseCommand):
    help = "Import an exported version as the next version of its model (checksums re-verified)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--name", help="import under another model name")
        parser.add_argument(
            "--promote", action="store_true", help="then promote it through the gate"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = model_version_import(source=Path(options["file"]), name=options["name"])
        except RegistryError as exc:
            raise CommandError(f"refused: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"imported as {version.name} v{version.version}"))
        if options["promote"]:
            result = model_version_promote(name=version.name, version=version.version)
            self.stdout.write(f"{result.kind}: {result.message}")
