import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...kinds import kind_get
from ...progress import TerminalProgress
from ...services import version_train_and_register


class Command(BaseCommand):
    help = "Train a model in this process with live progress, register the version, gate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--params", default="{}", help="JSON, e.g. '{\"epochs\": 2}'")
        parser.add_argument("--no-promote", action="store_true", help="register only")
        parser.add_argument(
            "--force", action="store_true", help="promote even if the gate refuses (recorded)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            kind_get(options["name"])
            params = json.loads(options["params"])
        except KeyError as exc:
            raise CommandError(str(exc)) from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object")
        version, result = version_train_and_register(
            name=options["name"],
            params=params,
            promote=not options["no_promote"],
            override=options["force"],
            log=lambda line: self.stdout.write(line),
            progress=TerminalProgress(stream=self.stdout),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"registered {version.name} v{version.version}: "
                f"{version.main_metric}={version.main_value}"
            )
        )
        if result:
            self.stdout.write(f"{result.kind}: {result.message}")
