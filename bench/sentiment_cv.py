"""Choosing the sentiment fine-tuning recipe by k-fold cross-validation.

    python -m bench sentiment_cv                                   # every recipe, 5 folds x 2 seeds
    python -m bench sentiment_cv --recipes baseline,fgm1 --folds 5 --seeds 2
    python -m bench sentiment_cv --workers 12 --device cuda --budget-s 300
    python -m bench sentiment_cv --data PATH/train.csv --base-model DIR

The folds cut the *train* part of our PhraseBank split (`bench.sentiment.phrasebank_split`, seed
42): the 581 held-out rows that `python -m bench sentiment` reports on are never read here, so a
recipe can be chosen on these numbers and then confirmed once on the held-out rows. Each run
is the shipped procedure end to end (`mlcore.classifier.fit` with its own validation split,
early stopping and neighbour vote) on k-1 folds, scored on the remaining fold. Every recipe
sees the same folds and seeds, so the difference to `baseline` is paired run by run; its
standard error is the one to read.

Runs go to `--workers` processes (spawned; each takes cpus/workers torch threads) on
`--device` (a GPU is shared by all of them). With `--budget-s`, no run starts after that many
seconds: runs are queued seed by seed and fold by fold across the recipes, so a cut-off run
leaves every recipe with about the same number of runs (the count is in the results). With
`--cache FILE` (JSON lines) finished runs are kept and reused by later invocations that ask for
the same settings, fold and seed (the baseline need not be refitted for each new recipe).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from statistics import mean, stdev
from typing import Any

import numpy as np

from bench.sentiment import PHRASEBANK, phrasebank_split
from mlcore.base_models import base_model_path
from mlcore.metrics import classification_report

# Plain fine-tuning: the settings shipped before this comparison (as `bench sentiment` fits them;
# validation 10%). Each recipe is a change to it; "llrd0.8_fgm1" is what ships now.
BASE: dict[str, Any] = {
    "epochs": 2,
    "learning_rate": 8e-5,
    "batch_size": 32,
    "max_length": 64,
    "val_fraction": 0.1,
    "neighbours_k": 10,
}

RECIPES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "epochs3": {"epochs": 3},
    "lr5e-5_epochs3": {"learning_rate": 5e-5, "epochs": 3},
    "lr1.2e-4": {"learning_rate": 1.2e-4},
    "batch16_lr5e-5": {"batch_size": 16, "learning_rate": 5e-5},
    "llrd0.8_lr1.5e-4": {"layer_lr_decay": 0.8, "learning_rate": 1.5e-4},
    "llrd0.9_lr1.2e-4": {"layer_lr_decay": 0.9, "learning_rate": 1.2e-4},
    "fgm1": {"adversarial_eps": 1.0},
    "fgm3": {"adversarial_eps": 3.0},
    "fgm1_epochs3": {"adversarial_eps": 1.0, "epochs": 3},
    "head_lr10": {"head_lr_multiplier": 10.0},
    "embeddings_trained": {"freeze_word_embeddings": False},
    "max_length128": {"max_length": 128},
    "no_vote": {"neighbours_k": 0},
    "ensemble3": {"ensemble": 3},
    "llrd0.8_fgm1": {"layer_lr_decay": 0.8, "learning_rate": 1.5e-4, "adversarial_eps": 1.0},
    "llrd0.7_lr2e-4": {"layer_lr_decay": 0.7, "learning_rate": 2e-4},
}


def stratified_folds(labels: list[str], k: int, seed: int = 0) -> list[list[int]]:
    """k disjoint index lists covering every row, each with about 1/k of every label."""

    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        for j, i in enumerate(rng.permutation(by_label[label]).tolist()):
            folds[(offset + j) % k].append(i)
        offset += len(by_label[label])
    return [sorted(f) for f in folds]


def _run(job: dict[str, Any]) -> dict[str, Any]:
    """One fit on all folds but one, scored on that one (runs in a worker process)."""
    import torch

    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainConfig, fit

    torch.set_num_threads(job["threads"])
    rows, test_idx = job["rows"], set(job["fold"])
    train = [r for i, r in enumerate(rows) if i not in test_idx]
    test = [rows[i] for i in job["fold"]]
    config = replace(TrainConfig(**{**BASE, **job["overrides"]}), seed=job["seed"])
    started = time.monotonic()
    result = fit(
        [r["sentence"] for r in train],
        [r["label"] for r in train],
        config=config,
        base_model=job["base_model"],
        device=job["device"],
    )
    seconds = time.monotonic() - started
    classifier, texts, truth = (
        result.classifier,
        [r["sentence"] for r in test],
        [r["label"] for r in test],
    )
    report = classification_report(
        truth, [p.label for p in classifier.predict(texts)], classifier.labels
    )
    run: dict[str, Any] = {
        "recipe": job["recipe"],
        "fold": job["fold_no"],
        "seed": job["seed"],
        "accuracy": float(report["accuracy"]),
        "macro_f1": float(report["macro"]["f1"]),
        "best_epoch": result.best_epoch,
        "seconds": seconds,
    }
    return run


def _cache_key(job: dict[str, Any], folds: int) -> str:
    """What makes two runs the same: settings (not the recipe's name), folds, fold, seed."""
    settings = {**BASE, **job["overrides"]}
    return json.dumps([settings, folds, job["fold_no"], job["seed"]], sort_keys=True)


def _cache_read(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None or not path.exists():
        return {}
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {e["key"]: e["run"] for e in entries}


def _cache_add(path: Path | None, job: dict[str, Any], run: dict[str, Any], folds: int) -> None:
    if path is None:
        return
    with path.open("a") as fh:
        fh.write(json.dumps({"key": _cache_key(job, folds), "run": run}) + "\n")


def _summary(runs: list[dict[str, Any]], recipes: list[str]) -> dict[str, Any]:
    """Per recipe: means, and the paired difference to `baseline` (same fold and seed)."""
    base = {(r["fold"], r["seed"]): r for r in runs if r["recipe"] == "baseline"}
    out: dict[str, Any] = {}
    for name in recipes:
        mine = [r for r in runs if r["recipe"] == name]
        if not mine:
            continue
        row: dict[str, Any] = {
            "runs": len(mine),
            "accuracy": round(mean(r["accuracy"] for r in mine), 4),
            "macro_f1": round(mean(r["macro_f1"] for r in mine), 4),
            "seconds_per_fit": round(mean(r["seconds"] for r in mine), 1),
        }
        pairs = [(r, base[(r["fold"], r["seed"])]) for r in mine if (r["fold"], r["seed"]) in base]
        if name != "baseline" and len(pairs) >= 2:
            for metric in ("accuracy", "macro_f1"):
                diffs = [a[metric] - b[metric] for a, b in pairs]
                row[f"{metric}_vs_baseline"] = round(mean(diffs), 4)
                row[f"{metric}_vs_baseline_se"] = round(stdev(diffs) / len(diffs) ** 0.5, 4)
        out[name] = row
    return out


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench sentiment_cv")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma list of recipe names")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2, help="seeds 42, 43, ... per fold")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--budget-s", type=float, default=0, help="start no run after this")
    parser.add_argument("--data", type=Path, default=PHRASEBANK, help="PhraseBank train.csv")
    parser.add_argument("--base-model", default=None, help="MiniLM directory (default: package)")
    parser.add_argument("--max-steps", type=int, default=0, help="cap each fit (smoke runs)")
    parser.add_argument("--cache", type=Path, default=None, help="JSON lines of finished runs")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="fit no baseline (only the recipes' own numbers, no paired differences)",
    )
    args = parser.parse_args(argv)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    notes: list[str] = []
    if not args.data.exists():
        notes.append(f"skipped: {args.data} is absent")
        return {
            "title": "Sentiment recipes by cross-validation",
            "results": {},
            "notes": "; ".join(notes),
        }
    if "baseline" not in recipes and not args.no_baseline:
        recipes.insert(0, "baseline")

    with args.data.open(newline="", encoding="utf-8") as fh:
        all_rows = list(csv.DictReader(fh))
    train, _held_out = phrasebank_split(rows=all_rows)
    rows = [{"sentence": r["sentence"], "label": r["label"]} for r in train]
    folds = stratified_folds([r["label"] for r in rows], args.folds)
    threads = max(1, (os.cpu_count() or 2) // args.workers)
    base_model = args.base_model or str(base_model_path())
    jobs = [
        {
            "recipe": name,
            "overrides": {
                **RECIPES[name],
                **({"max_steps": args.max_steps} if args.max_steps else {}),
            },
            "fold_no": f,
            "fold": folds[f],
            "seed": 42 + s,
            "rows": rows,
            "threads": threads,
            "device": args.device,
            "base_model": base_model,
        }
        for s in range(args.seeds)
        for f in range(args.folds)
        for name in recipes
    ]
    cached = _cache_read(args.cache)
    runs = [
        {**cached[_cache_key(job, args.folds)], "recipe": job["recipe"]}
        for job in jobs
        if _cache_key(job, args.folds) in cached
    ]
    jobs_to_run = [job for job in jobs if _cache_key(job, args.folds) not in cached]
    failures: list[str] = []
    started = time.monotonic()
    pending: dict[Future[dict[str, Any]], dict[str, Any]] = {}
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        queue = list(jobs_to_run)
        while queue or pending:
            within = not args.budget_s or time.monotonic() - started < args.budget_s
            while queue and within and len(pending) < args.workers:
                job = queue.pop(0)
                pending[pool.submit(_run, job)] = job
            if not within:
                queue.clear()
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    run = future.result()
                except Exception as exc:  # a recipe that breaks is reported, the rest go on
                    failures.append(repr(exc))
                    print(f"  run failed: {exc!r}", file=sys.stderr)
                    continue
                runs.append(run)
                _cache_add(args.cache, job, run, args.folds)
                print(
                    f"  {run['recipe']} fold {run['fold']} seed {run['seed']}: acc "
                    f"{run['accuracy']:.4f} F1 {run['macro_f1']:.4f} ({run['seconds']:.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )
    summary = _summary(runs, recipes)
    ranked = sorted(summary, key=lambda n: -summary[n]["accuracy"])
    notes.append(
        f"{args.folds}-fold cross-validation over the {len(rows)} train rows of our split "
        f"(held-out rows unread), seeds 42..{41 + args.seeds}; {len(runs)} of {len(jobs)} "
        f"runs done ({len(jobs) - len(jobs_to_run)} reused from {args.cache}) in "
        f"{time.monotonic() - started:.0f} s on {args.device} with {args.workers} workers"
        + (f"; {len(failures)} failed: {failures[0]}" if failures else "")
        + f"; best by accuracy: {', '.join(ranked[:3])}"
    )
    return {
        "title": "Sentiment recipes by cross-validation",
        "results": {"recipes": summary, "folds": args.folds, "seeds": args.seeds},
        "notes": "; ".join(notes),
    }
