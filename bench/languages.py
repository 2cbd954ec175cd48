"""Chinese and mixed-language numbers: article hit@1/hit@3 on the project's own Chinese and
cross-lingual question sets, embedder latency (multilingual against MiniLM, same run), and
Chinese intent and sentiment fine-tuned from the multilingual base against MiniLM.

    python -m bench languages                       # every section
    python -m bench languages --only retrieval      # retrieval,latency,finetune (comma list)

The question sets, the Chinese help centre and the Chinese training/evaluation files are the
project's own (apps/support/demo_data/zh, apps/sentiment/data/demo_sentences_zh*.csv); no
dataset folder is needed. Retrieval runs the product path (passages_retrieve: dense + BM25 fused)
on a throw-away SQLite database holding the English demo help centre and the Chinese one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.sections import sections_run
from mlcore.base_models import base_model_resolve

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "apps" / "support" / "demo_data" / "zh"
SENTIMENT = ROOT / "apps" / "sentiment" / "data"
SECTIONS = ("retrieval", "latency", "finetune")
# English demo articles on the same subject as a Chinese one: for an English question meant for
# a Chinese article (en->zh) they are left out of the ranking, so the answer exists only in
# Chinese (otherwise the English twin is the right answer, and a better one).
TWINS = {
    *("card-delivery", "lost-stolen-card", "pin-blocked", "change-pin", "exchange-rates"),
    *("passcode", "cancel-transfer", "top-up-limits", "pending-top-up", "card-payment-fees"),
    "unexpected-charges",
}


def _rows(path: Path, *columns: str) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [tuple(row[c] for c in columns) for row in csv.DictReader(fh)]


def _django() -> None:
    """Django on a throw-away SQLite database, so the bench never touches the user's data."""
    if "DATA_DIR" not in os.environ:
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-languages-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    # setup: Django is configured just above
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def retrieval_section(results: dict[str, Any], notes: list[str], args: argparse.Namespace) -> None:
    _django()
    # setup: apps load after django.setup()
    from apps.support import demo, retrieval, services
    from apps.support.models import Article, Chunk

    kb = services.knowledge_base_ensure(name="bench mixed help centre")
    for item in [*demo.articles_parse(), *demo.articles_parse("help_centre_zh.md", demo.ZH_DATA)]:
        services.article_upsert(
            kb_id=kb.pk, title=item["title"], body=item["body"], source_key=item["slug"]
        )
    slug_of = dict(Article.objects.filter(kb=kb).values_list("pk", "source_key"))
    questions = _rows(ZH / "questions.csv", "question", "slug", "set")
    table = ["| embedder | set, ranking | n | hit@1 | hit@3 |", "|---|---|---|---|---|"]
    for model in ("minilm", "multilingual"):
        services.knowledge_base_embedding_model_set(kb_id=kb.pk, model=model)
        services.knowledge_embed(kb_id=kb.pk)
        retrieval.retrieval_state_reset()
        by_set: dict[str, list[tuple[bool, bool]]] = {}
        chunk_article = dict(Chunk.objects.filter(kb=kb).values_list("pk", "article_id"))
        index = retrieval.kb_index(retrieval.CHUNK_INDEX, model)
        for question, slug, which in questions:
            skip = TWINS if which == "en->zh" else set()
            passages = retrieval.passages_retrieve(kb_id=kb.pk, query=question, k=30)
            dense = index.search(
                retrieval.query_embed(question, model), 30, allowed_ids=list(chunk_article)
            )
            for kind, articles in (
                ("fused", [p.article_id for p in passages]),
                ("dense", [chunk_article[h.id] for h in dense]),
            ):
                ranked: list[str] = []
                for article_id in articles:
                    found = slug_of[article_id]
                    if found not in ranked and found not in skip:
                        ranked.append(found)
                hit = (ranked[:1] == [slug], slug in ranked[:3])
                by_set.setdefault(f"{which} {kind}", []).append(hit)
        for which, hits in by_set.items():
            n = len(hits)
            entry = {
                "n": n,
                "hit@1": round(sum(h1 for h1, _ in hits) / n, 3),
                "hit@3": round(sum(h3 for _, h3 in hits) / n, 3),
            }
            results[f"retrieval_{model}_{which.replace(' ', '_')}"] = entry
            table.append(f"| {model} | {which} | {n} | {entry['hit@1']} | {entry['hit@3']} |")
    results["_table"] = "\n".join(table)
    notes.append(
        f"Retrieval: {len(slug_of)} articles (English demo help centre + 8 Chinese), the "
        "product path (fused: dense + BM25 on segmented words, RRF) and its dense half alone; "
        "sets zh (Chinese questions -> Chinese articles), en->zh (English questions -> Chinese "
        "articles, their English twins left out of the ranking), zh->en (Chinese questions -> "
        "English articles that have no Chinese twin)."
    )


def latency_section(results: dict[str, Any], notes: list[str], args: argparse.Namespace) -> None:
    # heavy: torch
    import torch

    from mlcore.embedder import Embedder
    from mlcore.use_embedder import MultilingualEmbedder

    torch.set_num_threads(1)
    texts = [q for q, *_ in _rows(ZH / "questions.csv", "question", "slug", "set")]
    texts += [t for t, _ in _rows(ZH / "intents_zh.csv", "text", "category")]
    texts = (texts * 4)[: args.texts]
    embedders: dict[str, Any] = {
        "minilm (all-MiniLM-L6-v2, torch)": Embedder(device="cpu"),
        "multilingual retrieval (USE v3, numpy)": MultilingualEmbedder(threads=1),
        "multilingual base (multilingual-e5-small, torch)": Embedder(
            base_model_resolve("multilingual"), device="cpu"
        ),
    }
    for name, embedder in embedders.items():
        embedder.embed(texts[:8])  # warm
        started = time.perf_counter()
        embedder.embed(texts)
        batch_s = time.perf_counter() - started
        singles = []
        for text in texts[:50]:
            t0 = time.perf_counter()
            embedder.embed([text])
            singles.append((time.perf_counter() - t0) * 1000)
        results[f"latency::{name}"] = {
            "texts_per_s": round(len(texts) / batch_s, 1),
            "one_text_ms_median": round(statistics.median(singles), 2),
            "dim": embedder.dim,
        }
    notes.append(
        f"Latency: {len(texts)} short Chinese/English questions, batch and one at a time, one "
        "thread each, the same run and machine."
    )


def _fit(
    base: str, train: list[tuple[str, str]], test: list[tuple[str, str]], *, epochs: int
) -> dict[str, Any]:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainConfig, fit
    from mlcore.metrics import classification_report

    config = TrainConfig(
        epochs=epochs,
        batch_size=16,
        learning_rate=2e-4,
        max_length=48,
        patience=epochs,
        val_fraction=0.15,
        head_init="centroids",
        head_lr_multiplier=10.0,
    )
    started = time.monotonic()
    result = fit(
        [t for t, _ in train],
        [label for _, label in train],
        config=config,
        base_model=base_model_resolve(base),
    )
    seconds = time.monotonic() - started
    predicted = [p.label for p in result.classifier.predict([t for t, _ in test])]
    report = classification_report([label for _, label in test], predicted)
    return {
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro"]["f1"], 4),
        "n_train": len(train),
        "n_test": len(test),
        "train_s": round(seconds, 1),
    }


def finetune_section(results: dict[str, Any], notes: list[str], args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    tasks = {
        "intent_zh": (
            [(t, c) for t, c in _rows(ZH / "intents_zh.csv", "text", "category")],
            [(t, c) for t, c in _rows(ZH / "intents_zh_eval.csv", "text", "category")],
        ),
        "sentiment_zh": (
            [(t, c) for t, c in _rows(SENTIMENT / "demo_sentences_zh.csv", "sentence", "label")],
            [
                (t, c)
                for t, c in _rows(SENTIMENT / "demo_sentences_zh_eval.csv", "sentence", "label")
            ],
        ),
    }
    for task, (train, test) in tasks.items():
        for base in ("multilingual", "minilm"):
            print(f"   {task} from {base}", file=sys.stderr, flush=True)
            results[f"finetune_{task}_{base}"] = _fit(base, train, test, epochs=args.epochs)
    notes.append(
        f"Fine-tuning: {args.epochs} epochs, batch 16, lr 2e-4, centroid-initialised head; the "
        "evaluation files are written apart from the training files (other phrasings; the "
        "sentiment evaluation uses headline templates the training set does not have)."
    )


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench languages")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--texts", type=int, default=256, help="texts for the latency section")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    notes: list[str] = []

    def run(name: str) -> None:
        globals()[f"{name}_section"](results, notes, args)

    sections_run(args.only, SECTIONS, run, results)
    table = results.pop("_table", "")
    return {
        "title": "Chinese and mixed-language text (issue 21)",
        "results": results,
        "notes": " ".join(notes),
        "table": table,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
