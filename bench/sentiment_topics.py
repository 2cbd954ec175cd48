"""Topic tagging: keyword lists against the zero-shot topic model (embedder cosine to topic
descriptions, apps/sentiment/topic_model.py) on the project's labelled sentences
(apps/sentiment/data/topic_sentences.csv, multi-label, some with no topic).

    python -m bench sentiment_topics

Rows with an even index calibrate the threshold (the one with the best micro-F1 there); rows with
an odd index are the evaluation half, on which precision, recall and F1 are reported. The chosen
threshold is the default of SENTIMENT_TOPIC_THRESHOLD.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = (
    Path(__file__).resolve().parent.parent / "apps" / "sentiment" / "data" / "topic_sentences.csv"
)


def _django() -> None:
    if "DATA_DIR" not in os.environ:
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-topics-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: Django is configured just above
    import django

    django.setup()


def micro(gold: list[set[str]], found: list[set[str]]) -> dict[str, float]:
    tp = sum(len(g & f) for g, f in zip(gold, found, strict=True))
    fp = sum(len(f - g) for g, f in zip(gold, found, strict=True))
    fn = sum(len(g - f) for g, f in zip(gold, found, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def main(argv: list[str]) -> dict[str, Any]:
    _django()
    # setup: the apps can be imported only after django.setup()
    from apps.sentiment.text import topics_tag
    from apps.sentiment.topic_model import topic_similarities

    with DATA.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    gold = [{t for t in r["topics"].split(";") if t} for r in rows]
    texts = [r["sentence"] for r in rows]
    started = time.perf_counter()
    sims = topic_similarities(texts)
    per_text_ms = (time.perf_counter() - started) * 1000 / len(texts)
    calib = [i for i in range(len(rows)) if i % 2 == 0]
    held = [i for i in range(len(rows)) if i % 2 == 1]

    def tagged(i: int, threshold: float) -> set[str]:
        return {k for k, v in sims[i].items() if v >= threshold}

    grid = [round(0.25 + 0.01 * k, 2) for k in range(50)]
    best = max(
        grid,
        key=lambda t: (micro([gold[i] for i in calib], [tagged(i, t) for i in calib])["f1"], -t),
    )
    results: dict[str, Any] = {
        "sentences": len(rows),
        "calibration_rows": len(calib),
        "evaluation_rows": len(held),
        "threshold": best,
        "calibration_f1": micro([gold[i] for i in calib], [tagged(i, best) for i in calib])["f1"],
        "keywords_eval": micro([gold[i] for i in held], [set(topics_tag(texts[i])) for i in held]),
        "model_eval": micro([gold[i] for i in held], [tagged(i, best) for i in held]),
        "keywords_all": micro(gold, [set(topics_tag(t)) for t in texts]),
        "model_all_at_threshold": micro(gold, [tagged(i, best) for i in range(len(rows))]),
        "model_ms_per_text": round(per_text_ms, 1),
    }
    return {
        "title": "Topic tagging: keywords vs zero-shot embedder over topic descriptions",
        "results": results,
        "notes": [
            "even rows calibrate the threshold, odd rows evaluate; micro-averaged over topics",
            "the keyword lists predate this set; the topic descriptions were written just "
            "before it, by the same author, so the set is small and not independent of them",
        ],
    }
