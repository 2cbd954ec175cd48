"""Adapt an app's base encoder to unlabelled text, register it, and try it at the gate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.mlops.adapted_bases import adapted_base_models, adapted_base_name
from apps.mlops.kinds import kind_list
from apps.mlops.progress import TerminalProgress
from apps.mlops.services import version_train_and_register
from mlcore.adapt import DEFAULT_METHOD, METHODS

SUFFIX = "-base"


def _apps() -> list[str]:
    return [k.name[: -len(SUFFIX)] for k in kind_list() if k.name.endswith(SUFFIX)]


class Command(BaseCommand):
    help = (
        "Adapt the app's base encoder to FILE(s) (plain text, one text a line) and uploaded "
        "corpora (--corpus-id; default the app's own texts) with METHOD, register it as "
        "<app>-base (MiniLM) or <app>-base-<model> with its corpus hash, method and metrics, "
        "and with --promote put it in production if the app's evaluation says it is better "
        "than the base it would replace."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app", required=True, choices=_apps())
        parser.add_argument("--corpus", action="append", default=[], metavar="FILE")
        parser.add_argument(
            "--corpus-id",
            action="append",
            type=int,
            default=[],
            metavar="ID",
            help="a corpus uploaded for the app (Models → Corpora, /api/mlops/corpora/); "
            "repeatable, and read together with any --corpus files",
        )
        parser.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS))
        parser.add_argument("--epochs", type=int, default=1)
        parser.add_argument("--max-steps", type=int, default=0, help="cap on adaptation steps")
        parser.add_argument(
            "--eval-max-steps",
            type=int,
            default=0,
            help="cap on each evaluation fine-tune's steps (a quick trial)",
        )
        parser.add_argument(
            "--base-model",
            default="minilm",
            help="the encoder adapted: minilm (every app), multilingual or mpnet (sentiment: "
            "the model Chinese text trains from, and the distillation teacher)",
        )
        parser.add_argument(
            "--promote", action="store_true", help="promote it if the gate says it is better"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        params: dict[str, Any] = {
            "method": options["method"],
            "epochs": options["epochs"],
            "base_model": options["base_model"],
        }
        if options["corpus"]:
            params["corpus"] = list(options["corpus"])
        if options["corpus_id"]:
            params["corpora"] = list(options["corpus_id"])
        if options["max_steps"]:
            params["max_steps"] = options["max_steps"]
        if options["eval_max_steps"]:
            params["eval_max_steps"] = options["eval_max_steps"]
        app, model = options["app"], options["base_model"]
        models = adapted_base_models(app)
        if model not in models:
            raise CommandError(f"the {app} app adapts {', '.join(models)}, not {model}")
        name = adapted_base_name(app, model)
        try:
            version, result = version_train_and_register(
                name=name,
                params=params,
                promote=options["promote"],
                log=lambda line: self.stdout.write(line),
                progress=TerminalProgress(stream=self.stdout),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        metrics = version.metrics
        metric = metrics.get("app_metric", "")
        self.stdout.write(
            f"registered {name} v{version.version} ({metrics.get('method')}, corpus "
            f"{version.data_hash[:12]}): {metric} {metrics.get(metric)} vs "
            f"{metrics.get(f'reference_{metric}')} with the base it would replace, cosine to "
            f"the base {metrics.get('cosine_to_base')}"
        )
        if result is None:
            self.stdout.write("not promoted (no --promote)")
        elif result.promoted:
            self.stdout.write(self.style.SUCCESS(f"promoted: {result.message}"))
        else:
            self.stdout.write(self.style.WARNING(f"not promoted: {result.message}"))
