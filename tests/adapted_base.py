"""An adapted base model (support-base, sentiment-base, recommender-base) in production, for the
tests of what the apps do with it: a copy of the shipped base, registered and promoted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from apps.mlops import services
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
