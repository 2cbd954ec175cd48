"""Topic tagging: keyword lists against the zero-shot topic model (embedder cosine to topic
descriptions, apps/sentiment/topic_model.py) on the project's labelled sentences
(apps/sentiment/data/topic_sentences.csv, English, and topic_sentences_zh.csv, Chinese headlines;
multi-label, some with no topic).

    python -m bench sentiment_topics

Rows with an even index calibrate the threshold (the one with the best micro-F1 there); rows with
an odd index are the evaluation half, on which precision, recall and F1 are reported. English:
MiniLM, whose threshold is the default of SENTIMENT_TOPIC_THRESHOLD. Chinese: keywords against
the multilingual embedder (USE v3) alone and with the keywords added, as sources on it tag
Chinese texts; its threshold, chosen for the latter, is the default of
SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL. The English set is also tagged by the multilingual
embedder at that threshold (what a mixed source does to its English texts).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "apps" / "sentiment" / "data"
DATA = DATA_DIR / "topic_sentences.csv"
DATA_ZH = DATA_DIR / "topic_sentences_zh.csv"
GRID = [round(0.25 + 0.01 * k, 2) for k in range(50)]


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


def _rows(path: Path) -> tuple[list[str], list[set[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["sentence"] for r in rows], [{t for t in r["topics"].split(";") if t} for r in rows]


def _calibrate(gold: list[set[str]], tag: Callable[[int, float], set[str]]) -> float:
    """The threshold with the best micro-F1 on the even rows (the lower one on a tie)."""
    calib = range(0, len(gold), 2)

    def f1(threshold: float) -> float:
        return micro([gold[i] for i in calib], [tag(i, threshold) for i in calib])["f1"]

    return max(GRID, key=lambda t: (f1(t), -t))


def _evaluate(
    gold: list[set[str]], tag: Callable[[int, float], set[str]], threshold: float
) -> dict[str, float]:
    held = range(1, len(gold), 2)
    return micro([gold[i] for i in held], [tag(i, threshold) for i in held])


def _above(sims: list[dict[str, float]]) -> Callable[[int, float], set[str]]:
    return lambda i, threshold: {k for k, v in sims[i].items() if v >= threshold}


def _chinese(sims_en: list[dict[str, float]], gold_en: list[set[str]]) -> dict[str, Any]:
    """The Chinese set: keywords, the multilingual model alone (with and without the Chinese
    topic descriptions) and the model with the keywords (the product path)."""
    # setup: the apps can be imported only after django.setup() (main calls it)
    from apps.sentiment.text import topics_tag
    from apps.sentiment.topic_model import topic_embedder, topic_similarities

    texts, gold = _rows(DATA_ZH)
    keywords = [set(topics_tag(t)) for t in texts]
    started = time.perf_counter()
    sims = topic_similarities(texts, "multilingual")
    per_text_ms = (time.perf_counter() - started) * 1000 / len(texts)
    # The same embedder over the English descriptions only ("minilm" names no Chinese ones).
    sims_en_only = topic_similarities(texts, embed=topic_embedder("multilingual"))
    model = _above(sims)

    def product(i: int, threshold: float) -> set[str]:
        return model(i, threshold) | keywords[i]

    def words(i: int, _threshold: float) -> set[str]:
        return keywords[i]

    best = _calibrate(gold, product)
    best_model = _calibrate(gold, model)
    best_en_only = _calibrate(gold, _above(sims_en_only))
    return {
        "sentences": len(texts),
        "threshold": best,
        "keywords_eval": _evaluate(gold, words, best),
        "model_eval": _evaluate(gold, model, best_model),
        "model_threshold": best_model,
        "model_english_descriptions_only_eval": _evaluate(gold, _above(sims_en_only), best_en_only),
        "model_plus_keywords_eval": _evaluate(gold, product, best),
        "model_plus_keywords_all": micro(gold, [product(i, best) for i in range(len(texts))]),
        "keywords_all": micro(gold, keywords),
        "model_ms_per_text": round(per_text_ms, 1),
        "english_set_multilingual_eval": _evaluate(gold_en, _above(sims_en), best),
    }


def main(argv: list[str]) -> dict[str, Any]:
    _django()
    # setup: the apps can be imported only after django.setup()
    from apps.sentiment.text import topics_tag
    from apps.sentiment.topic_model import topic_similarities

    texts, gold = _rows(DATA)
    started = time.perf_counter()
    sims = topic_similarities(texts)
    per_text_ms = (time.perf_counter() - started) * 1000 / len(texts)
    calib = [i for i in range(len(texts)) if i % 2 == 0]
    held = [i for i in range(len(texts)) if i % 2 == 1]
    tagged = _above(sims)
    best = _calibrate(gold, tagged)
    results: dict[str, Any] = {
        "sentences": len(texts),
        "calibration_rows": len(calib),
        "evaluation_rows": len(held),
        "threshold": best,
        "calibration_f1": micro([gold[i] for i in calib], [tagged(i, best) for i in calib])["f1"],
        "keywords_eval": micro([gold[i] for i in held], [set(topics_tag(texts[i])) for i in held]),
        "model_eval": micro([gold[i] for i in held], [tagged(i, best) for i in held]),
        "keywords_all": micro(gold, [set(topics_tag(t)) for t in texts]),
        "model_all_at_threshold": micro(gold, [tagged(i, best) for i in range(len(texts))]),
        "model_ms_per_text": round(per_text_ms, 1),
        "chinese": _chinese(topic_similarities(texts, "multilingual"), gold),
    }
    return {
        "title": "Topic tagging: keywords vs zero-shot embedder over topic descriptions",
        "results": results,
        "notes": [
            "even rows calibrate the threshold, odd rows evaluate; micro-averaged over topics",
            "the keyword lists predate this set; the topic descriptions were written just "
            "before it, by the same author, so the set is small and not independent of them",
            "chinese: the Chinese headlines, keywords and Chinese descriptions were written by "
            "the same author in one sitting (61 rows, 30 evaluated): small and not independent",
        ],
    }
