"""Train the sentiment model on a labelled file, register it, promote it if it is better."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.mlops.services import version_train_and_register
from apps.sentiment.training import DEFAULT_PARAMS, DEMO_DATA, MODEL_NAME
from apps.sentiment.uploads import UploadError


class Command(BaseCommand):
    help = (
        "Fine-tune the sentiment model on FILE (CSV sentence,label or PhraseBank sentence@label; "
        "default the demo set), the imported labelled sets and analysts' corrections; register "
        "it and promote it if it beats production."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--data",
            default="",
            help=f"base training file (default: the shipped demo set, {DEMO_DATA.name})",
        )
        parser.add_argument(
            "--sets",
            default="all",
            help='imported labelled sets to add: "all" (default), "none" or ids like 3,5',
        )
        # One or the other: "force it" and "only register it" cannot both hold.
        promotion = parser.add_mutually_exclusive_group()
        promotion.add_argument(
            "--promote", action="store_true", help="promote even if worse (recorded as an override)"
        )
        promotion.add_argument("--no-promote", action="store_true", help="register only")
        # Left out, epochs and --adversarial-eps take the defaults; a distilled run's student
        # takes the distillation recipe instead (apps/sentiment/defaults.py).
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--learning-rate", type=float, default=DEFAULT_PARAMS["learning_rate"])
        parser.add_argument("--batch-size", type=int, default=DEFAULT_PARAMS["batch_size"])
        parser.add_argument("--max-length", type=int, default=DEFAULT_PARAMS["max_length"])
        parser.add_argument(
            "--layer-lr-decay",
            type=float,
            default=DEFAULT_PARAMS["layer_lr_decay"],
            help="lr factor per layer below the top (1: one rate for all)",
        )
        parser.add_argument(
            "--adversarial-eps",
            type=float,
            default=None,
            help="FGM step on the embeddings (0: off, halves training time; default "
            f"{DEFAULT_PARAMS['adversarial_eps']}, 0 for a distilled run's student)",
        )
        parser.add_argument(
            "--base-model",
            default="auto",
            help="auto (default: multilingual for a Chinese or mixed training set, else the "
            "production adapted base when there is one, else minilm), minilm, multilingual, or "
            "mpnet (requirements-mpnet.txt; about 8x slower, more accurate)",
        )
        parser.add_argument(
            "--unlabelled",
            action="append",
            default=[],
            metavar="FILE",
            help="unlabelled texts (one a line) a teacher labels for distillation; repeatable",
        )
        parser.add_argument(
            "--unlabelled-corpus",
            action="append",
            type=int,
            default=[],
            metavar="ID",
            help="a corpus uploaded for sentiment (Models → Corpora) the teacher labels; "
            "repeatable, read together with any --unlabelled files",
        )
        parser.add_argument(
            "--distil-documents",
            choices=["auto", "yes", "no"],
            default="auto",
            help="let the teacher label the ingested documents' sentences too (auto, the "
            "default: once there are SENTIMENT_DISTIL_MIN_TEXTS of them, in English, with mpnet "
            "installed)",
        )
        parser.add_argument(
            "--teacher-base",
            default="",
            help="the teacher's base when distilling (default: mpnet when installed, its "
            "production adapted base sentiment-base-mpnet when there is one, else the "
            "production model, else the student's base; a model named here is its general form)",
        )
        parser.add_argument("--max-steps", type=int, default=0)
        parser.add_argument("--no-corrections", action="store_true")
        parser.add_argument(
            "--ensemble",
            type=int,
            default=1,
            help="serve N members (N x the inference cost); when distilling, the teacher's N "
            "members teach one student",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        params = {
            # Absolute: the version records it, and judging an adapted base reads it again.
            "data": str(Path(options["data"]).resolve()) if options["data"] else str(DEMO_DATA),
            "sets": options["sets"],
            "learning_rate": options["learning_rate"],
            "batch_size": options["batch_size"],
            "max_length": options["max_length"],
            "layer_lr_decay": options["layer_lr_decay"],
            "include_corrections": not options["no_corrections"],
            "distil_documents": options["distil_documents"],
        }
        for name in ("epochs", "adversarial_eps"):
            if options[name] is not None:
                params[name] = options[name]
        if options["base_model"] != "auto":
            params["base_model"] = options["base_model"]
        if options["unlabelled"]:
            params["unlabelled"] = list(options["unlabelled"])
        if options["unlabelled_corpus"]:
            params["unlabelled_corpora"] = list(options["unlabelled_corpus"])
        if options["teacher_base"]:
            params["teacher_base"] = options["teacher_base"]
        if options["max_steps"]:
            params["max_steps"] = options["max_steps"]
        if options["ensemble"] > 1:
            params["ensemble"] = options["ensemble"]
        last_step = {"n": -1}

        def progress(event: dict[str, Any]) -> None:
            if event.get("phase") != "step":
                return
            step, total = event["step"], event["total_steps"]
            if step == total or step - last_step["n"] >= max(1, total // 20):
                last_step["n"] = step
                self.stdout.write(
                    f"  step {step}/{total} (epoch {event['epoch']}/{event['epochs']}) "
                    f"loss {event['loss']:.3f}, about {event['eta_s']}s left"
                )
                self.stdout.flush()

        try:
            version, result = version_train_and_register(
                name=MODEL_NAME,
                params=params,
                promote=not options["no_promote"],
                override=options["promote"],
                log=lambda line: self.stdout.write(line),
                progress=progress,
            )
        except (UploadError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"registered {MODEL_NAME} v{version.version}: macro-F1 "
            f"{version.metrics['macro_f1']:.4f}, accuracy {version.metrics['accuracy']:.4f}"
        )
        if result is None:
            self.stdout.write("not promoted (--no-promote)")
        elif result.promoted:
            self.stdout.write(self.style.SUCCESS(f"promoted ({result.kind}): {result.message}"))
        else:
            self.stdout.write(self.style.WARNING(f"not promoted: {result.message}"))
