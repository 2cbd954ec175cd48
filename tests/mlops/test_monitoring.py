"""Serving statistics: recorded per call, persisted for every process, drift, Prometheus."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.mlops import monitoring, selectors
from apps.mlops.models import PredictionStat
from tests.mlops.factories import ModelVersionFactory, PredictionStatFactory

pytestmark = pytest.mark.django_db


def _serve(model: str, labels: list[tuple[str, float]], *, seconds: float = 0.02) -> None:
    monitoring.inference_observe(
        model=model, seconds=seconds, n_items=len(labels), predictions=labels
    )


def test_calls_are_persisted_and_summarised():
    for _ in range(9):
        _serve("m-mon", [("a", 0.95)], seconds=0.004)
    _serve("m-mon", [("b", 0.55)], seconds=0.8)
    with pytest.raises(RuntimeError), monitoring.inference_timer("m-mon", 1):
        raise RuntimeError("model crashed")

    monitoring.monitoring_flush()
    summary = selectors.monitoring_summary("m-mon", minutes=10)

    assert summary["requests"] == 11 and summary["errors"] == 1 and summary["items"] == 11
    assert 2.5 <= summary["p50_ms"] <= 5.0
    assert summary["p95_ms"] > 100
    assert {row["label"]: row["served_count"] for row in summary["labels"]} == {"a": 9, "b": 1}
    assert sum(c["count"] for c in summary["confidence"]) == 10


def test_statistics_from_other_processes_are_added_up():
    _serve("m-mon", [("a", 0.9)])
    monitoring.monitoring_flush()
    minute = PredictionStat.objects.get().minute
    PredictionStatFactory(
        name="m-mon",
        minute=minute,
        process="worker-2:99",
        requests=5,
        items=5,
        labels={"b": 5},
        latency_buckets=[0] * 14,
        confidence_buckets=[0] * 11,
    )

    summary = selectors.monitoring_summary("m-mon", minutes=10)

    assert summary["requests"] == 6
    assert {row["label"]: row["served_count"] for row in summary["labels"]} == {"a": 1, "b": 5}


def test_flushing_twice_accumulates_into_the_same_row():
    _serve("m-mon", [("a", 0.9)])
    monitoring.monitoring_flush()
    _serve("m-mon", [("a", 0.9)])
    monitoring.monitoring_flush()

    assert PredictionStat.objects.count() == 1
    assert PredictionStat.objects.get().requests == 2


def test_drift_compares_served_labels_with_training_labels():
    ModelVersionFactory(
        name="m-mon",
        version=1,
        artifact_path="/x",
        is_production=True,
        label_distribution={"a": 50, "b": 50},
    )
    for _ in range(20):
        _serve("m-mon", [("a", 0.9)])
    monitoring.monitoring_flush()

    drift = selectors.monitoring_summary("m-mon")["drift"]

    assert drift["available"] and drift["level"] == "significant"
    assert drift["tvd"] == pytest.approx(0.5)
    assert drift["psi"] > 0.25


def test_matching_distribution_is_stable():
    expected = {"a": 0.5, "b": 0.5}

    assert selectors.population_stability_index(expected, {"a": 0.52, "b": 0.48}) < 0.01
    assert selectors.total_variation_distance(expected, {"a": 0.52, "b": 0.48}) == pytest.approx(
        0.02
    )


def test_failed_flush_keeps_the_numbers_for_the_next_one(monkeypatch):
    _serve("m-mon", [("a", 0.9)])

    def broken(*_a, **_k):
        raise RuntimeError("database down")

    monkeypatch.setattr(PredictionStat.objects, "get_or_create", broken)
    with pytest.raises(RuntimeError):
        monitoring.monitoring_flush()
    monkeypatch.undo()
    monitoring.monitoring_flush()

    assert PredictionStat.objects.get().requests == 1


def test_old_minutes_fall_out_of_the_window():
    PredictionStatFactory(
        name="m-mon",
        minute=timezone.now() - timezone.timedelta(hours=3),
        process="p",
        requests=7,
    )

    assert selectors.monitoring_summary("m-mon", minutes=60)["requests"] == 0
    assert selectors.monitoring_summary("m-mon", minutes=240)["requests"] == 7


def test_prometheus_endpoint_exports_textsuite_metrics(client):
    _serve("m-prom", [("pos", 0.8)])

    body = client.get("/metrics").content.decode()

    assert 'textsuite_model_requests_total{model="m-prom"}' in body
    assert 'textsuite_model_predictions_total{label="pos",model="m-prom"}' in body
    assert "textsuite_model_latency_seconds_bucket" in body
