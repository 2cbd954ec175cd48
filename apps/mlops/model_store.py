"""The process's handle on the model registry folder (ML_MODEL_DIR)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from mlcore.registry import ModelRegistry


@lru_cache(maxsize=1)
def registry() -> ModelRegistry:
    return ModelRegistry(settings.ML_MODEL_DIR)
