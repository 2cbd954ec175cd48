"""Reads for the model lifecycle pages and API: overviews, version reports, runs, monitoring."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone

from .kinds import kind_get, kind_list
from .models import (
    ModelPolicy,
    ModelVersion,
    PredictionStat,
    PromotionEvent,
    RetrainSchedule,
    TrainingRun,
)
from .monitoring import CONFIDENCE_BOUNDS, LATENCY_BOUNDS

PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25


def model_names() -> list[str]:
    """Every model the suite knows: registered kinds plus any with stored versions."""
    names = {k.name for k in kind_list()}
    names.update(ModelVersion.objects.values_list("name", flat=True).distinct())
    return sorted(names)


def model_title(name: str) -> str:
    try:
        return kind_get(name).title
    except KeyError:
        return name


def model_overview_list() -> list[dict[str, Any]]:
    production = {v.name: v for v in ModelVersion.objects.filter(is_production=True)}
    policies = {p.name: p for p in ModelPolicy.objects.all()}
    schedules = {s.name: s for s in RetrainSchedule.objects.all()}
    rows = []
    for name in model_names():
        try:
            kind = kind_get(name)
        except KeyError:
            kind = None
        latest_run = TrainingRun.objects.filter(model_name=name).first()
        policy = policies.get(name)
        rows.append(
            {
                "name": name,
                "title": kind.title if kind else name,
                "registered": kind is not None,
                "trainable": bool(kind and kind.train),
                "main_metric": kind.main_metric if kind else "",
                "tolerance": policy.tolerance if policy else (kind.tolerance if kind else None),
                # Shown in the gate form, so saving a new tolerance keeps the recorded note.
                "policy_note": policy.note if policy else "",
                "production": production.get(name),
                "versions": ModelVersion.objects.filter(name=name).count(),
                "latest_run": latest_run,
                "schedule": schedules.get(name),
            }
        )
    return rows


def _storable(name: str) -> bool:
    """No model name holds a NUL, and PostgreSQL refuses one even in a lookup: such a name
    (from a URL or a query string) names nothing."""
    return "\x00" not in name


def model_versions(name: str) -> list[ModelVersion]:
    if not _storable(name):
        return []
    return list(ModelVersion.objects.filter(name=name).order_by("-version"))


def promotion_events(name: str, limit: int = 50) -> list[PromotionEvent]:
    if not _storable(name):
        return []
    return list(PromotionEvent.objects.filter(name=name).select_related("user")[:limit])


def training_runs(name: str | None = None, limit: int = 50) -> list[TrainingRun]:
    runs = TrainingRun.objects.select_related("started_by", "version")
    if name:
        if not _storable(name):
            return []
        runs = runs.filter(model_name=name)
    return list(runs[:limit])


def version_get(name: str, version: int) -> ModelVersion | None:
    if not _storable(name):
        return None
    return ModelVersion.objects.filter(name=name, version=version).first()


def version_report(name: str, version: int) -> dict[str, Any] | None:
    """One version's evaluation next to production's: per-class rows, matrix, curves."""
    candidate = version_get(name, version)
    if candidate is None:
        return None
    production = ModelVersion.objects.filter(name=name, is_production=True).first()
    metrics = candidate.metrics or {}
    prod_metrics = production.metrics if production else {}
    labels = list(metrics.get("labels") or (metrics.get("per_class") or {}).keys())
    per_class = []
    for label in labels:
        mine = (metrics.get("per_class") or {}).get(label, {})
        theirs = (prod_metrics.get("per_class") or {}).get(label, {})
        per_class.append(
            {
                "label": label,
                "precision": mine.get("precision"),
                "recall": mine.get("recall"),
                "f1": mine.get("f1"),
                "support": mine.get("support"),
                "production_f1": theirs.get("f1"),
            }
        )
    matrix = metrics.get("confusion_matrix") or []
    peak = max((max(row) for row in matrix if row), default=0)
    matrix_rows = [
        {
            "label": labels[i] if i < len(labels) else str(i),
            "cells": [
                {"count": c, "shade": round(c / peak, 3) if peak else 0, "diagonal": i == j}
                for j, c in enumerate(row)
            ],
        }
        for i, row in enumerate(matrix)
    ]
    run = TrainingRun.objects.filter(version=candidate).first()
    headline_keys = [candidate.main_metric, "accuracy"]
    headline: list[dict[str, Any]] = []
    for key in dict.fromkeys(k for k in headline_keys if k):
        headline.append(
            {
                "metric": key,
                "value": _number(metrics.get(key)),
                "production": _number(prod_metrics.get(key)) if production else None,
            }
        )
    for group in ("macro", "weighted"):
        if isinstance(metrics.get(group), dict):
            headline.append(
                {
                    "metric": f"{group} F1",
                    "value": _number(metrics[group].get("f1")),
                    "production": _number((prod_metrics.get(group) or {}).get("f1")),
                }
            )
    for item in headline:
        a, b = item["value"], item["production"]
        item["change"] = round(a - b, 4) if a is not None and b is not None else None
    scalars = {
        k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return {
        "version": candidate,
        "production": production,
        "labels": labels,
        "per_class": per_class,
        "matrix": matrix_rows,
        "headline": headline,
        "scalars": scalars,
        "history": (run.history if run else []) or metrics.get("history") or [],
        "run": run,
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_percent(run: TrainingRun) -> float | None:
    if run.status == TrainingRun.Status.SUCCEEDED:
        return 100.0
    progress = run.progress or {}
    total = progress.get("total_steps") or 0
    return round(100.0 * (progress.get("step") or 0) / total, 1) if total else None


def run_times(run: TrainingRun) -> dict[str, Any]:
    """When the run started and ended (ISO) and how long it ran or has run so far, in seconds;
    the page counts on from these while the run goes."""
    end = run.finished_at or (timezone.now() if run.started_at else None)
    return {
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "elapsed_s": round((end - run.started_at).total_seconds(), 1)
        if run.started_at and end
        else None,
    }


def training_run_payload(run_id: int) -> dict[str, Any] | None:
    """What the run page shows and the websocket sends first: status, progress, curves, log."""
    run = TrainingRun.objects.select_related("version").filter(pk=run_id).first()
    if run is None:
        return None
    progress = run.progress or {}
    percent = run_percent(run)
    return {
        "id": run.pk,
        "model_name": run.model_name,
        "status": run.status,
        "progress": progress,
        "percent": percent,
        "history": run.history,
        "metrics": run.metrics,
        "data_snapshot": run.data_snapshot,
        "error": run.error,
        "log": run.log[-20000:],
        "version": run.version.version if run.version else None,
        "promotion_result": run.promotion_result,
        "cancel_requested": run.cancel_requested,
        **run_times(run),
    }


def models_in_training() -> list[dict[str, Any]]:
    """Models with no production version whose first training is queued or running, each with
    its run and an estimate of when it is ready: pages say so instead of failing meanwhile."""
    runs = list(
        TrainingRun.objects.filter(
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        ).order_by("created_at", "id")
    )
    if not runs:
        return []
    served = set(
        ModelVersion.objects.filter(
            is_production=True, name__in={run.model_name for run in runs}
        ).values_list("name", flat=True)
    )
    notices: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.model_name in served or run.model_name in notices:
            continue
        eta_s = _number((run.progress or {}).get("eta_s"))
        try:
            kind = kind_get(run.model_name)
        except KeyError:
            continue
        notices[run.model_name] = {
            "name": run.model_name,
            "title": kind.title,
            "untrained": kind.untrained,
            "run_id": run.pk,
            "status": run.status,
            "percent": run_percent(run),
            # Registering and promoting follow the last step: round up, at least a minute.
            "minutes": math.ceil((eta_s + 30) / 60) if eta_s is not None else None,
        }
    return list(notices.values())


# -- monitoring ------------------------------------------------------------------------------------
def distribution(counts: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(counts.values()))
    return {k: v / total for k, v in counts.items()} if total else {}


def population_stability_index(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    """PSI between two label distributions (shares); empty labels get a small floor."""
    labels = set(expected) | set(actual)
    floor = 1e-4
    psi = 0.0
    for label in labels:
        e = max(expected.get(label, 0.0), floor)
        a = max(actual.get(label, 0.0), floor)
        psi += (a - e) * math.log(a / e)
    return psi


def total_variation_distance(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    labels = set(expected) | set(actual)
    return 0.5 * sum(abs(expected.get(k, 0.0) - actual.get(k, 0.0)) for k in labels)


def histogram_quantile(bounds: tuple[float, ...], counts: list[int], q: float) -> float | None:
    """The q-quantile of a bucketed histogram, interpolated linearly inside its bucket."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0.0
    lower = 0.0
    for i, count in enumerate(counts):
        upper = bounds[i] if i < len(bounds) else bounds[-1] * 2
        if count and seen + count >= rank:
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return lower


def _add(into: list[int], more: list[int]) -> list[int]:
    if not into:
        return list(more)
    return [a + b for a, b in zip(into, more)]


def monitoring_summary(name: str, *, minutes: int = 60) -> dict[str, Any]:
    """Serving numbers of a model over the last `minutes`, from every process, plus drift."""
    minutes = max(1, min(int(minutes), 60 * 24 * 14))
    since = timezone.now() - timedelta(minutes=minutes)
    rows = list(PredictionStat.objects.filter(name=name, minute__gte=since).order_by("minute"))
    per_minute: dict[Any, dict[str, Any]] = {}
    totals = {"requests": 0, "errors": 0, "items": 0, "latency_sum": 0.0}
    latency: list[int] = []
    confidence: list[int] = []
    labels: dict[str, int] = {}
    versions: dict[int, int] = {}
    for row in rows:
        bucket = per_minute.setdefault(
            row.minute, {"requests": 0, "errors": 0, "latency": [], "items": 0}
        )
        bucket["requests"] += row.requests
        bucket["errors"] += row.errors
        bucket["items"] += row.items
        bucket["latency"] = _add(bucket["latency"], row.latency_buckets or [])
        totals["requests"] += row.requests
        totals["errors"] += row.errors
        totals["items"] += row.items
        totals["latency_sum"] += row.latency_sum
        latency = _add(latency, row.latency_buckets or [])
        confidence = _add(confidence, row.confidence_buckets or [])
        versions[row.version] = versions.get(row.version, 0) + row.requests
        for label, count in (row.labels or {}).items():
            labels[label] = labels.get(label, 0) + count
    series = [
        {
            "minute": minute.isoformat(),
            "requests": b["requests"],
            "errors": b["errors"],
            "items": b["items"],
            "p50_ms": _ms(histogram_quantile(LATENCY_BOUNDS, b["latency"], 0.5)),
            "p95_ms": _ms(histogram_quantile(LATENCY_BOUNDS, b["latency"], 0.95)),
        }
        for minute, b in sorted(per_minute.items())
    ]
    production = ModelVersion.objects.filter(name=name, is_production=True).first()
    training = distribution(production.label_distribution if production else {})
    served = distribution(labels)
    drift: dict[str, Any] = {"available": bool(training and served)}
    if drift["available"]:
        psi = population_stability_index(training, served)
        drift.update(
            {
                "psi": round(psi, 4),
                "tvd": round(total_variation_distance(training, served), 4),
                "level": (
                    "significant"
                    if psi >= PSI_SIGNIFICANT
                    else "moderate"
                    if psi >= PSI_MODERATE
                    else "stable"
                ),
            }
        )
    label_names = sorted(set(training) | set(served))
    n_conf = sum(confidence)
    conf_edges = [0.0, *CONFIDENCE_BOUNDS]
    return {
        "name": name,
        "minutes": minutes,
        "requests": totals["requests"],
        "errors": totals["errors"],
        "error_rate": round(totals["errors"] / totals["requests"], 4) if totals["requests"] else 0,
        "items": totals["items"],
        "mean_ms": _ms(totals["latency_sum"] / totals["requests"]) if totals["requests"] else None,
        "p50_ms": _ms(histogram_quantile(LATENCY_BOUNDS, latency, 0.5)),
        "p95_ms": _ms(histogram_quantile(LATENCY_BOUNDS, latency, 0.95)),
        "series": series,
        "labels": [
            {
                "label": label,
                "served": round(served.get(label, 0.0), 4),
                "served_count": labels.get(label, 0),
                "training": round(training.get(label, 0.0), 4),
            }
            for label in label_names
        ],
        "confidence": [
            {
                "range": f"{conf_edges[i]:.2f}-{conf_edges[i + 1]:.2f}",
                "count": count,
                "share": round(count / n_conf, 4) if n_conf else 0,
            }
            for i, count in enumerate(confidence[: len(CONFIDENCE_BOUNDS)])
        ],
        "versions": {str(k): v for k, v in sorted(versions.items())},
        "production_version": production.version if production else None,
        "drift": drift,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
