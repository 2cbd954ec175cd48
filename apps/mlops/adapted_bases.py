"""Where each app's adapted bases are: the kind of each base model's (`<app>-base` for MiniLM,
`<app>-base-<model>` for another) and the production version the app serves from.

The kinds themselves, their training and gate are apps/mlops/adaptation.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcore.base_models import BASE_MODELS
from mlcore.registry import UnknownVersion

from .kinds import kind_list
from .model_store import registry

DEFAULT_BASE_MODEL = "minilm"


def adapted_base_name(app: str, model: str = DEFAULT_BASE_MODEL) -> str:
    """The kind holding the app's bases adapted from `model`: `<app>-base` for MiniLM,
    `<app>-base-<model>` for another. Each holds one production version."""
    return f"{app}-base" if model == DEFAULT_BASE_MODEL else f"{app}-base-{model}"


def adapted_base_models(app: str) -> list[str]:
    """The base models the app adapts: those with a registered kind."""
    names = {kind.name for kind in kind_list()}
    return [model for model in BASE_MODELS if adapted_base_name(app, model) in names]


def _production(name: str) -> tuple[int, dict[str, Any]] | None:
    """The production version of `name` and its params, read once; None without one."""
    try:
        version = registry().resolve(name)
    except UnknownVersion:
        return None
    return version, registry().info(name, version).params


def production_params(name: str) -> dict[str, Any] | None:
    """The params the production version of `name` was trained with; None without one."""
    production = _production(name)
    return None if production is None else production[1]


def adapted_base_version(app: str, model: str) -> int | None:
    """The version number of the app's production adapted base of the base model `model` (a
    name of mlcore.base_models.BASE_MODELS); None without one. A version adapted from another
    model (registered under `<app>-base` before each model had a kind) never counts."""
    production = _production(adapted_base_name(app, model))
    if production is None or adapted_from(production[1]) != model:
        return None
    return production[0]


def adapted_from(params_or_metrics: dict[str, Any]) -> str:
    """The base model a version was adapted from, by its params or metrics."""
    return str(params_or_metrics.get("base_model") or DEFAULT_BASE_MODEL)


def adapted_base_path(app: str, model: str) -> Path | None:
    """The folder of the app's production adapted base when it was adapted from the base model
    `model`; None otherwise: a base adapted from another model is never served in its place."""
    version = adapted_base_version(app, model)
    return None if version is None else adapted_base_version_path(app, version, model)


def adapted_base_version_path(app: str, version: int, model: str = DEFAULT_BASE_MODEL) -> Path:
    """The encoder folder of version `version` of the app's base adapted from `model` (in
    production or not: what an index built with it needs to embed its queries)."""
    return registry().artifact_path(adapted_base_name(app, model), version)
