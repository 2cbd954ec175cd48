from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore.registry import RegistryError

from ...archives import model_version_import
from ...services import model_version_promote


class Command(BaseCommand):
    help = (
        "Import an exported version as the next version of its model: the archive must be "
        "signed with this server's archive key (ML_ARCHIVE_KEY); checksums are re-verified and "
        "the version is evaluated on this server's held-out data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--name", help="import under another model name (a registered kind)")
        parser.add_argument(
            "--promote", action="store_true", help="then promote it through the gate"
        )
        parser.add_argument(
            "--force-unsigned",
            action="store_true",
            help="admins only: accept an archive that is unsigned or signed with another key "
            "(recorded in the version's origin)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = model_version_import(
                source=Path(options["file"]),
                name=options["name"],
                force_unsigned=options["force_unsigned"],
            )
        except RegistryError as exc:
            raise CommandError(f"refused: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"imported as {version.name} v{version.version}"))
        main = version.main_value
        self.stdout.write(
            f"{version.main_metric} on this server's held-out data: "
            + (f"{main:.4f}" if main is not None else "not measurable here")
        )
        if options["promote"]:
            result = model_version_promote(name=version.name, version=version.version)
            self.stdout.write(f"{result.kind}: {result.message}")
