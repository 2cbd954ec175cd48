"""Ensembles: several fine-tuned members on the same split, served as one model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .model import TextClassifier
from .neighbours import metrics_final
from .run import ProgressEvent, TrainConfig, TrainResult, validation_split


def fit_ensemble(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    config: TrainConfig,
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    base_model: str | Path | None,
    device: str,
    progress: Callable[[ProgressEvent], None] | None,
    should_stop: Callable[[], bool] | None,
    member_fit: Callable[..., TrainResult],
) -> TrainResult:
    """`config.ensemble` members on the same split with seeds seed, seed+1, ..., served as one.

    Each member is `member_fit` (the single-model `fit`) with `ensemble=1` and no neighbour vote:
    the vote is chosen once, for the ensemble."""
    import torch

    # heavy: the heads module imports torch
    from ..heads import MeanPoolEnsemble

    if config.pooling != "mean":
        raise ValueError("ensembles need pooling='mean'")
    if val_texts is None or val_labels is None:
        texts, labels, val_texts, val_labels, _ = validation_split(texts, labels, config)
    n_members, started = config.ensemble, time.monotonic()
    results: list[TrainResult] = []
    for member in range(n_members):
        results.append(
            member_fit(
                texts,
                labels,
                config=replace(config, ensemble=1, neighbours_k=0, seed=config.seed + member),
                val_texts=val_texts,
                val_labels=val_labels,
                base_model=base_model,
                device=device,
                progress=staged_progress(progress, member, n_members, time.monotonic() - started),
                should_stop=should_stop,
            )
        )
    first = results[0].classifier
    classifier = TextClassifier(
        MeanPoolEnsemble([r.classifier.model for r in results]).eval(),
        first.tokenizer,
        first.labels,
        device=first.device,
        max_length=config.max_length,
        pooling="mean",
    )
    label_id = {name: i for i, name in enumerate(first.labels)}
    metrics = metrics_final(
        classifier,
        config,
        first.tokenizer(list(texts), truncation=True, max_length=config.max_length),
        torch.tensor([label_id[label] for label in labels]),
        val_texts,
        val_labels,
        started,
    )
    metrics["members"] = [
        {
            "seed": config.seed + i,
            "best_epoch": r.best_epoch,
            "val_macro_f1": r.metrics.get("macro", {}).get("f1"),
            "val_accuracy": r.metrics.get("accuracy"),
        }
        for i, r in enumerate(results)
    ]
    history = [{"member": i, **h} for i, r in enumerate(results) for h in r.history]
    return TrainResult(
        classifier,
        metrics,
        history,
        results[-1].best_epoch,
        any(r.stopped_early for r in results),
    )


def staged_progress(
    progress: Callable[[ProgressEvent], None] | None,
    run: int,
    total_runs: int,
    offset_s: float,
) -> Callable[[ProgressEvent], None] | None:
    """Report fine-tuning run `run` (from 0) of `total_runs` as part of the whole job (steps,
    epochs, elapsed and ETA over all runs)."""
    if progress is None:
        return None
    report = progress

    def staged(event: ProgressEvent) -> None:
        step = run * event.total_steps + event.step
        total = total_runs * event.total_steps
        elapsed = offset_s + event.elapsed_s
        report(
            replace(
                event,
                epoch=run * event.epochs + event.epoch,
                epochs=total_runs * event.epochs,
                step=step,
                total_steps=total,
                elapsed_s=elapsed,
                eta_s=elapsed / max(1, step) * (total - step),
            )
        )

    return staged
