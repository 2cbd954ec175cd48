"""Evaluating a version on this server's own held-out data (the gate's view of imported versions).

A version trained here is judged by its evaluation on the held-out split of this server's data.
An imported version brings metrics of its own, computed elsewhere on data nobody here has seen
(or simply written into the archive), so the gate measures it again here instead: with the
kind's `evaluate` hook when it has one, else, for classifiers, on the held-out rows
(`eval.jsonl`) of the newest version trained on this server.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mlcore.metrics import classification_report
from mlcore.registry import UnknownVersion

from .kinds import ModelKind, kind_get
from .model_store import registry
from .models import ModelVersion

log = logging.getLogger(__name__)

EVAL_FILE = "eval.jsonl"


def eval_rows(path: Path, limit: int = 2000) -> list[dict[str, str]]:
    """The {"text", "label"} rows of a held-out file (at most `limit`; none if it is absent)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if isinstance(row.get("text"), str) and isinstance(row.get("label"), str):
                rows.append({"text": row["text"], "label": row["label"]})
        if len(rows) >= limit:
            break
    return rows


def held_out_rows(name: str) -> tuple[int | None, list[dict[str, str]]]:
    """The held-out rows of the newest version of `name` trained on this server, and its number.

    Imported versions are skipped: their `eval.jsonl` came inside their archive.
    """
    local = ModelVersion.objects.filter(name=name, origin="").order_by("-version")
    for version in local.values_list("version", flat=True):
        try:
            rows = eval_rows(registry().artifact_path(name, version) / EVAL_FILE)
        except UnknownVersion:
            continue
        if rows:
            return version, rows
    return None, []


def held_out_evaluate(*, kind: ModelKind, path: Path) -> dict[str, Any]:
    """Metrics of the artifact at `path` on this server's held-out data; {} if it has none."""
    if kind.evaluate is not None:
        return dict(kind.evaluate(path))
    source, rows = held_out_rows(kind.name)
    if not rows:
        return {}
    model = kind.loader(path)
    if not callable(getattr(model, "predict", None)):
        return {}
    texts = [r["text"] for r in rows]
    truth = [r["label"] for r in rows]
    predicted = [str(getattr(p, "label", p)) for p in model.predict(texts)]
    # Every label either side counts: a model with other label names scores zero on them,
    # rather than having those rows left out of the count.
    labels = sorted(set(truth) | set(getattr(model, "labels", []) or []) | set(predicted))
    report = classification_report(truth, predicted, labels)
    return {
        **report,
        "macro_f1": report["macro"]["f1"],
        "held_out": {"rows": len(rows), "from_version": source, "evaluated_here": True},
    }


def model_version_evaluate_here(*, row: ModelVersion) -> ModelVersion:
    """Store the version's evaluation on this server's held-out data as its metrics.

    A version that cannot be evaluated here gets no metrics, which the gate refuses.
    """
    try:
        metrics = held_out_evaluate(
            kind=kind_get(row.name), path=registry().artifact_path(row.name, row.version)
        )
    except Exception:
        log.exception("evaluating %s on this server's held-out data failed", row)
        metrics = {}
    row.metrics = metrics
    row.save(update_fields=["metrics"])
    return row
