"""Evaluate the recommender's pipeline on MovieLens-100k against MostPopular."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.mlops import runtime
from apps.recommender.movielens import METRIC_KEYS, run, table_text


class Command(BaseCommand):
    help = (
        "Evaluate our recommender (EASE + text + ranker, as served) and MostPopular on "
        "MovieLens-100k; the last line is one JSON object with both models' metrics."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--movielens", required=True, help="folder with ml-100k.inter/.item")
        parser.add_argument("--split", choices=["random", "temporal"], default="random")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["movielens"])
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        started = time.monotonic()
        try:
            result = run(
                folder,
                protocol=options["split"],
                embed=lambda texts: runtime.texts_embed(texts),
                seed=options["seed"],
                log=self.stdout.write,
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(table_text(result))
        self.stdout.write(f"({time.monotonic() - started:.0f}s)")
        summary = {
            "dataset": "movielens-100k",
            "split": result["split"],
            "k": 10,
            "ours": {k: round(result["ours"].get(k, 0.0), 4) for k in METRIC_KEYS},
            "most_popular": {k: round(result["most_popular"].get(k, 0.0), 4) for k in METRIC_KEYS},
            "ndcg_ratio_to_most_popular": round(result["ndcg_ratio_to_most_popular"], 3),
            "l2": result["l2"],
            "recency": result["recency"],
            "ranker": "learned" if result["ranker_helped_on_validation"] else "collaborative_only",
        }
        self.stdout.write(json.dumps(summary))
