"""Training's uses of the pooled sentence vectors: the head's centroid start and the neighbour
vote's memory and mix weight; then the run's final report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from ..metrics import classification_report
from .model import NeighbourMemory, TextClassifier
from .run import TrainConfig

NEIGHBOUR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def pooled_features(model: Any, tokenizer: Any, enc: Any, dev: str) -> Any:
    """(n, hidden) float32 tensor of mean-pooled encoder outputs for tokenized texts."""
    import torch

    was_training = model.training
    model.eval()
    lengths = [len(ids) for ids in enc["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    feats: Any = None
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            idx = order[start : start + 128]
            batch = tokenizer.pad(
                {
                    "input_ids": [enc["input_ids"][i] for i in idx],
                    "attention_mask": [enc["attention_mask"][i] for i in idx],
                },
                return_tensors="pt",
            ).to(dev)
            pooled = model(**batch).pooled.float().cpu()
            if feats is None:
                feats = torch.empty(len(order), pooled.shape[1])
            feats[idx] = pooled
    model.train(was_training)
    return feats.clone()  # a plain tensor, usable outside inference mode


def head_centroids_init(
    model: Any, tokenizer: Any, enc: Any, y: Any, n_labels: int, dev: str
) -> None:
    """Set the linear head to scaled unit centroids of each label's pooled base embeddings."""
    import torch

    feats = pooled_features(model, tokenizer, enc, dev)
    mean_norm = float(feats.norm(dim=1).mean())
    unit = torch.nn.functional.normalize(feats, dim=1)
    centroids = torch.zeros(n_labels, unit.shape[1])
    centroids.index_add_(0, y, unit)
    centroids = torch.nn.functional.normalize(centroids, dim=1)
    # logits ~ 10 * cosine(text, centroid): a confident but not saturated start
    with torch.no_grad():
        model.classifier.weight.copy_(centroids * (10.0 / max(mean_norm, 1e-6)))
        model.classifier.bias.zero_()


def neighbours_attach(
    classifier: TextClassifier,
    config: TrainConfig,
    enc: Any,
    y: Any,
    val_texts: Sequence[str],
    val_labels: Sequence[str],
) -> tuple[dict[str, Any], NeighbourMemory | None]:
    """Attach a neighbour memory with its mix weight picked on validation.

    Returns what was chosen, and the memory to serve once validation is over (the validation
    texts added: they were only held out to choose), or None to keep the attached one.
    """
    import torch

    feats = pooled_features(classifier.model, classifier.tokenizer, enc, classifier.device)
    memory = NeighbourMemory(
        torch.nn.functional.normalize(feats, dim=1).numpy().astype(np.float32),
        y.numpy().astype(np.int64),
        config.neighbours_k,
        config.neighbours_temperature,
        0.0,
    )
    chosen: dict[str, Any] = {"k": memory.k, "temperature": memory.temperature}
    if not val_texts:
        classifier.neighbours = replace(memory, weight=0.5)
        chosen["weight"] = 0.5
        return chosen, None
    head, pooled = classifier.head_proba(val_texts, pooled=True)
    votes = memory.proba(pooled, len(classifier.labels))
    by_weight: dict[str, float] = {}
    best_w, best_f1 = 0.0, -1.0
    for w in NEIGHBOUR_WEIGHTS:
        mixed = (1.0 - w) * head + w * votes
        preds = [classifier.labels[int(i)] for i in mixed.argmax(axis=1)]
        f1 = float(classification_report(val_labels, preds, classifier.labels)["macro"]["f1"])
        by_weight[str(w)] = round(f1, 4)
        if f1 > best_f1 + 1e-4:
            best_w, best_f1 = w, f1
    chosen["weight"] = best_w
    chosen["val_macro_f1_by_weight"] = by_weight
    if best_w == 0.0:
        classifier.neighbours = None
        return chosen, None
    classifier.neighbours = replace(memory, weight=best_w)
    label_id = {name: i for i, name in enumerate(classifier.labels)}
    val_ids = np.array([label_id[v] for v in val_labels], dtype=np.int64)
    return chosen, classifier.neighbours.extended(pooled, val_ids)


def metrics_final(
    classifier: TextClassifier,
    config: TrainConfig,
    enc: Any,
    y: Any,
    val_texts: Sequence[str],
    val_labels: Sequence[str],
    started: float,
) -> dict[str, Any]:
    """Attach the neighbour vote (if configured), then the validation report and run facts."""
    chosen, serving_memory = (
        neighbours_attach(classifier, config, enc, y, val_texts, val_labels)
        if config.neighbours_k
        else (None, None)
    )
    metrics = classifier.evaluate(val_texts, val_labels) if val_texts else {}
    if chosen is not None:
        metrics["neighbours"] = chosen
    if serving_memory is not None:
        classifier.neighbours = serving_memory
    metrics["train_config"] = asdict(config)
    metrics["train_size"] = len(enc["input_ids"])
    metrics["val_size"] = len(val_texts)
    metrics["train_seconds"] = round(time.monotonic() - started, 1)
    return metrics


def final_report_line(metrics: dict[str, Any]) -> str:
    """One log line saying what the registered held-out score measures.

    The epoch lines score the classifier head alone; the registered score includes the
    neighbour vote when it was switched on, with its weight chosen on the same held-out split,
    which can lift it (to 1.0 on templated data) above every epoch line.
    """
    f1 = float(metrics["macro"]["f1"])
    n = int(metrics.get("val_size", 0))
    line = f"held-out macro-F1 {f1:.3f}, accuracy {float(metrics['accuracy']):.3f} on {n} texts"
    chosen = metrics.get("neighbours") or {}
    weight = float(chosen.get("weight", 0.0) or 0.0)
    head_alone = (chosen.get("val_macro_f1_by_weight") or {}).get("0.0")
    if weight > 0 and head_alone is not None:
        line += (
            f" (head {float(head_alone):.3f} plus the neighbour vote at weight {weight:g}, "
            "chosen on this split, so the figure is optimistic)"
        )
    return line
