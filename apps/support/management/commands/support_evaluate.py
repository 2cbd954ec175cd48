"""Evaluate the intent model and the bot on labelled questions; choose a handoff threshold."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.support.answers import answers_judge, thresholds_table
from apps.support.intent import TrainingDataError, intents_predict, rows_from_csv
from apps.support.models import KnowledgeBase
from apps.support.selectors import TRADEOFF_THRESHOLDS, knowledge_base_get
from mlcore.metrics import classification_report


class Command(BaseCommand):
    help = (
        "Evaluate on FILE.csv (text,category): intent accuracy/macro-F1, article hit@1/@3 on the "
        "knowledge base, and answered vs handed-off rates with accuracy per threshold. The last "
        "line is one JSON object."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", required=True)
        parser.add_argument("--kb", type=int, help="knowledge base id (default: the default KB)")
        parser.add_argument("--limit", type=int, help="evaluate only the first N rows")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = rows_from_csv(options["data"])
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        if options.get("limit"):
            rows = rows[: options["limit"]]
        try:
            kb = knowledge_base_get(options.get("kb"))
        except KnowledgeBase.DoesNotExist as exc:
            raise CommandError("no knowledge base; run manage.py demo_setup first") from exc
        started = time.monotonic()
        result: dict[str, Any] = {"n": len(rows), "knowledge_base": kb.name}
        guesses = intents_predict([t for t, _ in rows])
        if guesses is None:
            self.stdout.write(
                self.style.WARNING(
                    "no intent model in production: intent metrics are 0; run support_train first"
                )
            )
            result.update({"accuracy": 0.0, "macro_f1": 0.0})
        else:
            report = classification_report([label for _, label in rows], [g.label for g in guesses])
            result.update(
                {
                    "accuracy": round(report["accuracy"], 4),
                    "macro_f1": round(report["macro"]["f1"], 4),
                }
            )
        judged = answers_judge(kb_id=kb.pk, rows=rows)
        n = len(judged) or 1
        result["article_hit_at_1"] = round(sum(j.article_hit_1 for j in judged) / n, 4)
        result["article_hit_at_3"] = round(sum(j.article_hit_3 for j in judged) / n, 4)
        table = thresholds_table(judged, TRADEOFF_THRESHOLDS)
        result["thresholds"] = table
        current = thresholds_table(judged, [kb.handoff_threshold])[0]
        result["current_threshold"] = current
        result["answered_rate"] = current["answered_rate"]
        result["handoff_rate"] = current["handoff_rate"]
        result["seconds"] = round(time.monotonic() - started, 1)

        self.stdout.write(
            f"Evaluated {len(rows)} questions against '{kb.name}' in {result['seconds']}s"
        )
        self.stdout.write(f"  intent accuracy     {result['accuracy']:.4f}")
        self.stdout.write(f"  intent macro F1     {result['macro_f1']:.4f}")
        self.stdout.write(f"  article hit@1       {result['article_hit_at_1']:.4f}")
        self.stdout.write(f"  article hit@3       {result['article_hit_at_3']:.4f}")
        self.stdout.write("  threshold  answered  handed off  accuracy of answered")
        for row in table:
            acc = "n/a" if row["answered_accuracy"] is None else f"{row['answered_accuracy']:.3f}"
            mark = "  <- current" if abs(row["threshold"] - kb.handoff_threshold) < 1e-9 else ""
            self.stdout.write(
                f"  {row['threshold']:>9.2f}  {row['answered_rate']:>8.1%}  "
                f"{row['handoff_rate']:>10.1%}  {acc:>20}{mark}"
            )
        self.stdout.write(
            f"  current threshold {kb.handoff_threshold}: answers "
            f"{current['answered_rate']:.1%}, hands off {current['handoff_rate']:.1%}"
        )
        self.stdout.write(json.dumps(result))
