"""An adapted base model (support-base, sentiment-base, recommender-base) in production, for the
tests of what the apps do with it: a copy of the shipped base, registered and promoted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from apps.mlops import services
from apps.mlops.adapted_bases import adapted_base_name
from apps.mlops.kinds import TrainOutcome
from apps.mlops.models import ModelVersion
from mlcore.base_models import base_model_path


def adapted_base_promoted(
    name: str,
    folder: Path,
    metrics: dict[str, Any],
    capture_on_commit: Any,
    *,
    base_model: str = "minilm",
) -> ModelVersion:
    """Register a copy of the shipped base (under `folder`) as a version of `name` adapted from
    `base_model` with `metrics`, and promote it, running the work promotion leaves for after
    the commit (`capture_on_commit`: pytest-django's `django_capture_on_commit_callbacks`)."""
    artifact = folder / f"adapted-{base_model}"
    shutil.copytree(base_model_path(), artifact)
    version = services.model_version_register(
        name=name,
        outcome=TrainOutcome(
            artifact_dir=artifact, metrics=metrics, params={"base_model": base_model}
        ),
    )
    with capture_on_commit(execute=True):
        services.model_version_promote(name=name, version=version.version)
    return version


def sentiment_base_promoted(
    capture_on_commit: Any, folder: Path, base_model: str, name: str | None = None
) -> ModelVersion:
    """A sentiment base adapted from `base_model` in production, in its model's kind (or in
    `name`), with a gain of one point."""
    return adapted_base_promoted(
        name or adapted_base_name("sentiment", base_model),
        folder,
        {"gain": 0.01, "app_metric": "macro_f1", "macro_f1": 0.71},
        capture_on_commit,
        base_model=base_model,
    )
