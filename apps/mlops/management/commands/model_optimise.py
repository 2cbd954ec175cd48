import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore.registry import RegistryError
from mlcore.serving.choice import AUTO, FORMS

from ...models import ModelVersion
from ...services import model_version_optimise, model_version_serving_form_set


class Command(BaseCommand):
    help = "Export and measure every serving form of a classifier version; optionally serve one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument(
            "--serve", choices=[*FORMS, AUTO], help="then serve this form (default: auto)"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="serve the form even if it lost more than the form tolerance",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name, version = options["name"], options["version"]
        try:
            result = model_version_optimise(name=name, version=version)
            if options["serve"]:
                model_version_serving_form_set(
                    name=name, version=version, form=options["serve"], force=options["force"]
                )
        except ModelVersion.DoesNotExist as exc:
            raise CommandError(f"{name} has no version {version}") from exc
        except (RegistryError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, indent=2))
