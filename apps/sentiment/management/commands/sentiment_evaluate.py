"""Evaluate the production sentiment model on a labelled file; last line is JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.mlops.services import model_available, model_load, registry
from apps.sentiment.training import MODEL_NAME, training_rows_load
from apps.sentiment.uploads import UploadError
from mlcore.metrics import classification_report, report_text


class Command(BaseCommand):
    help = (
        "Report per-class precision/recall/F1 and the confusion matrix of the production "
        "model on FILE; the last line is a JSON object (accuracy, macro_f1, n, ...)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", required=True, help="CSV sentence,label[,all_agree]")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = training_rows_load(options["data"])
        except UploadError as exc:
            raise CommandError(str(exc)) from exc
        if not model_available(MODEL_NAME):
            raise CommandError("no production sentiment model; run sentiment_train first")
        model = model_load(MODEL_NAME)
        version = registry().loaded_version(MODEL_NAME)
        self.stdout.write(f"evaluating {MODEL_NAME} v{version} on {len(rows)} sentences")
        predicted = [p.label for p in model.predict([r.sentence for r in rows])]
        truth = [r.label for r in rows]
        # A label the model never learnt (a two-class model on a three-class file) still counts:
        # its rows are errors, not left out of the accuracy.
        labels = [*model.labels, *sorted(set(truth) - set(model.labels))]
        report = classification_report(truth, predicted, labels)
        self.stdout.write(report_text(report))
        summary: dict[str, Any] = {
            "model_version": version,
            "n": report["n"],
            "accuracy": round(report["accuracy"], 4),
            "macro_f1": round(report["macro"]["f1"], 4),
        }
        agree = [i for i, r in enumerate(rows) if r.all_agree]
        if any(r.all_agree is not None for r in rows):
            hits = sum(predicted[i] == truth[i] for i in agree)
            summary["all_agree_n"] = len(agree)
            summary["all_agree_accuracy"] = round(hits / len(agree), 4) if agree else None
        self.stdout.write(json.dumps(summary))
