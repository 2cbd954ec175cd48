"""Retraining the ranker through mlops."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.mlops.services import training_run_start

from ._common import MODEL_NAME


@transaction.atomic
def retrain_start(*, user: Any = None) -> Any:
    """Queue a ranker training run (the gate promotes it only if NDCG@10 does not drop)."""
    return training_run_start(model_name=MODEL_NAME, params={}, user=user)
