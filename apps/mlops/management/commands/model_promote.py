from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import ModelVersion
from ...services import model_version_promote, model_version_rollback


class Command(BaseCommand):
    help = "Promote a version through the gate, override it with a reason, or roll back."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument("--override", action="store_true")
        parser.add_argument("--rollback", action="store_true")
        parser.add_argument("--reason", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["rollback"]:
                result = model_version_rollback(
                    name=options["name"], version=options["version"], reason=options["reason"]
                )
            else:
                result = model_version_promote(
                    name=options["name"],
                    version=options["version"],
                    override=options["override"],
                    reason=options["reason"],
                )
        except ModelVersion.DoesNotExist as exc:
            raise CommandError(f"{options['name']} has no version {options['version']}") from exc
        except (KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        style = self.style.SUCCESS if result.promoted else self.style.WARNING
        self.stdout.write(style(f"{result.kind}: {result.message}"))
        if not result.promoted and result.kind != "noop":
            raise CommandError("not promoted")
