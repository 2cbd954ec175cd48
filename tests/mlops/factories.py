"""Rows of the model lifecycle as tests need them: training runs in any state, versions,
per-minute serving statistics."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.mlops.models import ModelVersion, PredictionStat, TrainingRun


class TrainingRunFactory(factory.django.DjangoModelFactory):
    """A queued run of the `test-lookup` kind (tests/mlops/kinds.py) unless told otherwise."""

    class Meta:
        model = TrainingRun

    model_name = "test-lookup"


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = "test-lookup"
    version = factory.Sequence(lambda n: n + 1)
    artifact_path = factory.LazyAttribute(lambda v: f"/models/{v.name}/{v.version}")


class PredictionStatFactory(factory.django.DjangoModelFactory):
    """One process's serving counts for one minute, with empty histograms."""

    class Meta:
        model = PredictionStat

    name = "test-lookup"
    minute = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))
    process = factory.Sequence(lambda n: f"worker-{n}:1")
    latency_buckets = factory.LazyFunction(lambda: [0] * 14)
    confidence_buckets = factory.LazyFunction(lambda: [0] * 11)
