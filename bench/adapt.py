"""Domain adaptation and distillation: each adaptation method's effect beside the plain MiniLM
of the same run, and the distilled student beside its teacher.

    python -m bench adapt [--corpus-size N] [--adapt-steps N] [--methods a,b] [--transfer 0,2000]
                          [--recipe quick|shipped|teacher] [--seeds 42,43] [--base-model mpnet]

Per method (mlcore.adapt): adapt MiniLM (or --base-model mpnet, the distillation teacher's
model, with --recipe teacher: the teacher's recipe) on N texts of ../shared/datasets/
financial_news_unlabelled (tapt: on PhraseBank's own training sentences), then measure
- PhraseBank: fine-tune from the adapted base on our 85/15 split (bench/sentiment.py),
  held-out accuracy and macro-F1, once per seed of --seeds, each method's gain paired with the
  plain MiniLM's fine-tune of the same seed. --recipe quick: one plain pass at 8e-5;
  --recipe shipped: the product's sentiment recipe (apps/sentiment/defaults.py: 2 epochs,
  layer decay, FGM, the neighbour vote) on every training row; --recipe teacher: the shipped
  recipe with the distillation teacher's fields (TEACHER_PARAMS: 3 epochs at 5e-5, layer
  decay 0.9, no FGM), as a distilled run trains its mpnet teacher;
- banking77 intent: frozen sentence vectors, nearest label centroid (3000 training rows of
  our 90/10 split, bench/support.py): how much sentence quality the adaptation kept;
- article hit@k: banking77 held-out queries against the demo help centre's passages, dense
  retrieval with the encoder alone (the product mixes in BM25 too);
- the cosine of each text's vector to the base's, and seconds per adaptation step.
Distillation: a teacher labels the first n news texts with probabilities; a MiniLM student
fits them plus the labelled set (mlcore fit's soft targets), for each n of --transfer.
The corpus is research-only: the adapted encoders stay under var/ and are never shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from apps.sentiment.defaults import DEFAULT_PARAMS, RECIPE_FIELDS, TEACHER_PARAMS
from mlcore.adapt import METHODS, AdaptConfig, adapt, corpus_read, texts_without
from mlcore.base_models import base_model_resolve
from mlcore.text import sentences_split

from .sentiment import PHRASEBANK, phrasebank_split
from .support import BANKING77, banking77_split

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "datasets" / "financial_news_unlabelled"
HELP_CENTRE = ROOT / "apps" / "support" / "demo_data"
OUT = ROOT / "var" / "bench-adapt"
# The shipped recipe's fields a bench fine-tune takes (the rest are TrainConfig's defaults).
SHIPPED_FIELDS = (*RECIPE_FIELDS, "val_fraction")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _news(n: int, skip: int = 0) -> list[str]:
    files = [NEWS / "reuters21578_sentences.txt", NEWS / "stocknet_tweets.txt"]
    texts = corpus_read(files, limit=skip + n if n else None)
    return texts[skip:]


def _train_config(args: argparse.Namespace, seed: int) -> Any:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainConfig

    if args.recipe in ("shipped", "teacher"):
        fields = {k: DEFAULT_PARAMS[k] for k in SHIPPED_FIELDS}
        if args.recipe == "teacher":
            fields.update(TEACHER_PARAMS)
        return TrainConfig(**fields, seed=seed)
    return TrainConfig(epochs=args.epochs, learning_rate=8e-5, max_length=64, seed=seed)


def _phrasebank_rows(args: argparse.Namespace) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    train, held = phrasebank_split()
    train = train[:: max(1, len(train) // args.phrasebank_rows)][: args.phrasebank_rows]
    return train, held


def _phrasebank_finetune(
    base: str | None, args: argparse.Namespace, seed: int
) -> tuple[Any, dict[str, Any]]:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import fit

    train, held = _phrasebank_rows(args)
    started = time.monotonic()
    result = fit(
        [r["sentence"] for r in train],
        [r["label"] for r in train],
        config=_train_config(args, seed),
        base_model=base,
    )
    report = result.classifier.evaluate([r["sentence"] for r in held], [r["label"] for r in held])
    return result.classifier, {
        "seed": seed,
        "phrasebank_accuracy": round(report["accuracy"], 4),
        "phrasebank_macro_f1": round(report["macro"]["f1"], 4),
        "phrasebank_train_s": round(time.monotonic() - started, 1),
    }


def _seeds(args: argparse.Namespace) -> list[int]:
    return [int(v) for v in args.seeds.split(",") if v]


def _phrasebank_seeds(base: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """One fine-tune per seed; the first seed's figures at the top level (as one-seed runs
    recorded them), every seed's under "seeds", and their mean and standard deviation."""

    runs = [_phrasebank_finetune(base, args, seed)[1] for seed in _seeds(args)]
    out: dict[str, Any] = {k: v for k, v in runs[0].items() if k != "seed"}
    if len(runs) > 1:
        out["seeds"] = runs
        for key in ("phrasebank_accuracy", "phrasebank_macro_f1"):
            values = np.array([r[key] for r in runs])
            out[f"{key}_mean"] = round(float(values.mean()), 4)
            out[f"{key}_sd"] = round(float(values.std(ddof=1)), 4)
    return out


def _paired_gains(results: dict[str, Any], plain_key: str = "plain_minilm") -> dict[str, Any]:
    """Each method's PhraseBank gain over the plain fine-tune of the same seed (`plain_key`),
    in points."""

    plain = {r["seed"]: r for r in results[plain_key].get("seeds", [])}
    out: dict[str, Any] = {}
    for method, row in results.items():
        if method == plain_key or not plain or "seeds" not in row:
            continue
        gains = {
            key: [100 * (r[key] - plain[r["seed"]][key]) for r in row["seeds"]]
            for key in ("phrasebank_accuracy", "phrasebank_macro_f1")
        }
        out[method] = {
            f"{key}_points": {
                "mean": round(float(np.mean(v)), 2),
                "min": round(min(v), 2),
                "max": round(max(v), 2),
            }
            for key, v in gains.items()
        }
    return out


def _intent_frozen(embedder: Any, n_train: int = 1500, n_held: int = 500) -> dict[str, Any]:
    """Nearest-centroid intent accuracy over frozen sentence vectors (n_train training rows,
    spread over the split)."""
    train, held = banking77_split()
    train = train[:: max(1, len(train) // n_train)][:n_train]  # every intent, spread evenly
    held = held[:: max(1, len(held) // n_held)][:n_held]
    labels = sorted({label for _, label in train})
    x = embedder.embed([t for t, _ in train])
    y = np.array([labels.index(label) for _, label in train])
    centroids = np.stack([x[y == i].mean(axis=0) for i in range(len(labels))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    predicted = np.argmax(embedder.embed([t for t, _ in held]) @ centroids.T, axis=1)
    accuracy = float(np.mean([labels[p] == label for p, (_, label) in zip(predicted, held)]))
    return {"banking77_frozen_centroid_accuracy": round(accuracy, 4)}


def _articles() -> list[tuple[list[str], set[str]]]:
    """(passages, intents) of each demo help-centre article (the format of apps/support/demo)."""
    out = []
    for path in sorted(HELP_CENTRE.glob("help_centre_*.md")):
        for block in re.split(r"^@@ ", path.read_text(), flags=re.M)[1:]:
            header, _, body = block.partition("\n")
            intents = {i.strip() for i in header.split("|")[1].split(",") if i.strip()}
            out.append((sentences_split(body, lines=True), intents))
    return out


def _article_hits(embedder: Any, ks: tuple[int, ...] = (1, 3)) -> dict[str, Any]:
    articles = _articles()
    owner = [i for i, (passages, _) in enumerate(articles) for _ in passages]
    passages = embedder.embed([p for ps, _ in articles for p in ps])
    _, held = banking77_split()
    held = held[:: max(1, len(held) // 500)][:500]
    sims = embedder.embed([t for t, _ in held]) @ passages.T
    hits = dict.fromkeys(ks, 0)
    for row, (_, label) in zip(sims, held):
        ranked: list[int] = []
        for j in np.argsort(-row):
            if owner[j] not in ranked:
                ranked.append(owner[j])
            if len(ranked) == max(ks):
                break
        for k in ks:
            hits[k] += any(label in articles[a][1] for a in ranked[:k])
    return {f"article_hit_at_{k}": round(v / len(held), 4) for k, v in hits.items()}


def _encoder_measure(base: str | None, args: argparse.Namespace) -> dict[str, Any]:
    # heavy: the embedder loads torch
    from mlcore.embedder import Embedder

    embedder = Embedder(base, device="cpu")
    out: dict[str, Any] = {}
    if BANKING77.exists():
        out.update(_intent_frozen(embedder))
        out.update(_article_hits(embedder))
    if PHRASEBANK.exists():
        out.update(_phrasebank_seeds(base, args))
    return out


def _method_run(method: str, args: argparse.Namespace) -> dict[str, Any]:
    if method == "tapt":
        texts = [r["sentence"] for r in phrasebank_split()[0]]
    else:
        # What PhraseBank is judged on is never adapted to, whatever the corpus holds (its
        # README says PhraseBank was removed).
        held = [r["sentence"] for r in phrasebank_split()[1]] if PHRASEBANK.exists() else []
        texts = texts_without(_news(args.corpus_size), held)
    config = AdaptConfig(method=method, batch_size=16, max_steps=args.adapt_steps, held_out=300)
    started = time.monotonic()
    base = _base(args)
    out_dir = OUT / (method if base is None else f"{args.base_model}-{method}")
    result = adapt(texts, out_dir=out_dir, config=config, device="cpu", base_model=base)
    seconds = time.monotonic() - started
    row = {
        "adapt_texts": len(texts),
        "adapt_steps": result.metrics["steps"],
        "adapt_s": round(seconds, 1),
        "adapt_s_per_step_incl_load_and_eval": round(seconds / max(1, result.metrics["steps"]), 2),
        **result.metrics,
    }
    row.update(_encoder_measure(str(result.path), args))
    return row


def _base(args: argparse.Namespace) -> str | None:
    """The base model's folder (None: MiniLM, the default everywhere)."""
    return None if args.base_model == "minilm" else str(base_model_resolve(args.base_model))


def _distil(args: argparse.Namespace, teacher: Any) -> dict[str, Any]:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import fit

    train, held = _phrasebank_rows(args)
    texts = [r["sentence"] for r in train]
    labels = [r["label"] for r in train]
    out: dict[str, Any] = {}
    for n in [int(v) for v in args.transfer.split(",")]:
        extra = _news(n) if n else []
        started = time.monotonic()
        proba = teacher.predict_proba(texts + extra)
        label_names = teacher.labels
        pseudo = [label_names[int(i)] for i in np.argmax(proba[len(texts) :], axis=1)]
        labelling_s = time.monotonic() - started
        config = _train_config(args, _seeds(args)[0])
        result = fit(texts + extra, labels + pseudo, config=config, soft_targets=np.asarray(proba))
        report = result.classifier.evaluate(
            [r["sentence"] for r in held], [r["label"] for r in held]
        )
        out[f"student_transfer_{n}"] = {
            "accuracy": round(report["accuracy"], 4),
            "macro_f1": round(report["macro"]["f1"], 4),
            "teacher_labelling_s": round(labelling_s, 1),
            "train_s": round(time.monotonic() - started - labelling_s, 1),
        }
        _log(f"  transfer {n}: {out[f'student_transfer_{n}']}")
    return out


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench adapt")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--corpus-size", type=int, default=4000, help="news texts adapted on")
    parser.add_argument("--adapt-steps", type=int, default=150, help="steps per adaptation")
    parser.add_argument("--epochs", type=int, default=1, help="PhraseBank fine-tuning epochs")
    parser.add_argument(
        "--phrasebank-rows", type=int, default=100_000, help="PhraseBank training rows used"
    )
    parser.add_argument("--transfer", default="", help="transfer-set sizes, e.g. 0,2000")
    parser.add_argument(
        "--recipe",
        choices=("quick", "shipped", "teacher"),
        default="quick",
        help="PhraseBank fine-tune: quick (--epochs plain passes), the shipped sentiment recipe, "
        "or the distillation teacher's",
    )
    parser.add_argument(
        "--base-model",
        choices=("minilm", "mpnet"),
        default="minilm",
        help="the encoder adapted and fine-tuned (mpnet: the distillation teacher's model)",
    )
    parser.add_argument("--seeds", default="42", help="PhraseBank fine-tuning seeds, e.g. 42,43")
    args = parser.parse_args(argv)
    if not NEWS.exists() or not PHRASEBANK.exists():
        return {"title": "Domain adaptation", "results": {}, "notes": f"skipped: {NEWS} absent"}
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    results: dict[str, Any] = {}
    plain_key = f"plain_{args.base_model}"
    _log(f"== plain {args.base_model}")
    results[plain_key] = _encoder_measure(_base(args), args)
    _log(json.dumps(results[plain_key]))
    for method in [m for m in args.methods.split(",") if m]:
        _log(f"== {method}")
        results[method] = _method_run(method, args)
        _log(json.dumps(results[method]))
    if len(_seeds(args)) > 1:
        results["gains_over_plain_same_seed"] = _paired_gains(results, plain_key)
    if args.transfer:
        _log(f"== distillation (teacher: the plain {args.base_model} fine-tune of this run)")
        teacher, teacher_metrics = _phrasebank_finetune(_base(args), args, _seeds(args)[0])
        results["distillation"] = {"teacher": teacher_metrics, **_distil(args, teacher)}
    if args.recipe == "shipped":
        recipe = (
            "the shipped sentiment recipe (2 epochs, lr 1.5e-4, layer decay 0.8, FGM eps 1, "
            "10-neighbour vote)"
        )
    elif args.recipe == "teacher":
        recipe = f"the distillation teacher's recipe (the shipped one with {TEACHER_PARAMS})"
    else:
        recipe = f"{args.epochs} plain epoch(s) at lr 8e-5, no FGM/neighbours"
    notes = (
        f"{os.cpu_count()} cores, no GPU; base {args.base_model}; adaptation: "
        f"{args.adapt_steps} steps of 16 texts on the first {args.corpus_size} deduplicated "
        "news texts (tapt: PhraseBank train); PhraseBank: "
        f"{recipe} on at most {args.phrasebank_rows} training rows (spread), all held-out rows, "
        f"seeds {args.seeds}; banking77: frozen vectors, nearest centroid over 1500 training "
        "rows, 500 held-out rows; hit@k: the same 500 queries, dense passages only."
    )
    return {"title": "Domain adaptation and distillation", "results": results, "notes": notes}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
