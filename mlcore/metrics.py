"""Classification and ranking metrics in plain numpy."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

UserKey = TypeVar("UserKey", bound=Hashable)


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per-class precision/recall/F1/support, macro and weighted averages, confusion matrix."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    names = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    pos = {name: i for i, name in enumerate(names)}
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if t in pos and p in pos:
            cm[pos[t], pos[p]] += 1
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    total = support.sum()
    weights = support / total if total else np.zeros_like(support)
    present = support > 0
    return {
        "labels": names,
        "n": len(y_true),
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "macro": {
            "precision": float(precision[present].mean()) if present.any() else 0.0,
            "recall": float(recall[present].mean()) if present.any() else 0.0,
            "f1": float(f1[present].mean()) if present.any() else 0.0,
        },
        "weighted": {
            "precision": float((precision * weights).sum()),
            "recall": float((recall * weights).sum()),
            "f1": float((f1 * weights).sum()),
        },
        "confusion_matrix": cm.tolist(),
    }


def report_text(report: dict[str, Any]) -> str:
    """A readable table of a `classification_report` result."""
    names = report["labels"]
    width = max([len(n) for n in names] + [12])
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for name in names:
        row = report["per_class"][name]
        lines.append(
            f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
            f"  {row['support']:7d}"
        )
    for avg in ("macro", "weighted"):
        row = report[avg]
        lines.append(
            f"{avg + ' avg':<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}"
            f"  {row['f1']:5.3f}  {report['n']:7d}"
        )
    lines.append(f"{'accuracy':<{width}}  {report['accuracy']:.4f}  (n={report['n']})")
    if len(names) <= 12:
        lines.append("")
        lines.append("confusion matrix (rows = true, columns = predicted)")
        short = [n[:8] for n in names]
        lines.append(" " * (width + 2) + " ".join(f"{s:>8}" for s in short))
        for name, row in zip(names, report["confusion_matrix"]):
            lines.append(f"{name:<{width}}  " + " ".join(f"{v:8d}" for v in row))
    return "\n".join(lines)


def ranking_metrics(
    recommended: Mapping[UserKey, list[int]],
    relevant: Mapping[UserKey, set[int]],
    *,
    k: int = 10,
    n_items: int | None = None,
) -> dict[str, float]:
    """NDCG, precision, recall, MAP and hit rate at k over users with relevant items, plus coverage.

    MAP@k divides by min(|relevant|, k), as Microsoft Recommenders does.
    """
    ndcg = prec = rec = ap = hits = 0.0
    users = [u for u, rel in relevant.items() if rel]
    seen: set[int] = set()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for user in users:
        rel = relevant[user]
        recs = recommended.get(user, [])[:k]
        seen.update(recs)
        gains = np.array([1.0 if item in rel else 0.0 for item in recs])
        n_hit = gains.sum()
        dcg = float((gains * discounts[: len(gains)]).sum())
        idcg = float(discounts[: min(len(rel), k)].sum())
        ndcg += dcg / idcg if idcg else 0.0
        prec += n_hit / k
        rec += n_hit / len(rel)
        hits += 1.0 if n_hit else 0.0
        if n_hit:
            cum = np.cumsum(gains)
            ap += float((cum / np.arange(1, len(gains) + 1) * gains).sum()) / min(len(rel), k)
    n = max(len(users), 1)
    out: dict[str, float] = {
        f"ndcg@{k}": ndcg / n,
        f"precision@{k}": prec / n,
        f"recall@{k}": rec / n,
        f"map@{k}": ap / n,
        f"hr@{k}": hits / n,
    }
    if n_items:
        out["coverage"] = len(seen) / n_items
    return out
